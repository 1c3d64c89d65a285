#include "server/http_session.hpp"

#include "server/ws_session.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

namespace parley {
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

namespace {
constexpr auto request_timeout = std::chrono::seconds(30);
constexpr std::size_t max_header_bytes = 16 * 1024;
}  // namespace

http_session::http_session(hub& h, worker& w, net::ip::tcp::socket&& socket)
    : hub_(h), worker_(w), stream_(std::move(socket)) {}

void http_session::run() {
  net::dispatch(stream_.get_executor(), beast::bind_front_handler(&http_session::do_read, shared_from_this()));
}

void http_session::do_read() {
  parser_.emplace();
  parser_->header_limit(max_header_bytes);
  parser_->body_limit(hub_.cfg().max_body);
  stream_.expires_after(request_timeout);
  http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&http_session::on_read, shared_from_this()));
}

void http_session::on_read(beast::error_code ec, std::size_t) {
  if (ec == http::error::body_limit) {
    auto res = http_error_response(
        make_error(errc::too_large, "request body over " + std::to_string(hub_.cfg().max_body) + " bytes"), 11, false);
    return send(std::move(res));
  }
  if (ec) {
    beast::error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    return;
  }
  auto req = parser_->release();
  if (beast::websocket::is_upgrade(req)) {
    if (req.target() != "/ws" && req.target() != "/ws/") {
      return send(http_error_response(make_error(errc::not_found, "WebSockets are served at /ws"), req.version(), false));
    }
    return std::make_shared<ws_session>(hub_, worker_, std::move(stream_))->run(std::move(req));
  }
  beast::error_code addr_ec;
  auto remote = stream_.socket().remote_endpoint(addr_ec).address();
  handle_http(hub_, req, remote, [self = shared_from_this()](http_response res) {
    // Completions may come from a storage thread: write from the session's own.
    net::post(self->stream_.get_executor(), [self, res = std::move(res)]() mutable { self->send(std::move(res)); });
  });
}

void http_session::send(http_response res) {
  bool keep_alive = res.keep_alive();
  response_ = std::make_shared<http_response>(std::move(res));
  stream_.expires_after(request_timeout);
  http::async_write(stream_, *response_,
                    beast::bind_front_handler(&http_session::on_write, shared_from_this(), keep_alive));
}

void http_session::on_write(bool keep_alive, beast::error_code ec, std::size_t) {
  response_.reset();
  if (ec) return;
  if (!keep_alive) {
    beast::error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    return;
  }
  do_read();
}

}  // namespace parley
