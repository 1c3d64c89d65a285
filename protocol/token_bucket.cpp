#include "protocol/token_bucket.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

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

namespace {
// The tokens a bucket would hold at `now_ms`, without taking any.
double tokens_at(double tokens, double rate, double burst, std::int64_t last_ms, std::int64_t now_ms) {
  if (last_ms < 0 || now_ms <= last_ms) return last_ms < 0 ? burst : tokens;
  return std::min(burst, tokens + static_cast<double>(now_ms - last_ms) / 1000.0 * rate);
}
}  // namespace

std::int64_t token_bucket::ms_until_token(std::int64_t now_ms) const {
  double have = tokens_at(tokens_, rate_, burst_, last_ms_, now_ms);
  if (have >= 1.0 - 1e-9) return 0;
  if (rate_ <= 0 || burst_ < 1.0) return INT64_MAX / 2;
  return static_cast<std::int64_t>(std::ceil((1.0 - have) / rate_ * 1000.0));
}

bool token_bucket::full_at(std::int64_t now_ms) const {
  return tokens_at(tokens_, rate_, burst_, last_ms_, now_ms) >= burst_ - 1e-9;
}

}  // namespace parley
