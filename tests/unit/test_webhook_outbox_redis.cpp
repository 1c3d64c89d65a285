// The webhook outbox of the Redis engine against a real redis-server
// (webhook_contract.hpp), and what only a shared outbox has: two instances
// with one sender per queue, and global indices rebuilt after they were lost.
#include "webhook_contract.hpp"
#include "redis_fixture.hpp"
#include "storage/redis_append.hpp"
#include "storage/redis_engine.hpp"
#include "storage/redis_keys.hpp"
#include "storage/redis_slot.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace parley;
using namespace parley::testing;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<engine> open_outbox(const redis_server& redis, bool webhooks = true, std::string instance = "test",
                                    std::chrono::milliseconds reindex = 600000ms) {
  redis_engine_options options;
  options.url = redis.url();
  options.instance = std::move(instance);
  options.webhooks = webhooks;
  options.webhook_reindex_interval = reindex;
  auto e = make_redis_engine(options);
  for (int i = 0; i < 500 && !e->ready(); ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(e->ready());
  return e;
}

}  // namespace

TEST_CASE("redis: an append stores the hooks it causes in its script, and a refused one none",
          "[redis][webhooks]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_outbox(redis);
  check_hooks_stored_with_append(*e);
}

TEST_CASE("redis: claims lease one queue per engagement, first entry only, until the lease lapses",
          "[redis][webhooks]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_outbox(redis);
  check_claims(*e);
}

TEST_CASE("redis: a retried hook keeps its place, a failed one lets the next through and can be re-queued",
          "[redis][webhooks]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_outbox(redis);
  check_retry_and_failure(*e);
}

TEST_CASE("redis: hooks are listed by state a page at a time and counted", "[redis][webhooks]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_outbox(redis);
  check_listing_and_stats(*e);
}

TEST_CASE("redis: enqueued hooks join the end of their queue and a known id is left as it was", "[redis][webhooks]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_outbox(redis);
  check_enqueue(*e);
}

TEST_CASE("redis: without webhooks nothing is stored", "[redis][webhooks]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_outbox(redis, false);
  check_webhooks_off(*e);
  CHECK(redis.command({"KEYS", "*wh*"}).empty());
}

TEST_CASE("redis: two instances never hold one queue at once, and one takes over when the other's lease lapses",
          "[redis][webhooks]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto one = open_outbox(redis, true, "one");
  auto two = open_outbox(redis, true, "two");
  hook(*one, "a", "agreement");
  hook(*two, "a", "active");
  const std::int64_t now = wall_ms() + 1000;
  auto first = claim_sync(*one, "one", now, 10000);
  REQUIRE(first);
  REQUIRE(first->size() == 1);
  auto blocked = claim_sync(*two, "two", now + 1, 10000);
  REQUIRE(blocked);
  CHECK(blocked->empty());
  // "one" crashed: its lease lapses and "two" sends the same entry.
  auto taken = claim_sync(*two, "two", now + 10001, 10000);
  REQUIRE(taken);
  REQUIRE(taken->size() == 1);
  CHECK((*taken)[0].id == (*first)[0].id);
  auto late = finish_sync(*one, "one", (*first)[0], delivered_at(now + 10002));
  REQUIRE_FALSE(late);
  CHECK(late.err().code == errc::conflict);
  finish_ok(*two, "two", (*taken)[0], delivered_at(now + 10003));
  auto next = claim_sync(*one, "one", now + 10004);
  REQUIRE(next);
  REQUIRE(next->size() == 1);
  CHECK((*next)[0].type == "engagement.phase");
  CHECK(parse_object((*next)[0].body).at("data").as_object().at("to") == "active");
}

TEST_CASE("redis: global indices lost (a crash after the script) are rebuilt from the queues", "[redis][webhooks]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  {
    auto e = open_outbox(redis);
    hook(*e, "a", "agreement");
    hook(*e, "b", "agreement");
    REQUIRE(pending(*e).size() == 2);
  }
  for (std::string key : {"parley:webhooks:due", "parley:webhooks:pending", "parley:webhooks:eng"})
    redis.command({"DEL", key});
  // A new instance rebuilds them when it connects.
  auto e = open_outbox(redis);
  std::vector<webhook_entry> found;
  for (int i = 0; i < 200 && found.size() < 2; ++i) {
    std::this_thread::sleep_for(10ms);
    found = pending(*e);
  }
  REQUIRE(found.size() == 2);
  auto claimed = claim_sync(*e, "s", wall_ms() + 1000);
  REQUIRE(claimed);
  CHECK(claimed->size() == 2);
  CHECK(stats_sync(*e)->pending == 2);
}

TEST_CASE("redis: an append's hooks are written to keys of its engagement's slot", "[redis][webhooks]") {
  append_request req;
  event flag = make_event("eng:42", "u1", "x");
  flag.kind = "flag";
  flag.body = {{"type", "risk"}, {"text", "late"}};
  req.events.push_back(flag);
  req.events.push_back(phase_event("42", "active", "completion"));
  req.sealed = "payload";
  auto plan = plan_append(req.events, std::nullopt, {}, 1000, log_tail{}, nullptr);
  auto hooks = webhook_entries_of(plan, {});
  REQUIRE(hooks.size() == 2);
  auto call = append_args::pinned(req, plan, hooks);
  REQUIRE(call);
  auto args = call->command("epoch");
  const auto keys = static_cast<std::size_t>(std::stoi(args.at(0)));
  // cids, log, meta and stream of the one channel, sealed, wh:meta, wh:queue and one per hook.
  REQUIRE(keys == 2 + 2 + 1 + 2 + hooks.size());
  for (std::size_t k = 1; k <= keys; ++k) CHECK(redis_key_slot(args[k]) == redis_key_slot(log_key("42")));
  CHECK(args[keys] == webhook_entry_key("42", hooks.back().id));
  // The sealed payload stays the last argument.
  CHECK(args.back() == "payload");

  // Hooks of two engagements in one append are refused.
  auto other = hooks;
  other[1].eng = "43";
  CHECK_FALSE(append_args::pinned(req, plan, other));
}

TEST_CASE("redis: delivered hooks are listed for the retention period, then pruned", "[redis][webhooks]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_outbox(redis);
  check_retention(*e);
}
