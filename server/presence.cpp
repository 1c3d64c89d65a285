#include "server/presence.hpp"

namespace parley {

bool presence::join(const std::string& ch, const user& u) {
  std::lock_guard lock(mutex_);
  auto& e = channels_[ch][u.id];
  e.who = u;
  return ++e.connections == 1;
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
  return true;
}

}  // namespace parley
