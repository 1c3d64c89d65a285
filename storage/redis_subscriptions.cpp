#include "storage/redis_subscriptions.hpp"

#include <set>

namespace parley {

std::string_view unsharded_push_kind(std::string_view kind) {
  if (kind == "smessage" || kind == "ssubscribe" || kind == "sunsubscribe") kind.remove_prefix(1);
  return kind;
}

redis_subscriptions::redis_subscriptions(event_loop& loop, redis_router& router, std::chrono::milliseconds timeout,
                                         backoff_policy policy)
    : loop_(loop),
      router_(router),
      timeout_(timeout),
      policy_(policy),
      sharded_(router.topology() == redis_topology::cluster) {}

redis_subscriptions::~redis_subscriptions() { close(); }

void redis_subscriptions::update() {
  const auto* map = router_.map();
  if (closed_ || !map) return;
  std::set<std::string> masters;
  for (const auto& m : map->masters()) {
    auto name = to_string(m);
    masters.insert(name);
    auto& entry = connections_[name];
    if (entry.second) continue;
    entry.first = m;
    entry.second = std::make_unique<redis_connection>(loop_, router_.endpoint_of(m), timeout_, policy_,
                                                      "subscriptions " + name);
    entry.second->on_push([this](const redis_value& v) {
      if (closed_ || !push_) return;
      // The plain twin of a sharded subscription (see send()) is not told.
      if (sharded_ && v.is_array() && !v.elements.empty() && unsharded_push_kind(v.elements[0].str) == v.elements[0].str)
        return;
      push_(v);
    });
    entry.second->on_state([this, m](bool up) {
      if (closed_) return;
      if (!up) router_.refresh();
      if (state_) state_(m, up);
    });
    entry.second->start();
  }
  // A node that serves no slot any more (failed, demoted) carries nothing.
  std::vector<std::unique_ptr<redis_connection>> gone;
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (masters.contains(it->first)) {
      ++it;
    } else {
      gone.push_back(std::move(it->second.second));
      it = connections_.erase(it);
    }
  }
  for (auto& c : gone) c->close();
}

void redis_subscriptions::close() {
  if (closed_) return;
  closed_ = true;
  for (auto& [name, entry] : connections_) entry.second->close();
}

std::optional<redis_node_address> redis_subscriptions::node_of(const std::string& channel) const {
  return router_.master_of(channel);
}

// hiredis 0.14 knows only SUBSCRIBE: a message with no pending reply to take
// it is handed to the callback of a channel of that name subscribed with
// SUBSCRIBE, and aborts the process when the connection has none. So every
// sharded subscription has a plain twin of the same name, subscribed first
// and unsubscribed last; nobody PUBLISHes to it, and its replies are dropped.
bool redis_subscriptions::send(const std::string& channel, const char* sharded, const char* plain) {
  auto node = node_of(channel);
  redis_connection* c = node ? connected_to(*node) : nullptr;
  if (!c) return false;
  if (!sharded_) return c->pubsub({plain, channel});
  bool subscribing = std::string_view(plain) == "SUBSCRIBE";
  if (subscribing && !c->pubsub({plain, channel})) return false;
  bool sent = c->pubsub({sharded, channel});
  if (!subscribing) c->pubsub({plain, channel});
  return sent;
}

bool redis_subscriptions::subscribe(const std::string& channel) { return send(channel, "SSUBSCRIBE", "SUBSCRIBE"); }

void redis_subscriptions::unsubscribe(const std::string& channel) { send(channel, "SUNSUBSCRIBE", "UNSUBSCRIBE"); }

redis_connection* redis_subscriptions::connected_to(const redis_node_address& node) const {
  auto it = connections_.find(to_string(node));
  return it != connections_.end() && it->second.second->connected() ? it->second.second.get() : nullptr;
}

bool redis_subscriptions::connected_for(const std::string& channel) const {
  auto node = node_of(channel);
  return node && connected_to(*node);
}

bool redis_subscriptions::connected() const {
  const auto* map = router_.map();
  if (!map) return false;
  for (const auto& m : map->masters())
    if (!connected_to(m)) return false;
  return true;
}

std::vector<redis_node_address> redis_subscriptions::nodes() const {
  std::vector<redis_node_address> out;
  for (const auto& [name, entry] : connections_) out.push_back(entry.first);
  return out;
}

void redis_subscriptions::drop(const redis_node_address& node, const std::string& reason) {
  if (auto it = connections_.find(to_string(node)); it != connections_.end()) it->second.second->drop(reason);
}

}  // namespace parley
