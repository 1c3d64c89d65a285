#include "server/user_limits.hpp"

#include <functional>
#include <utility>

namespace parley {

namespace {
template <std::size_t... I>
std::array<token_bucket, op_class_count> make_buckets(const user_limit_rates& r, std::index_sequence<I...>) {
  return {token_bucket(r.of[I].rate, r.of[I].burst)...};
}
}  // namespace

user_limits::user_limits(const user_limit_rates& rates) : rates_(rates) {}

user_limits::entry user_limits::make_entry() const {
  return entry{make_buckets(rates_, std::make_index_sequence<op_class_count>{})};
}

bool user_limits::take(std::string_view user_id, op_class c, std::int64_t now_ms, std::int64_t* retry_after_ms) {
  shard& s = shards_[std::hash<std::string_view>{}(user_id) % shard_count];
  std::lock_guard lock(s.mutex);
  if (now_ms - s.last_sweep_ms >= sweep_interval_ms || now_ms < s.last_sweep_ms) sweep(s, now_ms);
  auto it = s.users.find(std::string(user_id));
  if (it == s.users.end()) it = s.users.emplace(std::string(user_id), make_entry()).first;
  token_bucket& b = it->second.buckets[static_cast<std::size_t>(c)];
  if (b.take(now_ms)) return true;
  if (retry_after_ms) *retry_after_ms = b.ms_until_token(now_ms);
  return false;
}

// Forgets the entries whose every bucket is full again: nothing is lost, and
// the shard holds only users active within the longest refill time.
void user_limits::sweep(shard& s, std::int64_t now_ms) {
  s.last_sweep_ms = now_ms;
  for (auto it = s.users.begin(); it != s.users.end();) {
    bool idle = true;
    for (const auto& b : it->second.buckets) idle = idle && b.full_at(now_ms);
    it = idle ? s.users.erase(it) : std::next(it);
  }
}

std::size_t user_limits::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.users.size();
  }
  return n;
}

}  // namespace parley
