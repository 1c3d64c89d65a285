#include "server/revocations.hpp"

#include <algorithm>

namespace parley {

bool revocations::allows(const claims& c) const {
  std::lock_guard lock(mutex_);
  auto it = valid_after_.find(c.who.id);
  if (it == valid_after_.end()) return true;
  // A token that does not say when it was issued cannot prove it is newer.
  return c.iat && *c.iat >= it->second;
}

std::optional<revocation> revocations::apply(const std::string& event_json, std::int64_t now_s) {
  auto ev = parse_event(event_json);
  if (!ev) return std::nullopt;
  return apply(ev.value(), now_s);
}

std::optional<revocation> revocations::apply(const event& ev, std::int64_t now_s) {
  if (ev.kind != kind) return std::nullopt;
  const auto* user = ev.body.if_contains("user");
  const auto* after = ev.body.if_contains("valid_after");
  if (!user || !user->is_string() || !after || !after->is_int64()) return std::nullopt;
  revocation r{std::string(user->get_string()), after->get_int64()};
  if (r.valid_after < now_s - keep_s_) return r;  // every token it could refuse has expired
  std::lock_guard lock(mutex_);
  auto& current = valid_after_[r.user_id];
  current = std::max(current, r.valid_after);
  return r;
}

void revocations::forget_expired(std::int64_t now_s) {
  std::lock_guard lock(mutex_);
  std::erase_if(valid_after_, [&](const auto& entry) { return entry.second < now_s - keep_s_; });
}

}  // namespace parley
