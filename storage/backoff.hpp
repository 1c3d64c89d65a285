#pragma once
// The reconnect policy of the Redis connections: exponential backoff with
// jitter. Pure: no clock and no I/O, so it is tested without a server.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace parley {

struct backoff_policy {
  std::chrono::milliseconds initial{50};
  std::chrono::milliseconds max{2000};
  double multiplier = 2.0;
  // Each delay is drawn uniformly from [base * (1 - jitter), base]: instances
  // that lost Redis together do not all come back in the same millisecond.
  double jitter = 0.25;
};

class backoff {
 public:
  explicit backoff(backoff_policy policy = {}, std::uint64_t seed = std::random_device{}())
      : policy_(sanitise(policy)), random_(seed) {}

  // The delay before the next attempt. Each call grows the base by the
  // multiplier until it reaches max; the result is jittered below the base.
  std::chrono::milliseconds next() {
    double base = base_ms();
    if (attempts_ < 64) ++attempts_;
    std::uniform_real_distribution<double> spread(base * (1.0 - policy_.jitter), base);
    auto ms = static_cast<std::int64_t>(spread(random_));
    return std::chrono::milliseconds(std::max<std::int64_t>(ms, 1));
  }

  // The base of the next delay, without jitter (what next() draws below).
  double base_ms() const {
    double base = static_cast<double>(policy_.initial.count());
    const double cap = static_cast<double>(policy_.max.count());
    for (int i = 0; i < attempts_ && base < cap; ++i) base *= policy_.multiplier;
    return std::min(base, cap);
  }

  // After a successful connection: the next failure starts from `initial` again.
  void reset() { attempts_ = 0; }

  int attempts() const { return attempts_; }
  const backoff_policy& policy() const { return policy_; }

 private:
  static backoff_policy sanitise(backoff_policy p) {
    if (p.initial.count() < 1) p.initial = std::chrono::milliseconds(1);
    if (p.max < p.initial) p.max = p.initial;
    if (!(p.multiplier >= 1.0)) p.multiplier = 1.0;
    p.jitter = std::clamp(p.jitter, 0.0, 1.0);
    return p;
  }

  backoff_policy policy_;
  std::mt19937_64 random_;
  int attempts_ = 0;
};

}  // namespace parley
