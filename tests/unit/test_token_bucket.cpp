#include "protocol/token_bucket.hpp"

#include <catch2/catch.hpp>

using namespace parley;

namespace {

int drain(token_bucket& b, std::int64_t now_ms) {
  int n = 0;
  while (b.take(now_ms) && n < 10'000) ++n;
  return n;
}

}  // namespace

TEST_CASE("a token bucket starts full with its burst", "[protocol]") {
  token_bucket b(20, 50);
  CHECK(drain(b, 1000) == 50);
  CHECK_FALSE(b.take(1000));
}

TEST_CASE("a token bucket refills at its rate", "[protocol]") {
  token_bucket b(20, 50);
  drain(b, 1000);
  CHECK_FALSE(b.take(1049));  // 0.98 of a token
  CHECK(b.take(1050));        // one token after 50 ms at 20/s
  CHECK_FALSE(b.take(1050));
  CHECK(drain(b, 2050) == 20);  // one second later: 20 more
}

TEST_CASE("small refills add up to whole tokens", "[protocol]") {
  token_bucket b(20, 50);
  drain(b, 0);
  int taken = 0;
  for (std::int64_t t = 10; t <= 1000; t += 10) taken += b.take(t) ? 1 : 0;
  CHECK(taken == 20);
}

TEST_CASE("a token bucket never holds more than its burst", "[protocol]") {
  token_bucket b(20, 50);
  drain(b, 0);
  CHECK(drain(b, 3'600'000) == 50);
}

TEST_CASE("a clock going backwards neither refills nor blocks the bucket", "[protocol]") {
  token_bucket b(10, 5);
  drain(b, 100'000);
  CHECK_FALSE(b.take(50'000));  // backwards: no refill
  CHECK(b.take(50'100));        // time moves on from the new reading
  CHECK_FALSE(b.take(50'100));
}

TEST_CASE("a token bucket tells how long until its next token without taking it", "[protocol]") {
  token_bucket b(20, 2);
  CHECK(b.ms_until_token(1000) == 0);
  CHECK(b.take(1000));
  CHECK(b.take(1000));
  CHECK(b.ms_until_token(1000) == 50);
  CHECK(b.ms_until_token(1020) == 30);
  CHECK(b.ms_until_token(1050) == 0);
  CHECK(b.ms_until_token(1050) == 0);  // asking took nothing
  CHECK(b.take(1050));
}

TEST_CASE("a token bucket is full again once its burst has refilled", "[protocol]") {
  token_bucket b(10, 5);
  CHECK(b.full_at(0));
  CHECK(b.take(1000));
  CHECK_FALSE(b.full_at(1000));
  CHECK_FALSE(b.full_at(1099));
  CHECK(b.full_at(1100));
}
