#include "storage/redis_cluster_map.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace parley {
namespace {

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::optional<int> port_of(long long value) {
  if (value < 1 || value > 65535) return std::nullopt;
  return static_cast<int>(value);
}

// `host` as announced: "" is the node asked, "[v6]" loses its brackets, "?"
// (an endpoint the node does not know) and names are not usable.
std::optional<std::string> usable_host(std::string_view host, const redis_node_address& asked) {
  if (host.empty()) return asked.host;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string text(host);
  if (!is_ip_literal(text)) return std::nullopt;
  return text;
}

result<std::uint16_t> slot_of(const redis_value& v) {
  if (v.type != redis_value::kind::integer || v.integer < 0 || v.integer >= static_cast<long long>(redis_cluster_slots))
    return make_error(errc::internal, "CLUSTER SLOTS: a slot outside 0..16383");
  return static_cast<std::uint16_t>(v.integer);
}

// [host, port, id, ...]: the node, or nullopt when its endpoint is unknown.
result<std::optional<redis_node_address>> node_of(const redis_value& v, const redis_node_address& asked) {
  if (!v.is_array() || v.elements.size() < 2 || !v.elements[0].is_string() ||
      v.elements[1].type != redis_value::kind::integer)
    return make_error(errc::internal, "CLUSTER SLOTS: a node is not [host, port, ...]");
  auto port = port_of(v.elements[1].integer);
  if (!port) return make_error(errc::internal, "CLUSTER SLOTS: a port outside 1..65535");
  auto host = usable_host(v.elements[0].str, asked);
  if (!host) return std::optional<redis_node_address>{};
  return std::optional<redis_node_address>{redis_node_address{*host, *port}};
}

}  // namespace

std::string to_string(const redis_node_address& node) {
  bool v6 = node.host.find(':') != std::string::npos;
  return (v6 ? "[" + node.host + "]" : node.host) + ":" + std::to_string(node.port);
}

std::optional<redis_redirect> parse_redirect(std::string_view error, const redis_node_address& asked) {
  redis_redirect out;
  if (error.starts_with("MOVED ")) {
    out.type = redis_redirect::kind::moved;
  } else if (error.starts_with("ASK ")) {
    out.type = redis_redirect::kind::ask;
  } else {
    return std::nullopt;
  }
  error.remove_prefix(error.find(' ') + 1);
  auto space = error.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  auto slot = decimal_int64(error.substr(0, space));
  if (!slot || *slot < 0 || *slot >= static_cast<std::int64_t>(redis_cluster_slots)) return std::nullopt;
  out.slot = static_cast<std::uint16_t>(*slot);
  auto endpoint = error.substr(space + 1);
  // The port follows the last colon, so that an IPv6 host without brackets works.
  auto colon = endpoint.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto port_number = decimal_int64(endpoint.substr(colon + 1));
  auto port = port_number ? port_of(*port_number) : std::nullopt;
  auto host = usable_host(endpoint.substr(0, colon), asked);
  if (!port || !host) return std::nullopt;
  out.node = {*host, *port};
  return out;
}

std::uint16_t redis_slot_map::index_of(const redis_node_address& node) {
  auto it = std::find(nodes_.begin(), nodes_.end(), node);
  if (it != nodes_.end()) return static_cast<std::uint16_t>(it - nodes_.begin());
  nodes_.push_back(node);
  return static_cast<std::uint16_t>(nodes_.size() - 1);
}

result<redis_slot_map> redis_slot_map::from_cluster_slots(const redis_value& reply, const redis_node_address& asked) {
  if (!reply.is_array()) return make_error(errc::internal, "CLUSTER SLOTS: not an array");
  redis_slot_map map;
  std::vector<bool> listed(redis_cluster_slots, false);
  for (const auto& range : reply.elements) {
    // [start, end, master, replica...]
    if (!range.is_array() || range.elements.size() < 3)
      return make_error(errc::internal, "CLUSTER SLOTS: a range is not [start, end, master, ...]");
    auto start = slot_of(range.elements[0]);
    if (!start) return start.err();
    auto end = slot_of(range.elements[1]);
    if (!end) return end.err();
    if (*start > *end) return make_error(errc::internal, "CLUSTER SLOTS: a range ends before it starts");
    std::optional<std::uint16_t> owner;
    for (std::size_t i = 2; i < range.elements.size(); ++i) {
      auto node = node_of(range.elements[i], asked);
      if (!node) return node.err();
      if (!*node) continue;
      if (map.nodes_.size() + 1 >= no_node) return make_error(errc::internal, "CLUSTER SLOTS: too many nodes");
      auto index = map.index_of(**node);
      if (i == 2) owner = index;
    }
    for (std::size_t slot = *start; slot <= *end; ++slot) {
      if (listed[slot]) return make_error(errc::internal, "CLUSTER SLOTS: a slot is listed twice");
      listed[slot] = true;
      // A master whose endpoint is unknown serves nothing we can reach.
      if (owner) map.owner_[slot] = *owner;
    }
  }
  return map;
}

redis_slot_map redis_slot_map::single(const redis_node_address& node) {
  redis_slot_map map;
  std::fill(map.owner_.begin(), map.owner_.end(), map.index_of(node));
  return map;
}

const redis_node_address* redis_slot_map::master_of(std::uint16_t slot) const {
  if (slot >= redis_cluster_slots || owner_[slot] == no_node) return nullptr;
  return &nodes_[owner_[slot]];
}

void redis_slot_map::moved(std::uint16_t slot, const redis_node_address& node) {
  if (slot >= redis_cluster_slots || nodes_.size() + 1 >= no_node) return;
  owner_[slot] = index_of(node);
}

bool redis_slot_map::same_masters(const redis_slot_map& other) const {
  for (std::size_t slot = 0; slot < redis_cluster_slots; ++slot) {
    const auto* mine = master_of(static_cast<std::uint16_t>(slot));
    const auto* theirs = other.master_of(static_cast<std::uint16_t>(slot));
    if ((mine == nullptr) != (theirs == nullptr) || (mine && *mine != *theirs)) return false;
  }
  return true;
}

std::vector<redis_node_address> redis_slot_map::masters() const {
  std::vector<bool> serving(nodes_.size(), false);
  for (auto owner : owner_)
    if (owner != no_node) serving[owner] = true;
  std::vector<redis_node_address> out;
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (serving[i]) out.push_back(nodes_[i]);
  return out;
}

std::optional<std::string_view> redis_command_key(const std::vector<std::string>& args) {
  if (args.empty()) return std::nullopt;
  std::string command = args[0];
  std::transform(command.begin(), command.end(), command.begin(), [](unsigned char c) { return std::toupper(c); });
  if (command == "EVAL" || command == "EVALSHA") {
    if (args.size() < 4 || args[2] == "0") return std::nullopt;
    return args[3];
  }
  static const std::string_view keyless[] = {"WAIT", "CONFIG", "PING", "CLUSTER", "INFO", "ASKING", "ROLE",
                                             "SCRIPT", "AUTH", "SELECT", "HELLO", "CLIENT"};
  if (args.size() < 2 || std::find(std::begin(keyless), std::end(keyless), command) != std::end(keyless))
    return std::nullopt;
  return args[1];
}

std::size_t redis_slot_map::uncovered() const { return static_cast<std::size_t>(std::count(owner_.begin(), owner_.end(), no_node)); }

}  // namespace parley
