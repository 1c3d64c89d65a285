#pragma once
// Start-up, liveness and shutdown reported to systemd (a unit with
// Type=notify and WatchdogSec=). Every call is a no-op when the process was
// not started by systemd (no NOTIFY_SOCKET), so the server runs the same by hand.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <string>

namespace parley {

// READY=1 with a STATUS= line: the listener accepts and storage is open.
// Returns whether a message was sent.
bool notify_ready(const std::string& status);

// STOPPING=1: the drain has begun.
bool notify_stopping();

// WATCHDOG=1: the event loop is alive.
bool notify_watchdog();

// How often WATCHDOG=1 is due: half the unit's WatchdogSec=, or zero when
// the watchdog is off for this process.
std::chrono::microseconds watchdog_interval();

// Sends WATCHDOG=1 from a timer on `ioc`, so that an event loop that stops
// turning stops the pings and systemd restarts the service. Does nothing
// when the watchdog is off. Lives as long as `ioc` runs (not thread-safe:
// built before the loop runs, destroyed after it has stopped).
class service_watchdog {
 public:
  explicit service_watchdog(boost::asio::io_context& ioc);

 private:
  void arm();

  boost::asio::steady_timer timer_;
  std::chrono::microseconds every_;
};

}  // namespace parley
