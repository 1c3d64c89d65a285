#include "protocol/webhook_retry.hpp"

#include <catch2/catch.hpp>

using namespace parley;

TEST_CASE("webhook retries start at 1 s and double up to 1 h", "[protocol][webhooks]") {
  webhook_retry_policy p;
  CHECK(webhook_retry_delay(p, 1) == 1000);
  CHECK(webhook_retry_delay(p, 2) == 2000);
  CHECK(webhook_retry_delay(p, 5) == 16000);
  CHECK(webhook_retry_delay(p, 12) == 2048000);
  CHECK(webhook_retry_delay(p, 13) == 3600000);
  CHECK(webhook_retry_delay(p, 1000000) == 3600000);
}

TEST_CASE("the jitter keeps a retry between half the delay and all of it", "[protocol][webhooks]") {
  webhook_retry_policy p;
  const std::int64_t created = 1'000'000, now = 2'000'000;
  CHECK(webhook_next_attempt(p, 3, created, now, 0.0) == now + 2000);
  CHECK(webhook_next_attempt(p, 3, created, now, 0.5) == now + 3000);
  CHECK(*webhook_next_attempt(p, 3, created, now, 0.999999) <= now + 4000);
  CHECK(*webhook_next_attempt(p, 3, created, now, 0.999999) > now + 3900);
  // A draw out of range is clamped, never a retry in the past.
  CHECK(webhook_next_attempt(p, 3, created, now, -7) == now + 2000);
  CHECK(webhook_next_attempt(p, 3, created, now, 7) == now + 4000);
}

TEST_CASE("a webhook is failed once its budget from creation is spent", "[protocol][webhooks]") {
  webhook_retry_policy p;
  p.budget_ms = 5000;
  const std::int64_t created = 1'000'000;
  // The last retry is made at the end of the budget, not skipped.
  CHECK(webhook_next_attempt(p, 3, created, created + 3500, 1.0) == created + 5000);
  CHECK_FALSE(webhook_next_attempt(p, 4, created, created + 5000, 0.0).has_value());
  CHECK_FALSE(webhook_next_attempt(p, 1, created, created + 9000, 0.0).has_value());
  // Three days by default: a day in, still retried, an hour apart at most.
  webhook_retry_policy standard;
  auto day = 24ll * 3600 * 1000;
  CHECK(webhook_next_attempt(standard, 40, 0, day, 1.0) == day + 3600 * 1000);
  CHECK_FALSE(webhook_next_attempt(standard, 40, 0, 3 * day, 0.0).has_value());
}
