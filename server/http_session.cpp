#include "server/http_session.hpp"

#include "protocol/websocket.hpp"
#include "server/ws_session.hpp"
#include "storage/log.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <algorithm>

namespace parley {
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

namespace {
// A whole request (headers and body) must arrive within this: a client that
// sends a byte now and then holds nothing for long.
constexpr auto request_timeout = std::chrono::seconds(30);
constexpr std::size_t max_header_bytes = 16 * 1024;

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Browsers send Origin on every WebSocket upgrade; bots and backends usually
// do not. An Origin must be listed, or be this server's own (same Host).
// `tls`: this port serves only https, so a page of this server has an
// https:// Origin; a plain port accepts both schemes, since a proxy in front
// may terminate TLS for it.
bool origin_allowed(const config& cfg, const http_request& req, bool tls) {
  auto origin_header = req[http::field::origin];
  if (origin_header.empty()) return true;
  std::string origin(origin_header.data(), origin_header.size());
  if (!cfg.allowed_origins.empty())
    return std::find(cfg.allowed_origins.begin(), cfg.allowed_origins.end(), origin) != cfg.allowed_origins.end();
  auto host = req[http::field::host];
  if (host.empty()) return false;
  // Compared without case: scheme and host are case-insensitive (RFC 6454).
  auto lowered = lowercase(origin);
  auto own_host = lowercase(std::string_view(host.data(), host.size()));
  return lowered == "https://" + own_host || (!tls && lowered == "http://" + own_host);
}
}  // namespace

http_session::http_session(hub& h, worker& w, net::ip::tcp::socket&& socket, connection_limits::ticket connection,
                           bool admin, std::unique_ptr<tls_session> tls)
    : hub_(h),
      worker_(w),
      admin_(admin),
      stream_(std::move(socket), std::move(tls)),
      connection_ticket_(std::move(connection)),
      storage_deadline_(stream_.get_executor()) {
  beast::error_code ec;
  remote_ = stream_.socket().remote_endpoint(ec).address();
  if (!admin_) unauth_ticket_ = hub_.limits().unauthenticated(remote_.to_string());
}

void http_session::run() {
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
    if (!self->stream_.tls()) return self->do_read();
    // The handshake has the hello's deadline: a client that opens a socket
    // and says nothing (or a ClientHello a byte at a time) is closed by then.
    self->stream_.expires_after(std::chrono::seconds(self->hub_.cfg().hello_timeout_s));
    self->stream_.async_handshake(beast::bind_front_handler(&http_session::on_handshake, self));
  });
}

void http_session::on_handshake(beast::error_code ec) {
  if (ec) {
    // Counted, not logged: anyone can fail a handshake as often as they like.
    bump(hub_.stats().tls_handshake_failures);
    beast::error_code ignored;
    stream_.socket().close(ignored);
    return;
  }
  do_read();
}

void http_session::do_read() {
  header_parser_.emplace();
  header_parser_->header_limit(max_header_bytes);
  // The body's limit depends on the route: set once the header is known.
  header_parser_->body_limit(boost::none);
  stream_.expires_after(request_timeout);
  http::async_read_header(stream_, buffer_, *header_parser_,
                          beast::bind_front_handler(&http_session::on_header, shared_from_this()));
}

void http_session::on_header(beast::error_code ec, std::size_t) {
  if (read_failed(ec)) return;
  auto& header = header_parser_->get();
  // Over the address's cap of sockets that have not authenticated: refused
  // before anything else, an upgrade or an upload included.
  if (!admin_ && !unauth_ticket_ && hub_.cfg().max_unauth_per_ip) {
    bump(hub_.stats().connections_refused);
    log_event(log_level::warn, "connection_refused", {{"reason", "unauthenticated sockets per address"}, {"ip", remote_.to_string()}});
    return refuse(make_error(errc::unavailable, "too many connections from this address"), header.version());
  }
  std::string_view target(header.target().data(), header.target().size());
  if (!admin_ && header.method() == http::verb::post && upload_path(target)) return start_upload();
  auto declared = header_parser_->content_length();
  if (declared && *declared > hub_.cfg().max_body) {
    return refuse(make_error(errc::too_large, "request body over " + std::to_string(hub_.cfg().max_body) + " bytes"),
                  header.version());
  }
  parser_.emplace(std::move(*header_parser_));
  header_parser_.reset();
  parser_->body_limit(hub_.cfg().max_body);
  http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&http_session::on_read, shared_from_this()));
}

void http_session::refuse(const error& e, unsigned version) { refuse(http_error_response(e, version, false)); }

void http_session::refuse(http_response res) {
  head_ = false;
  answered_ = false;
  send(std::move(res));
}

bool http_session::read_failed(beast::error_code ec) {
  if (!ec) return false;
  if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
      ec == net::error::connection_reset || ec == net::error::eof) {
    shut_down();
    return true;
  }
  if (ec == http::error::body_limit) {
    refuse(make_error(errc::too_large, "request body over " + std::to_string(hub_.cfg().max_body) + " bytes"), 11);
    return true;
  }
  if (ec == http::error::header_limit) {
    auto res = http_error_response(make_error(errc::bad_request, "request headers over 16384 bytes"), 11, false);
    res.result(http::status::request_header_fields_too_large);
    refuse(std::move(res));
    return true;
  }
  // A request that is not HTTP/1.x: say so once, then close.
  if (ec.category() == http::make_error_code(http::error::bad_method).category()) {
    refuse(make_error(errc::bad_request, "malformed request: " + ec.message()), 11);
    return true;
  }
  shut_down();
  return true;
}

void http_session::on_read(beast::error_code ec, std::size_t) {
  if (read_failed(ec)) return;
  auto req = parser_->release();
  if (beast::websocket::is_upgrade(req) && !admin_) return upgrade(std::move(req));
  answer(req);
}

void http_session::upgrade(http_request req) {
  if (req.target() != "/ws" && req.target() != "/ws/")
    return refuse(make_error(errc::not_found, "WebSockets are served at /ws"), req.version());
  if (!origin_allowed(hub_.cfg(), req, stream_.tls() != nullptr)) {
    log_event(log_level::warn, "origin_refused", {{"ip", remote_.to_string()}, {"origin", std::string(req[http::field::origin])}});
    return refuse(make_error(errc::forbidden, "this Origin may not open WebSockets here"), req.version());
  }
  // is_upgrade() checked the method (GET), the version and the Upgrade and
  // Connection headers; RFC 6455 §4.2.1 asks for a key and version 13 too.
  if (!websocket::valid_client_key(req[http::field::sec_websocket_key]))
    return refuse(make_error(errc::bad_request, "Sec-WebSocket-Key must be the base64 of 16 bytes"), req.version());
  if (req[http::field::sec_websocket_version] != "13") {
    auto res = http_error_response(make_error(errc::bad_request, "Sec-WebSocket-Version must be 13"), req.version(), false);
    res.result(http::status::upgrade_required);
    res.set(http::field::sec_websocket_version, "13");
    return refuse(std::move(res));
  }
  stream_.expires_never();
  // Bytes the client sent right after its request were read with it.
  auto early = buffer_.cdata();
  std::string early_bytes(static_cast<const char*>(early.data()), early.size());
  auto tls = stream_.release_tls();
  std::make_shared<ws_session>(hub_, worker_, stream_.release_socket(), std::move(tls), std::move(early_bytes),
                               std::move(connection_ticket_), std::move(unauth_ticket_))
      ->run(req);
}

// Whatever storage does, the client hears back by the deadline.
void http_session::arm_storage_deadline(unsigned version) {
  answered_ = false;
  auto serial = ++request_serial_;
  storage_deadline_.expires_after(std::chrono::seconds(hub_.cfg().storage_timeout_s));
  storage_deadline_.async_wait([self = shared_from_this(), serial, version](beast::error_code ec) {
    if (ec || self->answered_ || self->request_serial_ != serial) return;
    log_event(log_level::warn, "storage_timeout", {{"ip", self->remote_.to_string()}});
    self->send(http_error_response(make_error(errc::unavailable, "storage did not answer in time"), version, false));
  });
}

void http_session::answer(const http_request& req) {
  head_ = req.method() == http::verb::head;
  std::string_view target(req.target().data(), req.target().size());
  if (!admin_ && is_download_path(target)) return download(req);
  arm_storage_deadline(req.version());
  auto serial = request_serial_;
  http_origin from{remote_, admin_};
  handle_http(hub_, req, from, [self = shared_from_this(), serial](http_response res) {
    // Completions may come from a storage thread: write from the session's own.
    net::post(self->stream_.get_executor(), [self, serial, res = std::move(res)]() mutable {
      if (self->answered_ || self->request_serial_ != serial) return;  // the deadline answered first
      self->send(std::move(res));
    });
  });
}

void http_session::send(http_response res) {
  answered_ = true;
  storage_deadline_.cancel();
  bool keep_alive = res.keep_alive();
  if (head_) {
    // HEAD: the headers GET would have, no body.
    auto length = res.body().size();
    res.body().clear();
    res.content_length(length);
  }
  response_ = std::make_shared<http_response>(std::move(res));
  stream_.expires_after(request_timeout);
  http::async_write(stream_, *response_,
                    beast::bind_front_handler(&http_session::on_write, shared_from_this(), keep_alive));
}

void http_session::on_write(bool keep_alive, beast::error_code ec, std::size_t) {
  response_.reset();
  file_response_.reset();
  if (ec) return;
  if (!keep_alive) {
    shut_down();
    if (linger_on_close_) linger();
    return;
  }
  do_read();
}

void http_session::shut_down() {
  beast::error_code ignored;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
}

}  // namespace parley
