// The Redis Cluster router against a real cluster of six redis-servers:
// routing by slot, a MOVED after a failover, an ASK during a slot migration,
// a script whose keys are split by a migration (TRYAGAIN), and a master
// killed with -9 whose replica takes over.
#include "event_loop_sync.hpp"
#include "redis_cluster_fixture.hpp"
#include "storage/redis_router.hpp"
#include "storage/redis_slot.hpp"

#include <catch2/catch.hpp>

#include <future>
#include <thread>

using namespace parley;
using namespace parley::testing;
using namespace std::chrono_literals;

namespace {

// A router on its own loop, started and stopped on the loop's thread.
struct router {
  event_loop loop;
  std::unique_ptr<redis_router> cluster;

  explicit router(int seed_port) {
    std::promise<void> ready;
    on_loop(loop, [&] {
      redis_endpoint seed;
      seed.host = "127.0.0.1";
      seed.port = seed_port;
      cluster = std::make_unique<redis_router>(loop, std::vector<redis_endpoint>{seed}, 2000ms, backoff_policy{50ms, 500ms});
      cluster->start([&] { ready.set_value(); });
    });
    REQUIRE(ready.get_future().wait_for(20s) == std::future_status::ready);
  }
  ~router() {
    on_loop(loop, [&] { cluster.reset(); });
    loop.join();
  }

  result<redis_value> run(const std::string& key, std::vector<std::string> args) {
    std::promise<result<redis_value>> p;
    auto f = p.get_future();
    loop.post([&] { cluster->command(key, args, [&p](result<redis_value> r) { p.set_value(std::move(r)); }); });
    return f.get();
  }
  std::size_t maps_read() {
    std::size_t n = 0;
    on_loop(loop, [&] { n = cluster->maps_read(); });
    return n;
  }
  bool has_connection(const redis_node_address& node) {
    bool has = false;
    on_loop(loop, [&] { has = cluster->has_connection(node); });
    return has;
  }
  std::vector<redis_node_address> masters() {
    std::vector<redis_node_address> out;
    on_loop(loop, [&] { out = cluster->map()->masters(); });
    return out;
  }
};

std::string key_of(int i) { return "parley:{eng:" + std::to_string(i) + "}:meta"; }

bool answered(const result<redis_value>& r, const std::string& text) { return r && !r->is_error() && r->str == text; }

void write_keys(router& r, int count) {
  for (int i = 0; i < count; ++i) {
    REQUIRE(answered(r.run(key_of(i), {"SET", key_of(i), "v" + std::to_string(i)}), "OK"));
    // On the same master as the SET: its replica has it before we go on.
    auto replicas = r.run(key_of(i), {"WAIT", "1", "1000"});
    REQUIRE(replicas);
    REQUIRE(replicas->integer == 1);
  }
}

int keys_read_back(router& r, int count) {
  int ok = 0;
  for (int i = 0; i < count; ++i) ok += answered(r.run(key_of(i), {"GET", key_of(i)}), "v" + std::to_string(i));
  return ok;
}

std::string node_id(redis_server& node) { return node.command({"CLUSTER", "MYID"}); }

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

TEST_CASE("cluster: each command reaches its slot's master, and every master gets its share", "[redis][cluster]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_cluster_nodes nodes;
  router r(nodes.node(0).port());
  write_keys(r, 300);
  CHECK(keys_read_back(r, 300) == 300);
  CHECK(r.masters().size() == 3);
  int masters_with_keys = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (nodes.is_master(i) && std::stoi(nodes.node(i).command({"DBSIZE"})) > 0) ++masters_with_keys;
  CHECK(masters_with_keys == 3);
  CHECK(r.maps_read() == 1);  // the map was right: no redirection, no new map
}

TEST_CASE("cluster: after a failover the old master's MOVED is followed and a new map read", "[redis][cluster]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_cluster_nodes nodes;
  router r(nodes.node(0).port());
  write_keys(r, 100);
  std::size_t replica = 0;
  while (nodes.is_master(replica)) ++replica;
  // ROLE on a replica: "slave", its master's host, its master's port, ...
  const int old_master_port = std::stoi(split_lines(nodes.node(replica).command({"ROLE"})).at(2));
  std::size_t old_master = 0;
  while (nodes.node(old_master).port() != old_master_port) ++old_master;
  REQUIRE(nodes.node(replica).command({"CLUSTER", "FAILOVER"}) == "OK");
  // Both sides must know: until the old master hears of it, it still serves the slots.
  for (int i = 0; i < 100 && (!nodes.is_master(replica) || nodes.is_master(old_master)); ++i)
    std::this_thread::sleep_for(100ms);
  REQUIRE(nodes.is_master(replica));
  REQUIRE_FALSE(nodes.is_master(old_master));
  CHECK(keys_read_back(r, 100) == 100);
  // The MOVED answers were followed at once; the new map is read in the
  // background, at most every 200 ms.
  for (int i = 0; i < 50 && r.maps_read() < 2; ++i) std::this_thread::sleep_for(20ms);
  CHECK(r.maps_read() >= 2);
  auto masters = r.masters();
  CHECK(std::find(masters.begin(), masters.end(), redis_node_address{"127.0.0.1", nodes.node(replica).port()}) !=
        masters.end());
}

TEST_CASE("cluster: during a slot migration an ASK is followed to the importing node", "[redis][cluster]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_cluster_nodes nodes;
  router r(nodes.node(0).port());
  write_keys(r, 20);
  const std::string key = key_of(7);
  const auto slot = std::to_string(redis_key_slot(key));
  // Which master serves the slot, and another to import it.
  std::size_t from = nodes.size(), to = nodes.size();
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!nodes.is_master(i)) continue;
    if (nodes.node(i).command({"GET", key}) == "v7") from = i;
    else if (to == nodes.size()) to = i;
  }
  REQUIRE(from < nodes.size());
  REQUIRE(to < nodes.size());
  REQUIRE(nodes.node(to).command({"CLUSTER", "SETSLOT", slot, "IMPORTING", node_id(nodes.node(from))}) == "OK");
  REQUIRE(nodes.node(from).command({"CLUSTER", "SETSLOT", slot, "MIGRATING", node_id(nodes.node(to))}) == "OK");
  REQUIRE(nodes.node(from).command({"MIGRATE", "127.0.0.1", std::to_string(nodes.node(to).port()), key, "0", "5000"}) == "OK");
  // The old master answers ASK for the key it no longer has; the router asks the new one.
  CHECK(answered(r.run(key, {"GET", key}), "v7"));
  CHECK(answered(r.run(key, {"SET", key, "v7-moved"}), "OK"));
  CHECK(nodes.node(to).command({"GET", key}).find("v7-moved") == std::string::npos);  // without ASKING: MOVED
  CHECK(answered(r.run(key, {"GET", key}), "v7-moved"));
}

TEST_CASE("cluster: a script whose keys a migration has split is sent again until they have moved",
          "[redis][cluster]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_cluster_nodes nodes;
  router r(nodes.node(0).port());
  // Two keys of one engagement, as an append script touches several.
  const std::string first = "parley:{eng:split}:meta", second = "parley:{eng:split}:events";
  REQUIRE(answered(r.run(first, {"SET", first, "a"}), "OK"));
  REQUIRE(answered(r.run(second, {"SET", second, "b"}), "OK"));
  const auto slot = std::to_string(redis_key_slot(first));
  std::size_t from = nodes.size(), to = nodes.size();
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!nodes.is_master(i)) continue;
    if (nodes.node(i).command({"GET", first}) == "a") from = i;
    else if (to == nodes.size()) to = i;
  }
  REQUIRE(from < nodes.size());
  REQUIRE(to < nodes.size());
  const auto from_id = node_id(nodes.node(from)), to_id = node_id(nodes.node(to));
  const auto to_port = std::to_string(nodes.node(to).port());
  REQUIRE(nodes.node(to).command({"CLUSTER", "SETSLOT", slot, "IMPORTING", from_id}) == "OK");
  REQUIRE(nodes.node(from).command({"CLUSTER", "SETSLOT", slot, "MIGRATING", to_id}) == "OK");
  REQUIRE(nodes.node(from).command({"MIGRATE", "127.0.0.1", to_port, first, "0", "5000"}) == "OK");
  // The migration ends a moment after the script is sent: its other key
  // moves and both nodes hand the slot over.
  std::thread finish([&] {
    std::this_thread::sleep_for(300ms);
    nodes.node(from).command({"MIGRATE", "127.0.0.1", to_port, second, "0", "5000"});
    nodes.node(to).command({"CLUSTER", "SETSLOT", slot, "NODE", to_id});
    nodes.node(from).command({"CLUSTER", "SETSLOT", slot, "NODE", to_id});
  });
  auto both = r.run(first, {"EVAL", "return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}", "2", first, second});
  finish.join();
  REQUIRE(both);
  INFO(both->str);
  REQUIRE(both->is_array());
  REQUIRE(both->elements.size() == 2);
  CHECK(both->elements[0].str == "a");
  CHECK(both->elements[1].str == "b");
}

TEST_CASE("cluster: a master killed with -9 is replaced by its replica, and nothing acknowledged is lost", "[redis][cluster]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_cluster_nodes nodes;
  router r(nodes.node(0).port());
  write_keys(r, 100);
  // A master other than node 0, the router's seed.
  std::size_t victim = 1;
  while (!nodes.is_master(victim)) ++victim;
  const redis_node_address dead{"127.0.0.1", nodes.node(victim).port()};
  nodes.node(victim).kill();
  // Until a replica is promoted the victim's slots fail; then every key reads back.
  int read = 0;
  for (auto deadline = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < deadline;) {
    read = keys_read_back(r, 100);
    if (read == 100) break;
    std::this_thread::sleep_for(200ms);
  }
  CHECK(read == 100);
  auto masters = r.masters();
  CHECK(masters.size() == 3);
  CHECK(std::find(masters.begin(), masters.end(), dead) == masters.end());
  // The dead node's connection went with the first map without it.
  CHECK_FALSE(r.has_connection(dead));
}
