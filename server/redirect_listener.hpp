#pragma once
// --redirect-listen: a plain HTTP listener that answers every request with
// 308 to the same target on https://. It reads only a bounded request header
// within a short deadline, never a body, and closes after its answer.
#include "server/connection_limits.hpp"
#include "server/listening_socket.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace parley {

// The Location of the redirect: https://HOST:TLS_PORT/TARGET. HOST is the
// Host header's host (port dropped) when it is a plain host name, IPv4 or
// bracketed IPv6 address of reasonable length; otherwise `fallback_host`.
// A target that is not origin-form ("/...") becomes "/". Nothing a client
// sends can add a header: every byte kept is checked.
std::string redirect_location(std::string_view host_header, std::string_view fallback_host, unsigned short tls_port,
                              std::string_view target);

class redirect_listener : public std::enable_shared_from_this<redirect_listener> {
 public:
  // Accepts on `socket` (bound and listening) from run() on.
  redirect_listener(boost::asio::io_context& ioc, listening_socket socket, std::string fallback_host,
                    unsigned short tls_port, connection_limits& limits);
  void run();
  void stop();
  boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

 private:
  void do_accept();

  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer pause_timer_;
  std::string fallback_host_;
  unsigned short tls_port_;
  connection_limits& limits_;
};

}  // namespace parley
