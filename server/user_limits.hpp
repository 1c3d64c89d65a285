#pragma once
// Per-user rate limits (protocol §9.10): one token bucket per user and op
// class, shared by every connection and HTTP request of that user on this
// instance, so that opening more connections buys no more rate.
//
// Thread-safe: sessions on every worker and HTTP handlers call it. Users are
// spread over shards, each with its own mutex. An entry whose buckets are all
// full again is forgotten (a new one would start full too), so memory follows
// the users active in the last few seconds, not every user ever seen.
#include "protocol/token_bucket.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace parley {

// What an op counts against. `availability`: the op of that name and
// PUT /api/v1/users/me/availability (protocol §9.3), one bucket.
enum class op_class : std::size_t { post, read, typing, availability, channel, http };
inline constexpr std::size_t op_class_count = 6;

struct rate_limit {
  double rate = 1;   // tokens per second
  double burst = 1;  // bucket size
};

struct user_limit_rates {
  std::array<rate_limit, op_class_count> of{};
  const rate_limit& operator[](op_class c) const { return of[static_cast<std::size_t>(c)]; }
  rate_limit& operator[](op_class c) { return of[static_cast<std::size_t>(c)]; }
};

class user_limits {
 public:
  explicit user_limits(const user_limit_rates& rates);

  // Takes a token of `user_id`'s bucket for `c` at `now_ms`. When there is
  // none: false, and `retry_after_ms` (if given) says when one will be there.
  bool take(std::string_view user_id, op_class c, std::int64_t now_ms, std::int64_t* retry_after_ms = nullptr);

  // Users with an entry (for tests and metrics).
  std::size_t size() const;

  const rate_limit& limit(op_class c) const { return rates_[c]; }

 private:
  struct entry {
    std::array<token_bucket, op_class_count> buckets;
  };
  struct shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, entry> users;
    std::int64_t last_sweep_ms = 0;
  };
  static constexpr std::size_t shard_count = 16;
  // How often a shard looks for entries to forget.
  static constexpr std::int64_t sweep_interval_ms = 1000;

  entry make_entry() const;
  void sweep(shard& s, std::int64_t now_ms);

  user_limit_rates rates_;
  std::array<shard, shard_count> shards_;
};

}  // namespace parley
