#pragma once
// Accepts TCP connections and spreads them over the worker threads. Sheds
// load instead of spinning: past the connection cap a new socket is closed at
// once, and when the process runs out of descriptors or memory accepting
// pauses for a moment (one log line per pause).
#include "server/hub.hpp"
#include "server/listening_socket.hpp"
#include "server/tls_context.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>

namespace parley {

// What a listener serves: everything, or only the operator's endpoints (/metrics, /healthz, /readyz).
enum class listener_role { public_port, admin_port };

class listener : public std::enable_shared_from_this<listener> {
 public:
  // Accepts on `socket` (bound and listening) from run() on. With `tls`
  // every connection starts with a TLS handshake, under the certificate
  // current when it was accepted.
  listener(hub& h, boost::asio::io_context& ioc, listening_socket socket,
           listener_role role = listener_role::public_port, const tls_credentials* tls = nullptr);
  void run();
  void stop();
  boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

 private:
  void do_accept();
  void on_accept(worker& w, boost::system::error_code ec, boost::asio::ip::tcp::socket socket);
  void pause_accepting(const boost::system::error_code& why);

  hub& hub_;
  listener_role role_;
  const tls_credentials* tls_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer pause_timer_;
};

}  // namespace parley
