#include "server/connection_limits.hpp"

namespace parley {

connection_limits::ticket& connection_limits::ticket::operator=(ticket&& o) noexcept {
  if (this != &o) {
    release();
    owner_ = o.owner_;
    kind_ = o.kind_;
    key_ = std::move(o.key_);
    o.owner_ = nullptr;
  }
  return *this;
}

void connection_limits::ticket::release() {
  if (owner_) owner_->give_back(kind_, key_);
  owner_ = nullptr;
}

connection_limits::ticket connection_limits::open_connection() {
  std::lock_guard lock(mutex_);
  if (caps_.max_connections && connections_ >= caps_.max_connections) return {};
  ++connections_;
  return {this, ticket::kind::connection, {}};
}

connection_limits::ticket connection_limits::unauthenticated(const std::string& ip) {
  return take_keyed(unauth_by_ip_, caps_.max_unauth_per_ip, ip, ticket::kind::unauth);
}

connection_limits::ticket connection_limits::websocket_of(const std::string& user_id) {
  return take_keyed(ws_by_user_, caps_.max_ws_per_user, user_id, ticket::kind::ws_user);
}

connection_limits::ticket connection_limits::take_keyed(std::unordered_map<std::string, std::size_t>& counts,
                                                        std::size_t cap, const std::string& key, ticket::kind k) {
  std::lock_guard lock(mutex_);
  auto it = counts.find(key);
  if (cap && it != counts.end() && it->second >= cap) return {};
  if (it == counts.end()) it = counts.emplace(key, 0).first;
  ++it->second;
  return {this, k, key};
}

std::size_t connection_limits::connections() const {
  std::lock_guard lock(mutex_);
  return connections_;
}

void connection_limits::give_back(ticket::kind k, const std::string& key) {
  std::lock_guard lock(mutex_);
  if (k == ticket::kind::connection) {
    --connections_;
    return;
  }
  auto& counts = k == ticket::kind::unauth ? unauth_by_ip_ : ws_by_user_;
  auto it = counts.find(key);
  if (it != counts.end() && --it->second == 0) counts.erase(it);
}

}  // namespace parley
