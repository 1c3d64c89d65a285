#pragma once
// Commands to Redis on the Redis event loop's thread, to one server or to a
// Redis Cluster: each goes to the master of its key's hash slot, over one
// connection per master (made for every master as soon as a map names it).
// A MOVED answer moves the slot in the map and sends the command again; an
// ASK sends it once to the node importing the slot, after ASKING; a MOVED, a
// lost connection or CLUSTERDOWN asks any known node for a new map (CLUSTER
// SLOTS), one request at a time and at most every map_refresh_gap. A command
// is redirected at most five times, then answered `unavailable`. A TRYAGAIN
// (a multi-key command during a slot's migration) sends it again after a
// short wait, for about a second. One server
// that is not a cluster is a map whose one master serves every slot.
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

enum class redis_topology { single, cluster };

class redis_router {
 public:
  // Called when a connection to `node` came up or went down.
  using node_state_handler = std::function<void(const redis_node_address& node, bool up)>;

  // `seeds`: nodes to ask for the first map (cluster), or the one server
  // (single); their user and password are used on every node.
  redis_router(event_loop& loop, std::vector<redis_endpoint> seeds, std::chrono::milliseconds timeout,
               backoff_policy policy, redis_topology topology = redis_topology::cluster);
  ~redis_router();
  redis_router(const redis_router&) = delete;
  redis_router& operator=(const redis_router&) = delete;

  void on_node_state(node_state_handler handler) { node_state_ = std::move(handler); }
  // After every new map, once the masters' connections are being made;
  // `changed`: some slot has another master than in the map before.
  void on_map(std::function<void(bool changed)> handler) { on_map_ = std::move(handler); }

  // Reads maps until one covers every slot, then calls `ready` once.
  // Commands sent before then wait for it.
  void start(std::function<void()> ready = nullptr);
  // Answers what waits with `unavailable` and closes every connection.
  void close();

  // `key` picks the slot (a script's first key).
  void command(std::string_view key, std::vector<std::string> args, redis_connection::reply_handler handler);
  // The key is found in the command (redis_command_key); a command without
  // one goes to the first master.
  void command(std::vector<std::string> args, redis_connection::reply_handler handler);
  // To this node, without redirection (WAIT, CONFIG: about that node itself).
  void command_to(const redis_node_address& node, std::vector<std::string> args,
                  redis_connection::reply_handler handler);

  // Asks for a new map (cluster only), unless one is being read.
  void refresh();

  redis_topology topology() const { return topology_; }
  // The map in use; null before the first.
  const redis_slot_map* map() const { return map_ ? &*map_ : nullptr; }
  // The master of `key`'s slot in the map in use, if known.
  std::optional<redis_node_address> master_of(std::string_view key) const;
  // A map is in use and every master's connection is up.
  bool connected() const;
  // Whether this node's connection is up.
  bool connected_to(const redis_node_address& node) const;
  // Commands sent and not yet answered, on every connection.
  std::size_t in_flight() const;
  // Maps read so far (each MOVED or failure asks for one).
  std::size_t maps_read() const { return maps_read_; }
  // How to reach `node`: the seeds' credentials, and database 0 in a cluster.
  redis_endpoint endpoint_of(const redis_node_address& node) const;
  // Whether a connection to `node` is kept (only nodes of the map in use, and seeds).
  bool has_connection(const redis_node_address& node) const { return connections_.contains(to_string(node)); }

 private:
  struct attempt;
  void send(std::shared_ptr<attempt> a);
  void answered(std::shared_ptr<attempt> a, const redis_node_address& node, result<redis_value> r);
  // Sends `a` again shortly (TRYAGAIN), or answers `unavailable` after too many tries.
  void try_again(std::shared_ptr<attempt> a);
  redis_connection& connection_to(const redis_node_address& node);
  void ask_for_map(std::vector<redis_node_address> candidates, std::size_t next);
  void map_read(redis_slot_map map);

  event_loop& loop_;
  redis_topology topology_;
  redis_endpoint credentials_;
  std::vector<redis_node_address> seeds_;
  std::chrono::milliseconds timeout_;
  backoff_policy policy_;
  backoff retry_;
  loop_timer retry_timer_;
  loop_timer tryagain_timer_;

  std::optional<redis_slot_map> map_;
  std::optional<redis_slot_map> announced_;  // the last map read, as on_map_ was told of it
  std::size_t maps_read_ = 0;
  std::chrono::steady_clock::time_point map_read_at_;
  bool refreshing_ = false;
  bool closed_ = false;
  std::function<void()> ready_;
  node_state_handler node_state_;
  std::function<void(bool)> on_map_;
  std::vector<std::shared_ptr<attempt>> waiting_;  // for the first map
  std::vector<std::shared_ptr<attempt>> retrying_;  // after TRYAGAIN, until tryagain_timer_
  std::map<std::string, std::unique_ptr<redis_connection>> connections_;  // by "host:port"
};

}  // namespace parley
