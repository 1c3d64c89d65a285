#pragma once
// A TCP socket bound and listening before anything accepts on it: the port
// is taken (and known) before storage opens. With reuse_port (SO_REUSEPORT)
// another Parley process of the same user may hold the same port, so that a
// new process listens while the old one drains: a restart without a moment
// in which connections are refused.
#include <boost/asio/ip/tcp.hpp>

namespace parley {

class listening_socket {
 public:
  // Throws std::system_error naming the endpoint when it cannot bind or listen.
  listening_socket(const boost::asio::ip::tcp::endpoint& endpoint, bool reuse_port);
  ~listening_socket();
  listening_socket(listening_socket&& other) noexcept : fd_(other.fd_), protocol_(other.protocol_) { other.fd_ = -1; }
  listening_socket(const listening_socket&) = delete;
  listening_socket& operator=(const listening_socket&) = delete;
  listening_socket& operator=(listening_socket&&) = delete;

  boost::asio::ip::tcp protocol() const { return protocol_; }
  // The descriptor, now the caller's (an acceptor's).
  int release();

 private:
  int fd_ = -1;
  boost::asio::ip::tcp protocol_;
};

}  // namespace parley
