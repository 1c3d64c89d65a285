#pragma once
// Accepts TCP connections and spreads them over the worker threads.
#include "server/hub.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <memory>

namespace parley {

class listener : public std::enable_shared_from_this<listener> {
 public:
  // Binds and listens; throws std::system_error at start-up when it cannot.
  listener(hub& h, boost::asio::io_context& ioc, const boost::asio::ip::tcp::endpoint& endpoint);
  void run();
  void stop();
  boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

 private:
  void do_accept();
  void on_accept(worker& w, boost::system::error_code ec, boost::asio::ip::tcp::socket socket);

  hub& hub_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace parley
