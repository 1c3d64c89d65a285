#pragma once
// The stream http_session reads and writes: plain TCP, or TLS over it through
// a tls_session. Plain calls go straight to beast::tcp_stream; TLS ones are
// small composed operations over the same tcp_stream, so its deadlines
// (expires_after) bound the handshake and every TLS read and write too.
// Half duplex, like http_session: a read and a write never overlap.
#include "server/tls_session.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <memory>
#include <vector>

namespace parley {

// A TLS failure (handshake refused, bad record): the connection ends.
const boost::system::error_category& tls_category();

class transport_stream {
 public:
  using executor_type = boost::beast::tcp_stream::executor_type;

  transport_stream(boost::asio::ip::tcp::socket&& socket, std::unique_ptr<tls_session> tls)
      : tcp_(std::move(socket)), tls_(std::move(tls)) {}

  executor_type get_executor() { return tcp_.get_executor(); }
  boost::asio::ip::tcp::socket& socket() { return tcp_.socket(); }
  template <class Duration>
  void expires_after(Duration d) { tcp_.expires_after(d); }
  void expires_at(std::chrono::steady_clock::time_point t) { tcp_.expires_at(t); }
  void expires_never() { tcp_.expires_never(); }
  tls_session* tls() { return tls_.get(); }
  boost::asio::ip::tcp::socket release_socket() { return tcp_.release_socket(); }
  std::unique_ptr<tls_session> release_tls() { return std::move(tls_); }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          if (!tls_) return tcp_.async_read_some(b, std::move(handler));
          boost::asio::async_compose<decltype(handler), void(boost::system::error_code, std::size_t)>(
              read_op<MutableBuffers>{*this, b}, handler, tcp_);
        },
        token, buffers);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          if (!tls_) return tcp_.async_write_some(b, std::move(handler));
          boost::asio::async_compose<decltype(handler), void(boost::system::error_code, std::size_t)>(
              write_op<ConstBuffers>{*this, b}, handler, tcp_);
        },
        token, buffers);
  }

  // The server's side of the handshake (TLS only).
  template <class Token>
  auto async_handshake(Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code)>(handshake_op{*this}, token, tcp_);
  }

 private:
  boost::system::error_code tls_failure() const;
  // Ciphertext read from the peer: fed to OpenSSL.
  void take_input(std::size_t n) { tls_->feed(input_.data(), n); }
  boost::asio::mutable_buffer input_buffer() {
    input_.resize(tls_session::record_room);
    return boost::asio::buffer(input_);
  }

  template <class Buffers>
  struct read_op {
    transport_stream& s;
    Buffers buffers;
    enum { start, running, flushed, received } step = start;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t n = 0) {
      namespace net = boost::asio;
      if (step == start) {
        // Never completes inside the initiating call.
        step = running;
        auto ex = s.tcp_.get_executor();
        return net::post(ex, std::move(self));
      }
      if (ec) return self.complete(ec, std::size_t{0});
      if (step == flushed) s.tls_->output().erase(0, n);
      if (step == received) s.take_input(n);
      auto first = net::buffer_sequence_begin(buffers);
      for (auto it = first; it != net::buffer_sequence_end(buffers); ++it) {
        net::mutable_buffer b = *it;
        if (b.size() == 0) continue;
        std::size_t got = 0;
        auto st = s.tls_->read(static_cast<char*>(b.data()), b.size(), got);
        if (st == tls_session::status::done) return self.complete(boost::system::error_code{}, got);
        if (st == tls_session::status::closed) return self.complete(boost::system::error_code(net::error::eof), std::size_t{0});
        if (st == tls_session::status::failed) return self.complete(s.tls_failure(), std::size_t{0});
        // Wants more: what OpenSSL has to say goes first (an alert, a key update).
        if (!s.tls_->output().empty()) {
          step = flushed;
          return net::async_write(s.tcp_, net::buffer(s.tls_->output()), std::move(self));
        }
        step = received;
        return s.tcp_.async_read_some(s.input_buffer(), std::move(self));
      }
      self.complete(boost::system::error_code{}, std::size_t{0});
    }
  };

  template <class Buffers>
  struct write_op {
    transport_stream& s;
    Buffers buffers;
    std::size_t taken = 0;
    bool started = false;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t n = 0) {
      namespace net = boost::asio;
      if (started) {
        s.tls_->output().erase(0, n);
        return self.complete(ec, ec ? std::size_t{0} : taken);
      }
      started = true;
      auto encrypted = s.tls_->write_some(buffers);
      if (!encrypted) {
        auto failure = s.tls_failure();
        auto ex = s.tcp_.get_executor();
        return net::post(ex, [self = std::move(self), failure]() mutable { self.complete(failure, std::size_t{0}); });
      }
      taken = *encrypted;
      net::async_write(s.tcp_, net::buffer(s.tls_->output()), std::move(self));
    }
  };

  struct handshake_op {
    transport_stream& s;
    enum { running, flushed, received } step = running;
    bool failed = false;
    bool finished = false;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t n = 0) {
      namespace net = boost::asio;
      if (ec) return self.complete(ec);
      if (step == flushed) s.tls_->output().erase(0, n);
      if (step == received) s.take_input(n);
      if (finished) return self.complete(failed ? s.tls_failure() : boost::system::error_code{});
      auto st = s.tls_->handshake();
      if (st == tls_session::status::closed) st = tls_session::status::failed;
      if (st != tls_session::status::want_read) finished = true;
      failed = st == tls_session::status::failed;
      // Our flight (or the alert that says why we refuse) goes out first.
      if (!s.tls_->output().empty()) {
        step = flushed;
        return net::async_write(s.tcp_, net::buffer(s.tls_->output()), std::move(self));
      }
      if (finished) {
        step = running;
        auto ex = s.tcp_.get_executor();
        return net::post(ex, [self = std::move(self)]() mutable { self(); });
      }
      step = received;
      s.tcp_.async_read_some(s.input_buffer(), std::move(self));
    }
  };

  boost::beast::tcp_stream tcp_;
  std::unique_ptr<tls_session> tls_;
  std::string input_;
};

}  // namespace parley
