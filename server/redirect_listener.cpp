#include "server/redirect_listener.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace parley {
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

namespace {

// A redirect is one small request: a client gets this long to send its header.
constexpr auto redirect_deadline = std::chrono::seconds(10);
constexpr std::size_t max_redirect_header = 8 * 1024;
constexpr std::size_t max_host = 255;
constexpr std::size_t max_target = 4096;

bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

// The host of a Host header (RFC 9110 §7.2) without its port, or empty when it is not a plain one.
std::string host_of(std::string_view h) {
  if (h.empty() || h.size() > max_host + 8) return {};
  std::string_view host = h;
  if (h.front() == '[') {
    auto close = h.find(']');
    if (close == std::string_view::npos) return {};
    host = h.substr(0, close + 1);
    for (char c : host.substr(1, host.size() - 2))
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) return {};
    if (host.size() < 4) return {};
    auto rest = h.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return {};
  } else {
    auto colon = h.find(':');
    host = h.substr(0, colon);
    for (char c : host)
      if (!host_char(c)) return {};
  }
  if (host.empty() || host.size() > max_host) return {};
  auto port = h.substr(host.size());
  if (!port.empty()) {
    if (port.size() > 6 || port.size() < 2) return {};
    for (char c : port.substr(1))
      if (c < '0' || c > '9') return {};
  }
  return std::string(host);
}

// A target's bytes must be visible ASCII (RFC 9112 §3.2); anything else is refused.
bool target_ok(std::string_view t) {
  if (t.empty() || t.front() != '/' || t.size() > max_target) return false;
  for (char c : t)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) return false;
  return true;
}

class redirect_session : public std::enable_shared_from_this<redirect_session> {
 public:
  redirect_session(net::ip::tcp::socket&& socket, const std::string& fallback_host, unsigned short tls_port,
                   connection_limits::ticket ticket)
      : stream_(std::move(socket)), fallback_host_(fallback_host), tls_port_(tls_port), ticket_(std::move(ticket)) {}

  void run() {
    parser_.header_limit(max_redirect_header);
    stream_.expires_after(redirect_deadline);
    http::async_read_header(stream_, buffer_, parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_header(ec);
    });
  }

 private:
  void on_header(beast::error_code ec) {
    // A broken or slow request gets no answer: the connection just ends.
    if (ec) return close();
    auto& req = parser_.get();
    res_.version(11);
    res_.result(http::status::permanent_redirect);
    auto host = req[http::field::host];
    auto target = req.target();
    res_.set(http::field::location, redirect_location(std::string_view(host.data(), host.size()), fallback_host_,
                                                      tls_port_, std::string_view(target.data(), target.size())));
    res_.set(http::field::content_type, "text/plain");
    res_.keep_alive(false);
    res_.body() = "Parley is served over https.\n";
    res_.prepare_payload();
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code, std::size_t) { self->close(); });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  std::string fallback_host_;
  unsigned short tls_port_;
  connection_limits::ticket ticket_;
  beast::flat_buffer buffer_{max_redirect_header};
  http::request_parser<http::empty_body> parser_;
  http::response<http::string_body> res_;
};

}  // namespace

std::string redirect_location(std::string_view host_header, std::string_view fallback_host, unsigned short tls_port,
                              std::string_view target) {
  std::string host = host_of(host_header);
  if (host.empty()) {
    host = std::string(fallback_host);
    // An IPv6 listen address is written bracketed in a URL.
    if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  }
  std::string location = "https://" + host;
  if (tls_port != 443) location += ":" + std::to_string(tls_port);
  location += target_ok(target) ? target : std::string_view("/");
  return location;
}

redirect_listener::redirect_listener(net::io_context& ioc, listening_socket socket, std::string fallback_host,
                                     unsigned short tls_port, connection_limits& limits)
    : acceptor_(ioc), pause_timer_(ioc), fallback_host_(std::move(fallback_host)), tls_port_(tls_port), limits_(limits) {
  auto protocol = socket.protocol();
  acceptor_.assign(protocol, socket.release());
}

void redirect_listener::run() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
}

void redirect_listener::stop() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
    self->pause_timer_.cancel();
  });
}

void redirect_listener::do_accept() {
  acceptor_.async_accept([self = shared_from_this()](boost::system::error_code ec, net::ip::tcp::socket socket) {
    if (!self->acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors, say: rest a moment rather than spin.
      self->pause_timer_.expires_after(std::chrono::milliseconds(250));
      self->pause_timer_.async_wait([self](boost::system::error_code wait_ec) {
        if (!wait_ec && self->acceptor_.is_open()) self->do_accept();
      });
      return;
    }
    // Redirects count against the process's connection cap like any socket.
    if (auto ticket = self->limits_.open_connection()) {
      std::make_shared<redirect_session>(std::move(socket), self->fallback_host_, self->tls_port_, std::move(ticket))
          ->run();
    }
    self->do_accept();
  });
}

}  // namespace parley
