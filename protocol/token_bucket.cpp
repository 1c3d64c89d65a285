#include "token_bucket.hpp"

#include <algorithm>

namespace parley {

token_bucket::token_bucket(double rate_per_second, double burst)
    : rate_(std::max(rate_per_second, 0.0)), burst_(std::max(burst, 0.0)), tokens_(burst_) {}

bool token_bucket::take(std::int64_t now_ms) {
  if (last_ms_ >= 0 && now_ms > last_ms_) {
    const double elapsed_s = static_cast<double>(now_ms - last_ms_) / 1000.0;
    tokens_ = std::min(burst_, tokens_ + elapsed_s * rate_);
  }
  // A clock that steps backwards only restarts the measurement: it neither
  // refills nor drains, and the bucket is never stuck waiting for the old time.
  last_ms_ = now_ms;
  // Refills are sums of fractions; the epsilon keeps 0.2 * 5 counting as one token.
  if (tokens_ < 1.0 - 1e-9) return false;
  tokens_ -= 1.0;
  return true;
}

}  // namespace parley
