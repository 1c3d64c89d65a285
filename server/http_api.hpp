#pragma once
// The HTTP side of the port (protocol §7): the API, health, metrics, the web client.
#include "server/hub.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <functional>
#include <variant>

namespace parley {

using http_request = boost::beast::http::request<boost::beast::http::string_body>;
using http_response = boost::beast::http::response<boost::beast::http::string_body>;

// Where a request came from: the client's address, and whether it reached the
// operator's listener (--admin-listen), which serves only /metrics, /healthz and /readyz.
struct http_origin {
  boost::asio::ip::address remote;
  bool admin = false;
};

// Answers `req`. `respond` is called exactly once, possibly from a storage thread.
void handle_http(hub& h, const http_request& req, const http_origin& from,
                 std::function<void(http_response)> respond);

// The Server header of every HTTP response (config::server_header). Call once
// at start, before serving.
void set_server_header(std::string value);

// The bearer's claims once its subject's HTTP bucket (protocol §9.10) gave a
// token; otherwise the response that refuses the request (401, or 429 with Retry-After).
std::variant<claims, http_response> authorize_request(hub& h, const boost::beast::http::fields& headers,
                                                      unsigned version, bool keep_alive, const http_origin& from);
// 429 with a Retry-After of `retry_ms` rounded up to whole seconds.
http_response rate_limited_response(std::string message, std::int64_t retry_ms, unsigned version, bool keep_alive);

// A JSON response (Cache-Control: no-store) with `status`.
http_response http_json_response(std::string body, unsigned version, bool keep_alive,
                                 boost::beast::http::status status);
// The Server header value every response carries.
const std::string& http_server_header();

// A JSON error response with the protocol's status for `e`.
http_response http_error_response(const error& e, unsigned version, bool keep_alive);

}  // namespace parley
