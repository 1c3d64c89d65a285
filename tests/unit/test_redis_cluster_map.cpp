// Redis Cluster routing facts without a cluster: CLUSTER SLOTS replies and
// MOVED/ASK redirections as Redis 7 writes them, and what a confused or
// hostile node might send instead.
#include "redis_resp.hpp"
#include "storage/redis_cluster_map.hpp"
#include "storage/redis_subscriptions.hpp"

#include <catch2/catch.hpp>

#include <initializer_list>
#include <string>

using namespace parley;
using parley::test::resp;

namespace {

const redis_node_address asked{"127.0.0.1", 7000};

// RESP writers, so that each reply reads like the one Redis sends.
std::string bulk(const std::string& s) { return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n"; }
std::string num(long long n) { return ":" + std::to_string(n) + "\r\n"; }
std::string arr(std::initializer_list<std::string> items) {
  std::string out = "*" + std::to_string(items.size()) + "\r\n";
  for (const auto& item : items) out += item;
  return out;
}
std::string node(const std::string& host, int port, const std::string& id) {
  return arr({bulk(host), num(port), bulk(id), arr({})});
}

result<redis_slot_map> map_of(const std::string& bytes) {
  auto v = resp(bytes);
  REQUIRE(v);
  return redis_slot_map::from_cluster_slots(*v, asked);
}

// Three masters with a replica each, as `redis-cli --cluster create
// --cluster-replicas 1` lays them out.
std::string three_shards() {
  return arr({arr({num(0), num(5460), node("127.0.0.1", 7000, "a"), node("127.0.0.1", 7004, "d")}),
              arr({num(5461), num(10922), node("127.0.0.1", 7001, "b"), node("127.0.0.1", 7005, "e")}),
              arr({num(10923), num(16383), node("127.0.0.1", 7002, "c"), node("127.0.0.1", 7003, "f")})});
}

}  // namespace

TEST_CASE("CLUSTER SLOTS gives each slot its master, and every node to ask again", "[redis][cluster]") {
  auto map = map_of(three_shards());
  REQUIRE(map);
  CHECK(map->uncovered() == 0);
  CHECK(*map->master_of(0) == redis_node_address{"127.0.0.1", 7000});
  CHECK(*map->master_of(5460) == redis_node_address{"127.0.0.1", 7000});
  CHECK(*map->master_of(5461) == redis_node_address{"127.0.0.1", 7001});
  CHECK(*map->master_of(16383) == redis_node_address{"127.0.0.1", 7002});
  CHECK(map->masters() == std::vector<redis_node_address>{{"127.0.0.1", 7000}, {"127.0.0.1", 7001}, {"127.0.0.1", 7002}});
  CHECK(map->nodes().size() == 6);

  // A MOVED after a failover: the replica serves the slot from now on.
  map->moved(5461, {"127.0.0.1", 7005});
  CHECK(*map->master_of(5461) == redis_node_address{"127.0.0.1", 7005});
  CHECK(*map->master_of(5462) == redis_node_address{"127.0.0.1", 7001});
  CHECK(map->masters().size() == 4);
}

TEST_CASE("an empty host is the node asked, an unknown endpoint serves nothing, IPv6 is kept", "[redis][cluster]") {
  auto map = map_of(arr({arr({num(0), num(99), node("", 7001, "a")}),
                         arr({num(100), num(199), node("?", 7002, "b")}),
                         arr({num(200), num(299), node("::1", 7003, "c"), node("?", 7004, "d")})}));
  REQUIRE(map);
  CHECK(*map->master_of(0) == redis_node_address{"127.0.0.1", 7001});
  CHECK(map->master_of(100) == nullptr);
  CHECK(*map->master_of(299) == redis_node_address{"::1", 7003});
  CHECK(to_string(*map->master_of(299)) == "[::1]:7003");
  CHECK(map->uncovered() == redis_cluster_slots - 200);
  CHECK(map->nodes().size() == 2);
}

TEST_CASE("a malformed CLUSTER SLOTS reply is an error, never a map", "[redis][cluster]") {
  for (const auto& bytes : {
           bulk("not an array"),
           arr({num(0)}),                                                       // no end, no master
           arr({arr({num(0), num(16384), node("127.0.0.1", 7000, "a")})}),       // past the last slot
           arr({arr({num(-1), num(5), node("127.0.0.1", 7000, "a")})}),
           arr({arr({num(9), num(5), node("127.0.0.1", 7000, "a")})}),            // ends before it starts
           arr({arr({num(0), num(10), node("127.0.0.1", 7000, "a")}),
                arr({num(10), num(20), node("127.0.0.1", 7001, "b")})}),         // slot 10 twice
           arr({arr({num(0), num(10), node("127.0.0.1", 0, "a")})}),              // port 0
           arr({arr({num(0), num(10), node("127.0.0.1", 70000, "a")})}),
           arr({arr({num(0), num(10), arr({bulk("127.0.0.1")})})}),               // no port
           arr({arr({num(0), num(10), arr({num(1), num(2)})})}),                  // host not a string
           arr({arr({bulk("0"), num(10), node("127.0.0.1", 7000, "a")})}),        // slot not an integer
       }) {
    CAPTURE(bytes);
    auto map = map_of(bytes);
    REQUIRE_FALSE(map);
    CHECK(map.err().code == errc::internal);
  }
}

TEST_CASE("a host name in the map serves nothing: the loop cannot resolve names", "[redis][cluster]") {
  auto map = map_of(arr({arr({num(0), num(16383), node("redis-1.internal", 7000, "a")})}));
  REQUIRE(map);
  CHECK(map->master_of(0) == nullptr);
  CHECK(map->uncovered() == redis_cluster_slots);
}

TEST_CASE("MOVED and ASK name the slot and the node, other errors are not redirections", "[redis][cluster]") {
  auto moved = parse_redirect("MOVED 3999 127.0.0.1:6381", asked);
  REQUIRE(moved);
  CHECK(moved->type == redis_redirect::kind::moved);
  CHECK(moved->slot == 3999);
  CHECK(moved->node == redis_node_address{"127.0.0.1", 6381});

  auto ask = parse_redirect("ASK 16383 [::1]:7002", asked);
  REQUIRE(ask);
  CHECK(ask->type == redis_redirect::kind::ask);
  CHECK(ask->slot == 16383);
  CHECK(ask->node == redis_node_address{"::1", 7002});

  auto bare_v6 = parse_redirect("MOVED 1 ::1:7002", asked);
  REQUIRE(bare_v6);
  CHECK(bare_v6->node == redis_node_address{"::1", 7002});

  auto same_host = parse_redirect("MOVED 12 :7005", asked);
  REQUIRE(same_host);
  CHECK(same_host->node == redis_node_address{"127.0.0.1", 7005});

  for (const char* other : {"ERR unknown command", "MOVED", "MOVED 3999", "MOVED x 127.0.0.1:1", "MOVED 16384 127.0.0.1:1",
                            "MOVED -1 127.0.0.1:1", "MOVED 1 127.0.0.1", "MOVED 1 127.0.0.1:0", "MOVED 1 127.0.0.1:65536",
                            "MOVED 1 ?:7000", "MOVED 1 redis-1:7000", "ASK 1 127.0.0.1:7000 extra", "moved 1 127.0.0.1:7000",
                            "TRYAGAIN Multiple keys request during rehashing of slot", "CLUSTERDOWN The cluster is down"}) {
    CAPTURE(other);
    CHECK_FALSE(parse_redirect(other, asked));
  }
}

TEST_CASE("one server that is not a cluster serves every slot", "[redis][cluster]") {
  auto map = redis_slot_map::single({"127.0.0.1", 6379});
  CHECK(map.uncovered() == 0);
  REQUIRE(map.masters().size() == 1);
  CHECK(*map.master_of(0) == redis_node_address{"127.0.0.1", 6379});
  CHECK(*map.master_of(16383) == redis_node_address{"127.0.0.1", 6379});
  CHECK(map.master_of(16384) == nullptr);
}

TEST_CASE("two maps are the same when every slot keeps its master", "[redis][cluster]") {
  auto a = map_of(three_shards());
  auto b = map_of(three_shards());
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->same_masters(*b));
  b->moved(42, {"127.0.0.1", 7004});  // a failover of one slot's master
  CHECK_FALSE(a->same_masters(*b));
  CHECK_FALSE(a->same_masters(redis_slot_map::single({"127.0.0.1", 7000})));
}

TEST_CASE("a command is routed by its key: a script's first key, else the first argument", "[redis][cluster]") {
  using args = std::vector<std::string>;
  CHECK(redis_command_key(args{"HSET", "parley:{eng:a}:meta", "f", "v"}) == "parley:{eng:a}:meta");
  CHECK(redis_command_key(args{"spublish", "parley:{eng:a}:pub:eng:a", "m"}) == "parley:{eng:a}:pub:eng:a");
  CHECK(redis_command_key(args{"EVALSHA", "abc", "2", "k1", "k2", "argv"}) == "k1");
  CHECK(redis_command_key(args{"EVAL", "return 1", "0", "argv"}) == std::nullopt);
  CHECK(redis_command_key(args{"EVALSHA", "abc"}) == std::nullopt);
  CHECK(redis_command_key(args{"WAIT", "1", "1000"}) == std::nullopt);
  CHECK(redis_command_key(args{"config", "GET", "appendonly"}) == std::nullopt);
  CHECK(redis_command_key(args{"CLUSTER", "SLOTS"}) == std::nullopt);
  CHECK(redis_command_key(args{"PING"}) == std::nullopt);
  CHECK(redis_command_key(args{}) == std::nullopt);
}

TEST_CASE("a sharded push reads like a plain one", "[redis][cluster]") {
  CHECK(unsharded_push_kind("smessage") == "message");
  CHECK(unsharded_push_kind("ssubscribe") == "subscribe");
  CHECK(unsharded_push_kind("sunsubscribe") == "unsubscribe");
  CHECK(unsharded_push_kind("message") == "message");
  CHECK(unsharded_push_kind("subscribe") == "subscribe");
  CHECK(unsharded_push_kind("pmessage") == "pmessage");
  CHECK(unsharded_push_kind("") == "");
}
