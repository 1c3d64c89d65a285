#pragma once
// When a webhook that failed is tried again (protocol §9.8): 1 s after the
// first attempt, doubling up to 1 h apart, each delay jittered so that many
// hooks failing together do not come back together, until a budget (3 days)
// from the entry's creation runs out; then it is failed. The last retry is
// made at the end of the budget, not before it. Pure: the time and the random
// draw are passed in.
#include <cstdint>
#include <optional>

namespace parley {

struct webhook_retry_policy {
  std::int64_t first_delay_ms = 1000;
  std::int64_t max_delay_ms = 3600 * 1000;
  std::int64_t budget_ms = 3ll * 24 * 3600 * 1000;
};

// The delay after attempt `attempts` (1 for the first) failed, before jitter.
std::int64_t webhook_retry_delay(const webhook_retry_policy& policy, int attempts);

// When to try again after attempt `attempts` of an entry created at
// `created_ms` failed at `now_ms`, or nullopt when the budget is spent (the
// entry is failed). `draw` in [0, 1) picks the delay between half the
// nominal delay and all of it ("equal jitter": the backoff still doubles).
std::optional<std::int64_t> webhook_next_attempt(const webhook_retry_policy& policy, int attempts,
                                                 std::int64_t created_ms, std::int64_t now_ms, double draw);

}  // namespace parley
