#pragma once
// What a Redis Cluster client must know to route a command, parsed without a
// socket: which master serves each hash slot (from CLUSTER SLOTS), and the
// redirections a node answers with (MOVED: the slot lives elsewhere now; ASK:
// for this one command, during a migration). Whatever a node sends, parsing
// gives an error or a value, never a crash: the router trusts only these.
#include "protocol/result.hpp"
#include "storage/redis_reply.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

inline constexpr std::size_t redis_cluster_slots = 16384;

// A node as the cluster announces it. Only IP literals: hiredis resolves
// names with a blocking call, which the event loop cannot afford.
struct redis_node_address {
  std::string host;
  int port = 0;
  friend bool operator==(const redis_node_address&, const redis_node_address&) = default;
};

// "127.0.0.1:7000", "[::1]:7000".
std::string to_string(const redis_node_address& node);

struct redis_redirect {
  enum class kind { moved, ask };
  kind type = kind::moved;
  std::uint16_t slot = 0;
  redis_node_address node;
};

// The redirection in an error reply ("MOVED 3999 127.0.0.1:6381", "ASK 3999
// [::1]:6381" or without brackets), or nullopt when the error is another or
// names no usable node. An empty host is the node that answered (`asked`).
std::optional<redis_redirect> parse_redirect(std::string_view error, const redis_node_address& asked);

// Slot -> master, and every node named, from one CLUSTER SLOTS reply.
class redis_slot_map {
 public:
  // `reply` was answered by `asked`: an empty host in it means that node. A
  // malformed reply (not the shape Redis documents, slots out of range or
  // listed twice, a host that is not an IP literal) is an `internal` error.
  static result<redis_slot_map> from_cluster_slots(const redis_value& reply, const redis_node_address& asked);
  // One server that is not a cluster: it serves every slot.
  static redis_slot_map single(const redis_node_address& node);

  // Null when no master serves the slot (the cluster is not fully covered).
  const redis_node_address* master_of(std::uint16_t slot) const;
  // After a MOVED: `node` serves `slot` from now on, until the next map.
  void moved(std::uint16_t slot, const redis_node_address& node);
  // Each master once, in the order of the reply.
  std::vector<redis_node_address> masters() const;
  // Masters and replicas: whom to ask for a new map after a failover.
  const std::vector<redis_node_address>& nodes() const { return nodes_; }
  // Whether every slot has the same master in both maps.
  bool same_masters(const redis_slot_map& other) const;
  // Slots no master serves.
  std::size_t uncovered() const;

 private:
  static constexpr std::uint16_t no_node = 0xFFFF;
  std::uint16_t index_of(const redis_node_address& node);

  std::vector<std::uint16_t> owner_ = std::vector<std::uint16_t>(redis_cluster_slots, no_node);
  std::vector<redis_node_address> nodes_;
};

// The key that routes a command: a script's first key, the first argument of
// the commands Parley sends with a key (HSET, ZADD, XRANGE, SPUBLISH...), none
// for those without (WAIT, CONFIG, PING, CLUSTER...) and scripts without keys.
std::optional<std::string_view> redis_command_key(const std::vector<std::string>& args);

}  // namespace parley
