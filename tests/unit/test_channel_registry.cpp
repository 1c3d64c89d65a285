#include "server/channel_registry.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using parley::channel_registry;

TEST_CASE("a member added to a channel is visited once per fan-out", "[server][registry]") {
  channel_registry<std::string> r;
  int a = 0, b = 0;
  REQUIRE(r.add("eng:1", &a, "a"));
  REQUIRE(r.add("eng:1", &b, "b"));
  REQUIRE_FALSE(r.add("eng:1", &a, "a again"));
  std::vector<std::string> seen;
  r.for_each("eng:1", [&](const std::string& m) { seen.push_back(m); });
  std::sort(seen.begin(), seen.end());
  REQUIRE(seen == std::vector<std::string>{"a", "b"});
  REQUIRE(r.members("eng:1") == 2);
}

TEST_CASE("channels are independent and an empty channel is dropped", "[server][registry]") {
  channel_registry<int> r;
  int a = 0;
  r.add("eng:1", &a, 1);
  r.add("eng:2", &a, 2);
  REQUIRE(r.channels() == 2);
  REQUIRE(r.remove("eng:1", &a));
  REQUIRE_FALSE(r.remove("eng:1", &a));
  REQUIRE(r.channels() == 1);
  int visits = 0;
  r.for_each("eng:1", [&](int) { ++visits; });
  REQUIRE(visits == 0);
  r.for_each("eng:2", [&](int m) { visits += m; });
  REQUIRE(visits == 2);
}

TEST_CASE("removing a member that never joined changes nothing", "[server][registry]") {
  channel_registry<int> r;
  int a = 0, b = 0;
  r.add("support", &a, 1);
  REQUIRE_FALSE(r.remove("support", &b));
  REQUIRE_FALSE(r.remove("eng:9", &a));
  REQUIRE(r.members("support") == 1);
}
