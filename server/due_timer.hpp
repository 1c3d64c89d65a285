#pragma once
// One timer over a due_heap, for the watchers (sla_watcher, digest_watcher):
// it sleeps until the earliest due, at most a minute so that a wall-clock
// jump is noticed, then hands every key due to `fire`. Each due that changes,
// and each key done with, is also told to `mirror` (the shared due index in
// storage, due_claims.hpp), so that another instance, or this one after a
// restart, finds it there. On the io_context's thread only, like the watcher
// that owns it.
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
  using mirror_fn = std::function<void(const std::string& key, std::optional<std::int64_t> due)>;

  due_timer(boost::asio::io_context& ioc, std::function<void(const std::string& key)> fire,
            mirror_fn mirror = nullptr);

  // Sets `key`'s due (see due_heap::set) and wakes in time for it; a changed
  // due is mirrored.
  void set(const std::string& key, std::int64_t due);
  // `key` has nothing due any more: dropped here, and from the mirror.
  void clear(const std::string& key);
  // Forgets `key`'s due here only: its next set() is mirrored even when it
  // gives the same due (the shared index moved it, claiming it).
  void forget(const std::string& key) { heap_.remove(key); }
  std::optional<std::int64_t> due_of(const std::string& key) const { return heap_.due_of(key); }
  void cancel() { timer_.cancel(); }

 private:
  void arm();
  void on_timer();

  boost::asio::steady_timer timer_;
  due_heap heap_;
  std::function<void(const std::string& key)> fire_;
  mirror_fn mirror_;
};

}  // namespace parley
