#include "server/user_limits.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using namespace parley;

namespace {

user_limit_rates small_rates() {
  user_limit_rates r;
  for (auto& l : r.of) l = {5, 5};
  r[op_class::post] = {20, 50};
  r[op_class::channel] = {20, 200};
  r[op_class::http] = {20, 40};
  return r;
}

int drain(user_limits& l, std::string_view user, op_class c, std::int64_t now) {
  int n = 0;
  while (n < 10'000 && l.take(user, c, now)) ++n;
  return n;
}

}  // namespace

TEST_CASE("a user's posts share one bucket whichever connection makes them", "[server]") {
  user_limits l(small_rates());
  // Two connections of u1 alternate: together they get the burst, not twice it.
  int admitted = 0;
  for (int i = 0; i < 200; ++i)
    if (l.take("u1", op_class::post, 1000)) ++admitted;
  CHECK(admitted == 50);
  CHECK(drain(l, "u2", op_class::post, 1000) == 50);  // another user is not affected
}

TEST_CASE("each op class of a user has its own bucket", "[server]") {
  user_limits l(small_rates());
  CHECK(drain(l, "u", op_class::typing, 1000) == 5);
  CHECK(drain(l, "u", op_class::read, 1000) == 5);
  CHECK(drain(l, "u", op_class::availability, 1000) == 5);
  CHECK(drain(l, "u", op_class::channel, 1000) == 200);
  CHECK(drain(l, "u", op_class::post, 1000) == 50);
  CHECK(drain(l, "u", op_class::http, 1000) == 40);
}

TEST_CASE("a refused take says when the next token comes", "[server]") {
  user_limits l(small_rates());
  drain(l, "u", op_class::http, 1000);
  std::int64_t retry = -1;
  CHECK_FALSE(l.take("u", op_class::http, 1000, &retry));
  CHECK(retry == 50);
  CHECK(l.take("u", op_class::http, 1050));
}

TEST_CASE("users idle long enough for their buckets to refill are forgotten", "[server]") {
  user_limits l(small_rates());
  for (int i = 0; i < 10'000; ++i) CHECK(l.take("user-" + std::to_string(i), op_class::read, 1000));
  CHECK(l.size() == 10'000);
  // Later, when each shard is next used, the entries whose buckets are full again go.
  for (int i = 0; i < 200; ++i) l.take("other-" + std::to_string(i), op_class::post, 3000);
  CHECK(l.size() == 200);
}

TEST_CASE("forgetting an idle user changes none of its limits", "[server]") {
  user_limits l(small_rates());
  CHECK(drain(l, "u", op_class::post, 1000) == 50);
  // Still limited 1 s later: 20 tokens back, the entry is kept.
  l.take("x", op_class::post, 2000);
  CHECK(drain(l, "u", op_class::post, 2000) == 20);
}

TEST_CASE("the user limiter is safe to use from several threads", "[server]") {
  user_limits l(small_rates());
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i)
        if (l.take("shared", op_class::post, 1000)) admitted.fetch_add(1);
    });
  for (auto& t : threads) t.join();
  CHECK(admitted.load() == 50);
}
