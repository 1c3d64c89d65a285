// ws_session's side of the wire (RFC 6455 through protocol/websocket): the
// upgrade's answer, reading whole frames from the socket, the flush of what
// is queued, control frames, the close handshake and the per-second sweep.
// What a frame asks for is handled in ws_session.cpp.
#include "server/ws_session.hpp"

#include "storage/log.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/http/field.hpp>

namespace parley {
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

namespace {

bool wants_subprotocol(const http::request<http::string_body>& req) {
  auto offered = req[http::field::sec_websocket_protocol];
  std::size_t pos = 0;
  while (pos <= offered.size()) {
    auto comma = offered.find(',', pos);
    auto item = offered.substr(pos, comma == beast::string_view::npos ? beast::string_view::npos : comma - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == "parley.v1") return true;
    if (comma == beast::string_view::npos) break;
    pos = comma + 1;
  }
  return false;
}

// A non-blocking read or send that found nothing to read or no room.
bool would_block(const boost::system::error_code& ec) {
  return ec == net::error::would_block || ec == net::error::try_again;
}

}  // namespace

void ws_session::run(const http::request<http::string_body>& req) {
  hub_.stats().ws_connections.fetch_add(1, std::memory_order_relaxed);
  bump(hub_.stats().ws_connections_total);
  beast::error_code ec;
  socket_.non_blocking(true, ec);
  socket_.set_option(net::ip::tcp::no_delay(true), ec);
  // The answer to the upgrade is the first thing written.
  control_ = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
             websocket::accept_key(req[http::field::sec_websocket_key]) + "\r\nServer: " + hub_.cfg().server_header +
             "\r\n";
  if (wants_subprotocol(req)) control_ += "Sec-WebSocket-Protocol: parley.v1\r\n";
  control_ += "\r\n";
  worker_.members.emplace(this, weak_from_this());
  hello_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(hub_.cfg().hello_timeout_s);
  flush();
  reading_ = true;
  read_available();
}

std::size_t ws_session::read_some(net::mutable_buffer buf, beast::error_code& ec) {
  return tls_ ? tls_read_some(buf, ec) : socket_.read_some(buf, ec);
}

std::size_t ws_session::tls_read_some(net::mutable_buffer buf, beast::error_code& ec) {
  // Ciphertext is read a record at a time: OpenSSL never holds more than one
  // unread record of a session that stopped reading.
  thread_local std::array<char, tls_session::record_room> record;
  for (;;) {
    std::size_t n = 0;
    auto st = tls_->read(static_cast<char*>(buf.data()), buf.size(), n);
    // What reading made OpenSSL say (an alert, a key update) goes out as the socket takes it.
    if (!tls_->output_empty()) {
      beast::error_code ignored;
      tls_send_output(ignored);
    }
    if (st == tls_session::status::done) return n;
    if (st == tls_session::status::closed) {
      ec = net::error::eof;
      return 0;
    }
    if (st == tls_session::status::failed) {
      ec = net::error::connection_aborted;
      return 0;
    }
    std::size_t got = socket_.read_some(net::buffer(record), ec);
    if (ec) return 0;
    tls_->feed(record.data(), got);
  }
}

bool ws_session::tls_send_output(beast::error_code& ec) {
  auto& out = tls_->output();
  while (!out.empty()) {
    std::size_t n = socket_.write_some(net::buffer(out), ec);
    if (ec) return false;
    out.erase(0, n);
  }
  // An idle connection keeps no large buffer of its own.
  if (out.capacity() > 16 * 1024) std::string().swap(out);
  return true;
}

template <class Buffers>
std::size_t ws_session::write_some(const Buffers& buffers, beast::error_code& ec) {
  if (!tls_) return socket_.write_some(buffers, ec);
  // The plaintext taken is reported only once its ciphertext is all sent:
  // after would_block the caller comes back with the same bytes, and the
  // queue's bound holds (at most one write's ciphertext waits in tls_).
  if (tls_plain_pending_ == 0 && tls_->output_empty()) {
    auto encrypted = tls_->write_some(buffers);
    if (!encrypted) {
      ec = net::error::connection_aborted;
      return 0;
    }
    tls_plain_pending_ = *encrypted;
  }
  if (!tls_send_output(ec)) return 0;
  return std::exchange(tls_plain_pending_, 0);
}

void ws_session::shutdown_send() {
  beast::error_code ignored;
  if (tls_) {
    tls_->close_notify();
    tls_send_output(ignored);
  }
  socket_.shutdown(net::ip::tcp::socket::shutdown_send, ignored);
}

void ws_session::read_available() {
  // Per turn at most this much is read, so that one busy client cannot hold its worker.
  constexpr std::size_t read_per_turn = 256 * 1024;
  // The worker's buffer: a read that holds whole frames needs no memory of the session's own.
  thread_local std::array<char, 64 * 1024> chunk;
  reading_ = false;
  if (closed_ || read_paused_) return;
  // Frames left unread when reading paused come first.
  if (!unread_.empty()) {
    handle_unread();
    if (closed_ || read_paused_) return;
  }
  std::size_t turn = 0;
  while (turn < read_per_turn) {
    beast::error_code ec;
    std::size_t n = read_some(net::buffer(chunk), ec);
    if (would_block(ec)) {
      // Nothing more for now: wait until the socket is readable.
      if (unread_.empty()) std::string().swap(unread_);
      reading_ = true;
      socket_.async_wait(net::ip::tcp::socket::wait_read, [self = shared_from_this()](beast::error_code wait_ec) {
        self->reading_ = false;
        if (wait_ec) return self->on_closed();
        self->read_available();
      });
      return;
    }
    if (ec) return on_closed();  // the end of the stream, or a reset
    turn += n;
    last_heard_ = std::chrono::steady_clock::now();
    pinged_ = false;
    if (unread_.empty()) {
      auto used = handle_bytes(chunk.data(), n);
      if (used < n && !closed_) unread_.assign(chunk.data() + used, n - used);
    } else {
      // Part of a frame is kept: what came joins it (the copy holds only the bytes that came).
      unread_.append(chunk.data(), n);
      handle_unread();
    }
    if (closed_ || read_paused_) return;
  }
  // More may be waiting: the rest of the worker's handlers go first.
  reading_ = true;
  net::post(worker_.ioc, [self = shared_from_this()] { self->read_available(); });
}

void ws_session::handle_unread() { unread_.erase(0, handle_bytes(unread_.data(), unread_.size())); }

std::size_t ws_session::handle_bytes(char* data, std::size_t size) {
  std::size_t taken = 0;
  while (!closed_) {
    // After the peer's close (or its broken frame) what it sends is dropped.
    if (peer_closed_) return size;
    if (read_paused_) return taken;
    std::size_t used = 0;
    auto e = reader_.next(data + taken, size - taken, used);
    taken += used;
    using kind = websocket::frame_event::kind;
    switch (e.what) {
      case kind::need_more: return taken;
      case kind::message:
        if (closing_) break;  // after our close frame, only the peer's close matters
        if (!e.text) {
          close(close_policy, "binary frames are not accepted");
        } else {
          handle_frame(e.payload);
          if (reading_should_pause()) read_paused_ = true;
        }
        break;
      case kind::ping: send_control(websocket::opcode::pong, e.payload); break;
      case kind::pong: break;
      case kind::close:
      case kind::fail: on_peer_close(e); break;
    }
  }
  return taken;
}

void ws_session::flush_soon(bool reply) {
  if (flush_pending_ || waiting_writable_ || closed_) return;
  flush_pending_ = true;
  worker_.flush_later(shared_from_this(), reply);
}

void ws_session::send_control(websocket::opcode op, std::string_view payload) {
  // A peer that pings and never reads gets no more than a few pongs queued.
  constexpr std::size_t max_control_bytes = 1024;
  if (closing_ || control_.size() > max_control_bytes) return;
  control_ += websocket::control_frame(op, payload);
  flush_soon();
}

void ws_session::flush() {
  flush_pending_ = false;
  if (closed_ || waiting_writable_) return;
  while (wire_busy_ || next_write()) {
    std::array<net::const_buffer, 2> wire{net::buffer(wire_head_), wire_body_};
    auto rest = beast::buffers_suffix<std::array<net::const_buffer, 2>>(wire);
    rest.consume(wire_sent_);
    beast::error_code ec;
    auto n = write_some(rest, ec);
    if (would_block(ec)) {
      // The peer is not reading as fast: wait for room, within the write deadline.
      if (write_deadline_ == std::chrono::steady_clock::time_point::max())
        write_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(hub_.cfg().write_timeout_s);
      waiting_writable_ = true;
      socket_.async_wait(net::ip::tcp::socket::wait_write, [self = shared_from_this()](beast::error_code wait_ec) {
        self->waiting_writable_ = false;
        if (wait_ec) return self->abort();
        self->flush();
      });
      return;
    }
    if (ec) return abort();  // the read side sees the reset too
    wire_sent_ += n;
    if (wire_sent_ == wire_head_.size() + wire_body_.size()) write_done();
  }
}

bool ws_session::next_write() {
  wire_sent_ = 0;
  wire_body_ = {};
  wire_is_batch_ = wire_is_close_ = false;
  if (!control_.empty()) {
    wire_head_ = std::move(control_);
    control_ = std::string();
  } else if (!outbound_.empty()) {
    wire_body_ = outbound_.next_write();
    std::uint8_t header[websocket::max_header];
    auto n = websocket::frame_header(websocket::opcode::text, wire_body_.size(), header);
    wire_head_.assign(reinterpret_cast<const char*>(header), n);
    wire_is_batch_ = true;
  } else if (!close_frame_.empty() && !close_sent_) {
    wire_head_.swap(close_frame_);
    wire_is_close_ = true;
  } else {
    return false;
  }
  wire_busy_ = true;
  return true;
}

void ws_session::write_done() {
  wire_busy_ = false;
  // The upgrade's answer and control frames may have grown it past a header's size.
  if (wire_head_.capacity() > 2 * websocket::max_header) std::string().swap(wire_head_);
  // A write that ends is progress: the deadline starts again with the next one that waits.
  write_deadline_ = std::chrono::steady_clock::time_point::max();
  if (wire_is_batch_) {
    bump(hub_.stats().frames_sent);
    outbound_.written();
    resume_reading_if_paused();
  }
  if (wire_is_close_) {
    close_sent_ = true;
    // Our close is out: nothing more is sent. The peer answers with its
    // close and the end of its stream, read (and dropped) by the read side
    // until then, within the close deadline.
    shutdown_send();
    close_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(peer_closed_ ? 2 : 10);
  }
}

void ws_session::sweep(std::chrono::steady_clock::time_point now, std::int64_t wall_ms) {
  if (closed_) return;
  const auto idle = std::chrono::seconds(hub_.cfg().idle_timeout_s);
  if (now >= write_deadline_) {
    bump(hub_.stats().write_timeouts);
    abort();
  } else if (now >= close_deadline_ || now - last_heard_ >= idle) {
    abort();
  } else if (now >= hello_deadline_) {
    hello_deadline_ = std::chrono::steady_clock::time_point::max();
    close(close_auth, "no hello in time");
  } else if (token_expired(wall_ms)) {
    close(close_auth, "token expired");
  } else if (!pinged_ && now - last_heard_ >= idle / 2) {
    // Quiet for half the idle timeout: a ping asks the peer for a sign of life.
    pinged_ = true;
    send_control(websocket::opcode::ping, {});
  }
}

// 30 s of grace past `exp`, for clocks a little apart.
bool ws_session::token_expired(std::int64_t wall_ms) const { return claims_ && claims_->exp + 30 <= wall_ms / 1000; }

void ws_session::close(std::uint16_t code, std::string_view reason) {
  if (closing_ || closed_) return;
  closing_ = true;
  if (code == close_slow_consumer || code == close_auth || code == close_policy) {
    if (code != close_slow_consumer) bump(hub_.stats().policy_closes);
    log_event(log_level::warn, "ws_closed",
              {{"code", std::to_string(code)}, {"ip", remote_address_}, {"user", claims_ ? claims_->who.id : ""},
               {"reason", std::string(reason)}});
  }
  // A closing member gets nothing more: it leaves its channels now, not when
  // the TCP connection ends. Posted, since close() may run inside a fan-out
  // over the very registry that leaving changes.
  net::post(worker_.ioc, [self = shared_from_this()] { self->leave_all_channels(); });
  // What is queued goes before the close frame (the reply that says why, the
  // rest of a drain), except for a queue that overflowed.
  if (code == close_slow_consumer) outbound_.drop_unsent();
  close_frame_ = websocket::close_frame(code, reason);
  flush_soon();
}

void ws_session::on_peer_close(const websocket::frame_event& e) {
  if (peer_closed_) return;
  peer_closed_ = true;
  const bool failed = e.what == websocket::frame_event::kind::fail;
  if (failed) {
    log_event(log_level::warn, "ws_closed",
              {{"code", std::to_string(e.code)}, {"ip", remote_address_}, {"reason", std::string(e.payload)}});
  }
  if (close_sent_) return abort();  // the answer to ours: the connection is done
  if (closing_) return;             // ours is on its way
  // The peer's close is answered with its code (none when it gave none); a
  // broken frame with the code that says why.
  closing_ = true;
  net::post(worker_.ioc, [self = shared_from_this()] { self->leave_all_channels(); });
  outbound_.drop_unsent();
  if (e.code == websocket::close_code::no_status)
    close_frame_ = websocket::control_frame(websocket::opcode::close, {});
  else
    close_frame_ = websocket::close_frame(e.code, failed ? e.payload : std::string_view{});
  flush_soon();
}

void ws_session::abort() {
  if (closed_) return;
  beast::error_code ignored;
  socket_.shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  on_closed();
}

}  // namespace parley
