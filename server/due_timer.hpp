#pragma once
// One timer over a due_heap, for the watchers (sla_watcher, digest_watcher):
// it sleeps until the earliest due, at most a minute so that a wall-clock
// jump is noticed, then hands every key due to `fire`. On the io_context's
// thread only, like the watcher that owns it.
#include "server/due_heap.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace parley {

class due_timer {
 public:
  due_timer(boost::asio::io_context& ioc, std::function<void(const std::string& key)> fire);

  // Sets `key`'s due (see due_heap::set) and wakes in time for it.
  void set(const std::string& key, std::int64_t due);
  std::optional<std::int64_t> due_of(const std::string& key) const { return heap_.due_of(key); }
  void cancel() { timer_.cancel(); }

 private:
  void arm();
  void on_timer();

  boost::asio::steady_timer timer_;
  due_heap heap_;
  std::function<void(const std::string& key)> fire_;
};

}  // namespace parley
