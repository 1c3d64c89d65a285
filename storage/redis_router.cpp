#include "storage/redis_router.hpp"

#include "storage/error_counts.hpp"
#include "storage/log.hpp"
#include "storage/redis_slot.hpp"

#include <algorithm>
#include <set>
#include <utility>

namespace parley {

namespace {
constexpr int max_redirects = 5;
// Many commands fail at once when a master goes: one map read serves them all.
constexpr std::chrono::milliseconds map_refresh_gap{200};
// A multi-key command (every append script) whose slot is being migrated and
// whose keys are split between the two nodes is refused with TRYAGAIN, and
// nothing is run: it is sent again until the keys have moved (then it gets
// MOVED or ASK), up to about a second.
constexpr int max_tryagain = 40;
constexpr std::chrono::milliseconds tryagain_gap{25};
}  // namespace

struct redis_router::attempt {
  std::uint16_t slot = 0;
  std::vector<std::string> args;
  redis_connection::reply_handler handler;
  int redirects = 0;
  int tryagains = 0;
  std::optional<redis_node_address> ask;  // this once, to the node importing the slot
};

redis_router::redis_router(event_loop& loop, std::vector<redis_endpoint> seeds, std::chrono::milliseconds timeout,
                           backoff_policy policy, redis_topology topology)
    : loop_(loop),
      topology_(topology),
      timeout_(timeout),
      policy_(policy),
      retry_(policy),
      retry_timer_(loop),
      tryagain_timer_(loop) {
  if (!seeds.empty()) credentials_ = seeds.front();
  for (const auto& s : seeds) seeds_.push_back({s.host, s.port});
}

redis_router::~redis_router() { close(); }

void redis_router::start(std::function<void()> ready) {
  ready_ = std::move(ready);
  if (topology_ == redis_topology::single && !seeds_.empty()) return map_read(redis_slot_map::single(seeds_.front()));
  refresh();
}

void redis_router::close() {
  if (closed_) return;
  closed_ = true;
  retry_timer_.cancel();
  tryagain_timer_.cancel();
  auto waiting = std::move(waiting_);
  for (auto& a : std::exchange(retrying_, {})) waiting.push_back(std::move(a));
  for (auto& a : waiting) a->handler(storage_unavailable("redis cluster: closed"));
  for (auto& [name, c] : connections_) c->close();
}

void redis_router::command(std::string_view key, std::vector<std::string> args,
                            redis_connection::reply_handler handler) {
  auto a = std::make_shared<attempt>();
  a->slot = redis_key_slot(key);
  a->args = std::move(args);
  a->handler = std::move(handler);
  send(std::move(a));
}

void redis_router::command(std::vector<std::string> args, redis_connection::reply_handler handler) {
  std::string key(redis_command_key(args).value_or(""));
  command(key, std::move(args), std::move(handler));
}

void redis_router::command_to(const redis_node_address& node, std::vector<std::string> args,
                              redis_connection::reply_handler handler) {
  if (closed_) return handler(storage_unavailable("redis: closed"));
  connection_to(node).command(args, std::move(handler));
}

std::optional<redis_node_address> redis_router::master_of(std::string_view key) const {
  if (!map_) return std::nullopt;
  const auto* m = map_->master_of(redis_key_slot(key));
  return m ? std::optional(*m) : std::nullopt;
}

bool redis_router::connected_to(const redis_node_address& node) const {
  auto it = connections_.find(to_string(node));
  return it != connections_.end() && it->second->connected();
}

bool redis_router::connected() const {
  if (!map_) return false;
  for (const auto& m : map_->masters())
    if (!connected_to(m)) return false;
  return true;
}

std::size_t redis_router::in_flight() const {
  std::size_t n = 0;
  for (const auto& [name, c] : connections_) n += c->in_flight();
  return n;
}

void redis_router::send(std::shared_ptr<attempt> a) {
  if (closed_) return a->handler(storage_unavailable("redis cluster: closed"));
  if (!map_) {
    waiting_.push_back(std::move(a));
    return;
  }
  const redis_node_address* master = a->ask ? &*a->ask : map_->master_of(a->slot);
  if (!master) {
    refresh();
    return a->handler(storage_unavailable("redis cluster: no master serves slot " + std::to_string(a->slot)));
  }
  redis_node_address node = *master;
  auto& c = connection_to(node);
  // ASKING holds for the next command on the connection only; pipelined, it is that one.
  if (a->ask) c.command({"ASKING"}, [](result<redis_value>) {});
  a->ask.reset();
  c.command(a->args, [this, a, node](result<redis_value> r) mutable { answered(std::move(a), node, std::move(r)); });
}

void redis_router::answered(std::shared_ptr<attempt> a, const redis_node_address& node, result<redis_value> r) {
  if (closed_) return a->handler(std::move(r));
  if (!r) {
    // The master may have failed: the next commands should find its successor.
    refresh();
    return a->handler(std::move(r));
  }
  if (r->is_error() && topology_ == redis_topology::cluster) {
    if (auto redirect = parse_redirect(r->str, node); redirect && a->redirects < max_redirects) {
      ++a->redirects;
      if (redirect->type == redis_redirect::kind::moved) {
        map_->moved(redirect->slot, redirect->node);
        refresh();
      } else {
        a->ask = redirect->node;
      }
      return send(std::move(a));
    }
    if (r->str.starts_with("MOVED ") || r->str.starts_with("ASK ")) {
      refresh();
      return a->handler(storage_unavailable("redis cluster: " + r->str + " (after " + std::to_string(a->redirects) +
                                            " redirections)"));
    }
    if (r->str.starts_with("TRYAGAIN")) return try_again(std::move(a));
    if (r->str.starts_with("CLUSTERDOWN")) refresh();
  }
  a->handler(std::move(r));
}

void redis_router::try_again(std::shared_ptr<attempt> a) {
  if (a->tryagains++ == max_tryagain)
    return a->handler(storage_unavailable("redis cluster: slot " + std::to_string(a->slot) +
                                          " is still being migrated (TRYAGAIN)"));
  retrying_.push_back(std::move(a));
  if (tryagain_timer_.armed()) return;
  tryagain_timer_.start(tryagain_gap, [this] {
    for (auto& again : std::exchange(retrying_, {})) send(std::move(again));
  });
}

redis_endpoint redis_router::endpoint_of(const redis_node_address& node) const {
  redis_endpoint endpoint = credentials_;
  endpoint.host = node.host;
  endpoint.port = node.port;
  if (topology_ == redis_topology::cluster) endpoint.db = 0;  // a cluster has database 0 only
  return endpoint;
}

redis_connection& redis_router::connection_to(const redis_node_address& node) {
  auto name = to_string(node);
  auto& c = connections_[name];
  if (!c) {
    c = std::make_unique<redis_connection>(loop_, endpoint_of(node), timeout_, policy_, "redis " + name);
    c->on_state([this, node](bool up) {
      if (closed_) return;
      // The master may have failed: its replica's promotion is in the next map.
      if (!up) refresh();
      if (node_state_) node_state_(node, up);
    });
    c->start();
  }
  return *c;
}

void redis_router::refresh() {
  if (topology_ == redis_topology::single || refreshing_ || closed_) return;
  refreshing_ = true;
  auto since = std::chrono::steady_clock::now() - map_read_at_;
  if (map_ && since < map_refresh_gap) {
    retry_timer_.start(std::chrono::ceil<std::chrono::milliseconds>(map_refresh_gap - since), [this] {
      refreshing_ = false;
      refresh();
    });
    return;
  }
  // Known nodes first (the replicas that may have taken over), then the seeds.
  std::vector<redis_node_address> candidates;
  if (map_) candidates = map_->nodes();
  for (const auto& s : seeds_)
    if (std::find(candidates.begin(), candidates.end(), s) == candidates.end()) candidates.push_back(s);
  ask_for_map(std::move(candidates), 0);
}

void redis_router::ask_for_map(std::vector<redis_node_address> candidates, std::size_t next) {
  if (closed_) return;
  if (next >= candidates.size()) {
    // Nobody answered with a usable map: ask again after the backoff.
    retry_timer_.start(retry_.next(), [this] {
      refreshing_ = false;
      refresh();
    });
    return;
  }
  auto node = candidates[next];
  connection_to(node).command({"CLUSTER", "SLOTS"}, [this, candidates = std::move(candidates), next,
                                                     node](result<redis_value> r) mutable {
    if (closed_) return;
    std::optional<redis_slot_map> map;
    if (r && !r->is_error()) {
      if (auto parsed = redis_slot_map::from_cluster_slots(*r, node); parsed && parsed->uncovered() == 0)
        map = std::move(parsed.value());
    }
    if (!map) return ask_for_map(std::move(candidates), next + 1);
    map_read(std::move(*map));
  });
}

void redis_router::map_read(redis_slot_map map) {
  // Against the map last announced, not map_: a MOVED has already patched
  // map_, and its subscriptions still need to follow the slot.
  bool changed = !announced_ || !announced_->same_masters(map);
  announced_ = map;
  map_ = std::move(map);
  ++maps_read_;
  map_read_at_ = std::chrono::steady_clock::now();
  // A node the map no longer names (failed, removed) would be reconnected
  // to forever: its connection goes, failing what it still carries.
  std::set<std::string> kept;
  for (const auto& n : map_->nodes()) kept.insert(to_string(n));
  for (const auto& n : seeds_) kept.insert(to_string(n));
  std::vector<std::unique_ptr<redis_connection>> gone;
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (kept.contains(it->first)) {
      ++it;
    } else {
      gone.push_back(std::move(it->second));
      it = connections_.erase(it);
    }
  }
  for (auto& c : gone) c->close();
  for (const auto& m : map_->masters()) connection_to(m);
  refreshing_ = false;
  retry_.reset();
  if (on_map_) on_map_(changed);
  if (ready_) std::exchange(ready_, nullptr)();
  auto waiting = std::move(waiting_);
  for (auto& a : waiting) send(std::move(a));
}

}  // namespace parley
