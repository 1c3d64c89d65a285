#pragma once
// The pub/sub side of the Redis engine: one subscribe connection per master
// of the router's map, and each channel subscribed on the connection of its
// slot's master. On a Redis Cluster it is sharded pub/sub (SSUBSCRIBE, and
// SPUBLISH by whoever publishes): a message travels within its shard only,
// so fan-out traffic grows with the shards instead of reaching every node.
// One server that is not a cluster gets plain SUBSCRIBE. Loop thread only.
#include "storage/redis_router.hpp"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

// A push's kind without the sharded prefix: "smessage" is "message",
// "ssubscribe" "subscribe", "sunsubscribe" "unsubscribe"; others unchanged.
std::string_view unsharded_push_kind(std::string_view kind);

class redis_subscriptions {
 public:
  redis_subscriptions(event_loop& loop, redis_router& router, std::chrono::milliseconds timeout,
                      backoff_policy policy);
  ~redis_subscriptions();
  redis_subscriptions(const redis_subscriptions&) = delete;
  redis_subscriptions& operator=(const redis_subscriptions&) = delete;

  // Confirmations and messages of every connection.
  void on_push(redis_connection::push_handler handler) { push_ = std::move(handler); }
  // A node's subscribe connection came up (it knows no channel) or went down.
  void on_state(redis_router::node_state_handler handler) { state_ = std::move(handler); }

  // Connections for the masters of the router's map; the others are closed.
  void update();
  // Fails nothing (subscriptions have no replies) and stays closed.
  void close();

  // The command that publishes to a channel these connections hear.
  const char* publish_command() const { return sharded_ ? "SPUBLISH" : "PUBLISH"; }

  // Sent on the connection of the channel's master; false when it is down
  // (the channel is subscribed when it comes up: on_state).
  bool subscribe(const std::string& channel);
  void unsubscribe(const std::string& channel);

  // The master whose connection carries `channel`, if the map knows it.
  std::optional<redis_node_address> node_of(const std::string& channel) const;
  bool connected_for(const std::string& channel) const;
  // Every master's connection is up.
  bool connected() const;
  // The nodes with a subscribe connection.
  std::vector<redis_node_address> nodes() const;
  // Drops a connection found dead (a liveness probe not back): it is made again.
  void drop(const redis_node_address& node, const std::string& reason);

 private:
  bool send(const std::string& channel, const char* sharded, const char* plain);
  // The node's subscribe connection when it is up, else null.
  redis_connection* connected_to(const redis_node_address& node) const;

  event_loop& loop_;
  redis_router& router_;
  std::chrono::milliseconds timeout_;
  backoff_policy policy_;
  bool sharded_;
  bool closed_ = false;
  redis_connection::push_handler push_;
  redis_router::node_state_handler state_;
  std::map<std::string, std::pair<redis_node_address, std::unique_ptr<redis_connection>>> connections_;
};

}  // namespace parley
