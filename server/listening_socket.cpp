#include "server/listening_socket.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <system_error>

namespace parley {
namespace {

[[noreturn]] void fail(int fd, const char* what, const boost::asio::ip::tcp::endpoint& endpoint) {
  int err = errno;
  if (fd >= 0) ::close(fd);
  std::ostringstream where;
  where << what << ' ' << endpoint;
  throw std::system_error(err, std::system_category(), where.str());
}

}  // namespace

listening_socket::listening_socket(const boost::asio::ip::tcp::endpoint& endpoint, bool reuse_port)
    : protocol_(endpoint.protocol()) {
  int fd = ::socket(protocol_.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(fd, "cannot open a socket for", endpoint);
  int on = 1;
  // SO_REUSEADDR: a restarted server binds again at once, despite connections in TIME_WAIT.
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) fail(fd, "cannot set SO_REUSEADDR on", endpoint);
  if (reuse_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
    fail(fd, "cannot set SO_REUSEPORT on", endpoint);
  if (::bind(fd, endpoint.data(), static_cast<socklen_t>(endpoint.size())) != 0) fail(fd, "cannot bind", endpoint);
  if (::listen(fd, SOMAXCONN) != 0) fail(fd, "cannot listen on", endpoint);
  fd_ = fd;
}

listening_socket::~listening_socket() {
  if (fd_ >= 0) ::close(fd_);
}

int listening_socket::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

}  // namespace parley
