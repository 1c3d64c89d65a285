#include "server/presence.hpp"

namespace parley {

bool presence::join(const std::string& ch, const user& u) {
  std::lock_guard lock(mutex_);
  auto& e = channels_[ch][u.id];
  e.who = u;
  if (++e.connections > 1) return false;
  by_user_[u.id].insert(ch);
  return true;
}

bool presence::leave(const std::string& ch, const std::string& user_id) {
  std::lock_guard lock(mutex_);
  auto c = channels_.find(ch);
  if (c == channels_.end()) return false;
  auto u = c->second.find(user_id);
  if (u == c->second.end()) return false;
  if (--u->second.connections > 0) return false;
  c->second.erase(u);
  if (c->second.empty()) channels_.erase(c);
  if (auto b = by_user_.find(user_id); b != by_user_.end()) {
    b->second.erase(ch);
    if (b->second.empty()) by_user_.erase(b);
  }
  return true;
}

std::vector<std::pair<std::string, user>> presence::channels_of(const std::string& user_id) const {
  std::vector<std::pair<std::string, user>> out;
  std::lock_guard lock(mutex_);
  auto b = by_user_.find(user_id);
  if (b == by_user_.end()) return out;
  for (const auto& ch : b->second) {
    auto c = channels_.find(ch);
    if (c == channels_.end()) continue;
    if (auto u = c->second.find(user_id); u != c->second.end()) out.emplace_back(ch, u->second.who);
  }
  return out;
}

}  // namespace parley
