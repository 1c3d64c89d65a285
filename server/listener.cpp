#include "server/listener.hpp"

#include "server/http_session.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>

#include <iostream>

namespace parley {
namespace net = boost::asio;

listener::listener(hub& h, net::io_context& ioc, const net::ip::tcp::endpoint& endpoint) : hub_(h), acceptor_(ioc) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
}

void listener::run() { do_accept(); }

void listener::stop() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
  });
}

void listener::do_accept() {
  // Each connection lives on one worker for its whole life.
  worker& w = hub_.next_worker();
  acceptor_.async_accept(w.ioc, [self = shared_from_this(), &w](boost::system::error_code ec,
                                                                 net::ip::tcp::socket socket) {
    self->on_accept(w, ec, std::move(socket));
  });
}

void listener::on_accept(worker& w, boost::system::error_code ec, net::ip::tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    std::cerr << "parley: accept failed: " << ec.message() << "\n";
  } else {
    boost::system::error_code ignored;
    socket.set_option(net::ip::tcp::no_delay(true), ignored);
    std::make_shared<http_session>(hub_, w, std::move(socket))->run();
  }
  do_accept();
}

}  // namespace parley
