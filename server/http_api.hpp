#pragma once
// The HTTP side of the port (protocol §7): the API, health, metrics, the web client.
#include "server/hub.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <functional>

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

// A JSON error response with the protocol's status for `e`.
http_response http_error_response(const error& e, unsigned version, bool keep_alive);

}  // namespace parley
