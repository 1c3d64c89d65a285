#pragma once
// Rate limiting (protocol §8: 20 posts/s with bursts of 50). Pure: the caller passes the clock.
#include <cstdint>

namespace parley {

class token_bucket {
 public:
  token_bucket(double rate_per_second, double burst);
  // Takes one token if there is one at `now_ms`.
  bool take(std::int64_t now_ms);

 private:
  double rate_;
  double burst_;
  double tokens_;
  std::int64_t last_ms_ = -1;
};

}  // namespace parley
