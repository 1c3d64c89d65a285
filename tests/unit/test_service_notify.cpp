// The messages a Type=notify unit gets, read from a datagram socket standing
// in for systemd's NOTIFY_SOCKET.
#include "server/service_notify.hpp"
#include "test_processes.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <sys/un.h>

#include <cstdlib>
#include <string>
#include <vector>

using namespace parley;

namespace {

// A unix datagram socket in a temporary directory, named by NOTIFY_SOCKET
// while this lives (each test case runs in its own process under ctest).
struct notify_listener {
  testing::temp_dir dir{"parley-notify-"};
  int fd = -1;

  notify_listener() {
    auto path = (dir.path / "notify").string();
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof addr.sun_path);
    path.copy(addr.sun_path, path.size());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  }
  ~notify_listener() {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    ::close(fd);
  }

  // Every datagram received so far.
  std::vector<std::string> messages() const {
    std::vector<std::string> out;
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) >= 0;) out.emplace_back(buf, static_cast<std::size_t>(n));
    return out;
  }
};

}  // namespace

TEST_CASE("without NOTIFY_SOCKET the notifications do nothing", "[server]") {
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  CHECK_FALSE(notify_ready("listening"));
  CHECK_FALSE(notify_stopping());
  CHECK_FALSE(notify_watchdog());
  CHECK(watchdog_interval().count() == 0);
  boost::asio::io_context ioc;
  service_watchdog watchdog(ioc);
  CHECK(ioc.run_for(std::chrono::milliseconds(20)) == 0);  // no timer armed
}

TEST_CASE("ready and stopping reach the notify socket with a status line", "[server]") {
  notify_listener systemd;
  REQUIRE(notify_ready("listening on http://127.0.0.1:8080/"));
  REQUIRE(notify_stopping());
  auto got = systemd.messages();
  REQUIRE(got.size() == 2);
  CHECK(got[0] == "READY=1\nSTATUS=listening on http://127.0.0.1:8080/");
  CHECK(got[1] == "STOPPING=1\nSTATUS=draining");
}

TEST_CASE("the watchdog pings at half of WATCHDOG_USEC from the event loop", "[server]") {
  notify_listener systemd;
  ::setenv("WATCHDOG_USEC", "40000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  CHECK(watchdog_interval() == std::chrono::microseconds(20000));
  boost::asio::io_context ioc;
  service_watchdog watchdog(ioc);
  ioc.run_for(std::chrono::milliseconds(150));
  auto got = systemd.messages();
  // One at once, then every 20 ms: about eight in 150 ms; two leave room for a loaded machine.
  REQUIRE(got.size() >= 2);
  for (const auto& m : got) CHECK(m == "WATCHDOG=1");
}

TEST_CASE("a watchdog meant for another process is off in this one", "[server]") {
  notify_listener systemd;
  ::setenv("WATCHDOG_USEC", "40000", 1);
  ::setenv("WATCHDOG_PID", "1", 1);
  CHECK(watchdog_interval().count() == 0);
}
