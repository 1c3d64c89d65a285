#include "protocol/webhook_retry.hpp"

#include <algorithm>

namespace parley {

std::int64_t webhook_retry_delay(const webhook_retry_policy& policy, int attempts) {
  std::int64_t delay = std::max<std::int64_t>(1, policy.first_delay_ms);
  // Doubling stops at the cap, before it could overflow.
  for (int i = 1; i < attempts && delay < policy.max_delay_ms; ++i) delay *= 2;
  return std::min(delay, policy.max_delay_ms);
}

std::optional<std::int64_t> webhook_next_attempt(const webhook_retry_policy& policy, int attempts,
                                                 std::int64_t created_ms, std::int64_t now_ms, double draw) {
  std::int64_t deadline = created_ms + policy.budget_ms;
  if (now_ms >= deadline) return std::nullopt;
  std::int64_t nominal = webhook_retry_delay(policy, attempts);
  draw = std::clamp(draw, 0.0, 1.0);
  auto jittered = nominal / 2 + static_cast<std::int64_t>(static_cast<double>(nominal - nominal / 2) * draw);
  return std::min(now_ms + std::max<std::int64_t>(1, jittered), deadline);
}

}  // namespace parley
