#pragma once
// Rate limiting (protocol §8, §9.10): a rate and a burst. Pure: the caller passes the clock.
#include <cstdint>

namespace parley {

class token_bucket {
 public:
  token_bucket(double rate_per_second, double burst);
  // Takes one token if there is one at `now_ms`.
  bool take(std::int64_t now_ms);
  // Milliseconds from `now_ms` until a token is there (0: one is there now).
  // Reads only: the bucket is not changed.
  std::int64_t ms_until_token(std::int64_t now_ms) const;
  // True when the bucket is full again at `now_ms`: forgetting it then changes
  // nothing, since a new bucket starts full.
  bool full_at(std::int64_t now_ms) const;

 private:
  double rate_;
  double burst_;
  double tokens_;
  std::int64_t last_ms_ = -1;
};

}  // namespace parley
