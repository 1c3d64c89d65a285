#pragma once
// One HTTP connection: reads requests (headers and bodies bounded), answers
// them through handle_http, and hands WebSocket upgrades of /ws to a
// ws_session. Malformed requests get 400 and oversized headers 431, then the
// connection is closed; a request waiting on storage past its deadline gets 503.
// The header is read first: an upload's body (protocol §9.6) goes to a staged
// file (http_session_files.cpp), any other body into memory within --max-body.
#include "server/connection_limits.hpp"
#include "server/file_routes.hpp"
#include "server/http_api.hpp"
#include "server/transport_stream.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <optional>

namespace parley {

class http_session : public std::enable_shared_from_this<http_session> {
 public:
  // `admin`: the operator's listener, which serves /metrics, /healthz and /readyz only.
  // `tls`: the connection's TLS state when the port serves TLS (handshake first).
  http_session(hub& h, worker& w, boost::asio::ip::tcp::socket&& socket, connection_limits::ticket connection,
               bool admin, std::unique_ptr<tls_session> tls = nullptr);
  void run();

 private:
  void on_handshake(boost::beast::error_code ec);
  void do_read();
  void on_header(boost::beast::error_code ec, std::size_t bytes);
  // A read failure both reads share; true when it was answered or the connection closed.
  bool read_failed(boost::beast::error_code ec);
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void arm_storage_deadline(unsigned version);
  // Uploads and downloads (http_session_files.cpp).
  void start_upload();
  void read_upload();
  void on_upload_read(boost::beast::error_code ec, std::size_t bytes);
  void download(const http_request& req);
  void send_file(file_response res);
  void write_file_part(bool keep_alive);
  // After refusing an upload whose body was not read: reads and drops what
  // the client still sends, for a short while, so that it sees the answer
  // rather than a reset.
  void linger();
  void upgrade(http_request req);
  void answer(const http_request& req);
  void send(http_response res);
  void on_write(bool keep_alive, boost::beast::error_code ec, std::size_t bytes);
  // Answers with an error, its body even to a HEAD; the response is not
  // keep-alive, so the connection closes after it.
  void refuse(const error& e, unsigned version);
  void refuse(http_response res);
  void shut_down();

  hub& hub_;
  worker& worker_;
  bool admin_;
  transport_stream stream_;
  boost::asio::ip::address remote_;
  connection_limits::ticket connection_ticket_;
  connection_limits::ticket unauth_ticket_;  // empty when the address is over its cap
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::empty_body>> header_parser_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::optional<boost::beast::http::request_parser<upload_body>> upload_parser_;
  std::optional<upload_request> upload_;
  std::chrono::steady_clock::time_point upload_started_;
  std::shared_ptr<http_response> response_;
  std::shared_ptr<file_response> file_response_;
  std::shared_ptr<boost::beast::http::response_serializer<file_range_body>> file_serializer_;
  boost::asio::steady_timer storage_deadline_;
  std::uint64_t request_serial_ = 0;  // which request an answer belongs to
  bool answered_ = true;              // the current request has had its response
  bool head_ = false;                 // the current request is HEAD: no body goes out
  bool linger_on_close_ = false;      // an upload's unread body may still be arriving
  std::chrono::steady_clock::time_point linger_until_;
  std::shared_ptr<std::array<char, 16 * 1024>> linger_buffer_;
};

}  // namespace parley
