#pragma once
// One HTTP connection: reads requests (bodies bounded), answers them through
// handle_http, and hands WebSocket upgrades of /ws to a ws_session.
#include "server/http_api.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>

#include <memory>
#include <optional>

namespace parley {

class http_session : public std::enable_shared_from_this<http_session> {
 public:
  http_session(hub& h, worker& w, boost::asio::ip::tcp::socket&& socket);
  void run();

 private:
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void send(http_response res);
  void on_write(bool keep_alive, boost::beast::error_code ec, std::size_t bytes);

  hub& hub_;
  worker& worker_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::shared_ptr<http_response> response_;
};

}  // namespace parley
