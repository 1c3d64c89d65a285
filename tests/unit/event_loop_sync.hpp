#pragma once
// Runs work on the Redis engine's event loop from a test's thread and waits
// for it: what lives on the loop is touched on the loop only.
#include "storage/redis_connection.hpp"

#include <future>

namespace parley::testing {

template <class F>
void on_loop(event_loop& loop, F fn) {
  std::promise<void> done;
  loop.post([&] {
    fn();
    done.set_value();
  });
  done.get_future().wait();
}

}  // namespace parley::testing
