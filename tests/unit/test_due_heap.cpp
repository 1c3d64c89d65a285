// The watchers' schedule: one live due per key, the earliest first, stale
// entries skipped and the heap kept bounded however often a key moves.
#include "server/due_heap.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace parley;

TEST_CASE("keys come out when due, earliest first, once", "[server]") {
  due_heap h;
  CHECK_FALSE(h.top());
  CHECK(h.set("b", 20));
  CHECK(h.set("a", 10));
  CHECK(h.set("c", 30));
  CHECK(h.top() == 10);
  CHECK(h.take_due(5).empty());
  CHECK(h.take_due(20) == std::vector<std::string>{"a", "b"});
  CHECK(h.take_due(20).empty());
  CHECK(h.due_of("c") == 30);
  CHECK_FALSE(h.due_of("a"));
  CHECK(h.size() == 1);
}

TEST_CASE("a moved due replaces the old one, which is skipped as stale", "[server]") {
  due_heap h;
  h.set("a", 10);
  CHECK_FALSE(h.set("a", 10));  // the same: nothing changes
  CHECK(h.set("a", 50));
  CHECK(h.take_due(10).empty());  // the stale 10 is no due any more
  CHECK(h.due_of("a") == 50);
  CHECK(h.set("a", 5));
  CHECK(h.take_due(6) == std::vector<std::string>{"a"});
  CHECK(h.take_due(100).empty());  // nor is the stale 50
}

TEST_CASE("a key moved on every event keeps the heap bounded", "[server]") {
  due_heap h;
  for (int i = 0; i < 100'000; ++i) h.set("busy", 1'000'000 - i);
  CHECK(h.size() == 1);
  CHECK(h.entries() <= 2 * h.size() + 1024 + 1);
  CHECK(h.take_due(1'000'000) == std::vector<std::string>{"busy"});
}
