#include "server/service_notify.hpp"

#include <systemd/sd-daemon.h>

namespace parley {
namespace {

// sd_notify returns 0 without NOTIFY_SOCKET and < 0 on a send error; neither
// is a reason to stop serving. The environment is kept (unset_environment 0):
// the watchdog pings need NOTIFY_SOCKET for the whole life of the process.
bool send(const std::string& state) { return ::sd_notify(0, state.c_str()) > 0; }

}  // namespace

bool notify_ready(const std::string& status) { return send("READY=1\nSTATUS=" + status); }

bool notify_stopping() { return send("STOPPING=1\nSTATUS=draining"); }

bool notify_watchdog() { return send("WATCHDOG=1"); }

std::chrono::microseconds watchdog_interval() {
  std::uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is this process.
  if (::sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::chrono::microseconds{0};
  return std::chrono::microseconds{usec / 2};
}

service_watchdog::service_watchdog(boost::asio::io_context& ioc) : timer_(ioc), every_(watchdog_interval()) {
  if (every_.count() > 0) arm();
}

void service_watchdog::arm() {
  notify_watchdog();
  timer_.expires_after(every_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) arm();
  });
}

}  // namespace parley
