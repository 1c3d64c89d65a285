#pragma once
// Commands to a Redis Cluster, on the Redis event loop's thread: each goes to
// the master of its key's hash slot, over one connection per master made on
// first use. A MOVED answer moves the slot in the map and sends the command
// again; an ASK sends it once to the node importing the slot, after ASKING; a
// MOVED, a lost connection or CLUSTERDOWN asks any known node for a new map
// (CLUSTER SLOTS), one request at a time. A command is redirected at most
// five times, then answered `unavailable`.
#include "storage/backoff.hpp"
#include "storage/redis_cluster_map.hpp"
#include "storage/redis_connection.hpp"
#include "storage/redis_endpoint.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

class redis_cluster {
 public:
  // `seeds`: nodes to ask for the first map; their user and password are
  // used on every node.
  redis_cluster(event_loop& loop, std::vector<redis_endpoint> seeds, std::chrono::milliseconds timeout,
                backoff_policy policy);
  ~redis_cluster();
  redis_cluster(const redis_cluster&) = delete;
  redis_cluster& operator=(const redis_cluster&) = delete;

  // Reads maps until one covers every slot, then calls `ready` once.
  // Commands sent before then wait for it.
  void start(std::function<void()> ready);
  // Answers what waits with `unavailable` and closes every connection.
  void close();

  // `key` picks the slot (a script's first key).
  void command(std::string_view key, std::vector<std::string> args, redis_connection::reply_handler handler);

  // The map in use; null before the first.
  const redis_slot_map* map() const { return map_ ? &*map_ : nullptr; }
  // Maps read so far (each MOVED or failure asks for one).
  std::size_t maps_read() const { return maps_read_; }
  // Whether a connection to `node` is kept (only nodes of the map in use, and seeds).
  bool has_connection(const redis_node_address& node) const { return connections_.contains(to_string(node)); }

 private:
  struct attempt;
  void send(std::shared_ptr<attempt> a);
  void answered(std::shared_ptr<attempt> a, const redis_node_address& node, result<redis_value> r);
  redis_connection& connection_to(const redis_node_address& node);
  void refresh();
  void ask_for_map(std::vector<redis_node_address> candidates, std::size_t next);
  void map_read(redis_slot_map map);

  event_loop& loop_;
  redis_endpoint credentials_;
  std::vector<redis_node_address> seeds_;
  std::chrono::milliseconds timeout_;
  backoff_policy policy_;
  backoff retry_;
  loop_timer retry_timer_;

  std::optional<redis_slot_map> map_;
  std::size_t maps_read_ = 0;
  bool refreshing_ = false;
  bool closed_ = false;
  std::function<void()> ready_;
  std::vector<std::shared_ptr<attempt>> waiting_;  // for the first map
  std::map<std::string, std::unique_ptr<redis_connection>> connections_;  // by "host:port"
};

}  // namespace parley
