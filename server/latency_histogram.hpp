#pragma once
// A Prometheus histogram of durations with fixed buckets (1 ms to 10 s):
// observed from any thread with relaxed atomics, rendered as the
// `_bucket{le=…}`, `_sum` and `_count` series of one family.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <ostream>

namespace parley {

class latency_histogram {
 public:
  static constexpr std::array<double, 13> bounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                 0.25,  0.5,    1,     2.5,  5,    10};

  void observe(std::chrono::steady_clock::duration took);
  // Since `started`, until now.
  void observe_since(std::chrono::steady_clock::time_point started) {
    observe(std::chrono::steady_clock::now() - started);
  }

  void render(std::ostream& out, const char* name, const char* help) const;

 private:
  // counts_[i]: observations in (bounds[i-1], bounds[i]]; the last one above every bound.
  std::array<std::atomic<std::uint64_t>, bounds.size() + 1> counts_{};
  std::atomic<std::uint64_t> sum_us_{0};
};

}  // namespace parley
