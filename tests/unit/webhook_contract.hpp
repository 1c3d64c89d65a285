#pragma once
// What every engine's webhook outbox must do (storage/webhook_outbox.hpp),
// run by test_webhook_outbox.cpp on the embedded engine and on Redis: hooks
// stored in the append's atomic step, one sender per engagement queue at a
// time, order kept, failed entries out of the way, listings and re-queues.
#include "engine_contract.hpp"
#include "storage/webhook_hooks.hpp"

#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <future>
#include <string>
#include <vector>

namespace parley::testing {

inline std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline event phase_event(const std::string& eng, std::string from, std::string to, std::string cid = {}) {
  event ev;
  ev.ch = "eng:" + eng;
  ev.kind = "phase";
  ev.from = user{"u1", "", user_role::client};
  ev.cid = std::move(cid);
  ev.body = {{"from", std::move(from)}, {"to", std::move(to)}};
  return ev;
}

// Appends one phase event to `eng` (one hook), which must succeed.
inline void hook(engine& e, const std::string& eng, const std::string& to) {
  REQUIRE(append_sync(e, one(phase_event(eng, "x", to))));
}

template <class T, class Call>
result<T> outbox_sync(Call call) {
  std::promise<result<T>> p;
  auto f = p.get_future();
  call([&p](result<T> out) { p.set_value(std::move(out)); });
  return f.get();
}

inline result<std::vector<webhook_entry>> claim_sync(engine& e, const std::string& owner, std::int64_t now,
                                                     std::int64_t lease_ms = 30000, int limit = 100) {
  return outbox_sync<std::vector<webhook_entry>>(
      [&](auto done) { e.claim_webhooks(owner, now, lease_ms, limit, std::move(done)); });
}

inline result<void> finish_sync(engine& e, const std::string& owner, const webhook_entry& entry,
                                webhook_outcome outcome) {
  return outbox_sync<void>(
      [&](auto done) { e.finish_webhook(owner, entry.eng, entry.id, std::move(outcome), std::move(done)); });
}

// Records an outcome that must be accepted.
inline void finish_ok(engine& e, const std::string& owner, const webhook_entry& entry, webhook_outcome outcome) {
  auto done = finish_sync(e, owner, entry, std::move(outcome));
  INFO((done ? std::string() : done.err().message));
  REQUIRE(done);
}

inline result<webhook_page> list_sync(engine& e, webhook_state state, std::string after = {},
                                      int limit = max_webhook_page) {
  return outbox_sync<webhook_page>([&](auto done) { e.list_webhooks(state, after, limit, std::move(done)); });
}

inline result<webhook_entry> retry_sync(engine& e, const std::string& id, std::int64_t now) {
  return outbox_sync<webhook_entry>([&](auto done) { e.retry_webhook(id, now, std::move(done)); });
}

inline result<webhook_queue_stats> stats_sync(engine& e) {
  return outbox_sync<webhook_queue_stats>([&](auto done) { e.webhook_stats(std::move(done)); });
}

inline result<void> enqueue_sync(engine& e, std::vector<webhook_entry> entries) {
  return outbox_sync<void>([&](auto done) { e.enqueue_webhooks(std::move(entries), std::move(done)); });
}

inline std::vector<webhook_entry> pending(engine& e) {
  auto page = list_sync(e, webhook_state::pending);
  REQUIRE(page);
  return page->entries;
}

inline webhook_outcome delivered_at(std::int64_t at) { return {webhook_outcome::delivered, at, 0, ""}; }
inline webhook_outcome retry_at(std::int64_t at, std::int64_t next_at, std::string why) {
  return {webhook_outcome::retry, at, next_at, std::move(why)};
}
inline webhook_outcome failed_at(std::int64_t at, std::string why) {
  return {webhook_outcome::failed, at, 0, std::move(why)};
}

inline std::vector<std::string> ids_of(const std::vector<webhook_entry>& entries) {
  std::vector<std::string> ids;
  for (const auto& en : entries) ids.push_back(en.id);
  return ids;
}

// An append stores its hooks with its events; one that stores nothing (stale
// heads, a duplicate cid) stores no hook either.
inline void check_hooks_stored_with_append(engine& e) {
  auto out = append_sync(e, one(phase_event("a", "discovery", "agreement", "c1")));
  REQUIRE(out);
  auto stored = pending(e);
  REQUIRE(stored.size() == 1);
  const auto& h = stored[0];
  CHECK(h.type == "engagement.phase");
  CHECK(h.eng == "a");
  CHECK(h.id == webhook_id("a", "eng:a", 1, "engagement.phase"));
  CHECK(h.ts == out->committed[0].ts);
  CHECK(h.state == webhook_state::pending);
  CHECK(h.attempts == 0);
  auto body = parse_object(h.body);
  CHECK(body.at("id").as_string() == h.id);
  CHECK(body.at("data") == boost::json::object{{"from", "discovery"}, {"to", "agreement"}, {"seq", 1}});

  // The same cid again: the first event is answered, nothing more is stored.
  auto again = append_sync(e, one(phase_event("a", "discovery", "agreement", "c1")));
  REQUIRE(again);
  CHECK(again->duplicate);
  CHECK(pending(e).size() == 1);

  // Heads that moved on: nothing stored.
  append_request stale = one(phase_event("a", "agreement", "active"));
  stale.expect_heads.emplace_back("eng:a", 0);
  auto refused = append_sync(e, std::move(stale));
  REQUIRE_FALSE(refused);
  CHECK(stale_heads(refused.err()));
  CHECK(pending(e).size() == 1);

  // A message causes none; a record and a close cause theirs, in order.
  fill(e, "eng:a", 1);
  append_request close = one(phase_event("a", "completion", "closed"));
  close.record = record_draft{{{"eng", "a"}, {"ch", "eng:a"}, {"topic", "phase"}}, 0};
  close.closing_agreement = R"({"terms":{"price":10},"version":1})";
  REQUIRE(append_sync(e, std::move(close)));
  auto all = pending(e);
  REQUIRE(all.size() == 4);
  CHECK(all[1].type == "engagement.phase");
  CHECK(all[2].type == "decision.recorded");
  CHECK(all[3].type == "engagement.completed");
  auto completed = parse_object(all[3].body).at("data").as_object();
  CHECK(completed.at("agreement") == boost::json::parse(R"({"terms":{"price":10},"version":1})"));
  CHECK(completed.at("record").as_object().at("n") == 1);
}

// At most one entry per engagement, each queue's first, in queue order; a
// queue leased to another owner is skipped until the lease lapses.
inline void check_claims(engine& e) {
  hook(e, "a", "agreement");
  hook(e, "b", "agreement");
  hook(e, "a", "active");
  hook(e, "b", "active");
  auto queued = pending(e);
  REQUIRE(queued.size() == 4);
  const std::int64_t now = wall_ms() + 1000;

  auto first = claim_sync(e, "one", now, 10000);
  REQUIRE(first);
  CHECK(ids_of(*first) == std::vector<std::string>{queued[0].id, queued[1].id});

  auto other = claim_sync(e, "two", now + 5000, 10000);
  REQUIRE(other);
  CHECK(other->empty());

  // Not due yet: nothing.
  auto early = claim_sync(e, "three", queued[0].next_at - 1);
  REQUIRE(early);
  CHECK(early->empty());

  // A limit of one: one queue.
  auto lapsed = claim_sync(e, "two", now + 10001, 10000, 1);
  REQUIRE(lapsed);
  CHECK(ids_of(*lapsed) == std::vector<std::string>{queued[0].id});
  // The first owner lost that lease: its outcome changes nothing.
  auto lost = finish_sync(e, "one", (*first)[0], delivered_at(now + 10002));
  REQUIRE_FALSE(lost);
  CHECK(lost.err().code == errc::conflict);
  CHECK(pending(e).size() == 4);
  // It still holds b's (lapsed, but taken by no one): its outcome counts.
  finish_ok(e, "one", (*first)[1], delivered_at(now + 10002));
  finish_ok(e, "two", (*lapsed)[0], delivered_at(now + 10003));

  // The next of each queue comes out, once the previous was delivered.
  auto next = claim_sync(e, "one", now + 10004);
  REQUIRE(next);
  CHECK(ids_of(*next) == std::vector<std::string>{queued[2].id, queued[3].id});
  auto delivered = list_sync(e, webhook_state::delivered);
  REQUIRE(delivered);
  REQUIRE(delivered->entries.size() == 2);
  auto a = std::find_if(delivered->entries.begin(), delivered->entries.end(),
                        [&](const webhook_entry& en) { return en.id == queued[0].id; });
  REQUIRE(a != delivered->entries.end());
  CHECK(a->delivered_at == now + 10003);
  CHECK(a->attempts == 1);
  CHECK(a->state == webhook_state::delivered);
}

// A retry keeps the entry first (later ones wait), due at next_at; a failure
// takes it out of the way; retry_webhook puts it back where it was.
inline void check_retry_and_failure(engine& e) {
  hook(e, "a", "agreement");
  hook(e, "a", "active");
  hook(e, "a", "completion");
  auto queued = pending(e);
  REQUIRE(queued.size() == 3);
  const std::int64_t now = wall_ms() + 1000;

  auto c1 = claim_sync(e, "s", now);
  REQUIRE(c1);
  REQUIRE(ids_of(*c1) == std::vector<std::string>{queued[0].id});
  finish_ok(e, "s", (*c1)[0], retry_at(now, now + 5000, "HTTP 500"));
  auto waiting = claim_sync(e, "s", now + 4999);
  REQUIRE(waiting);
  CHECK(waiting->empty());
  // Another owner may take it: the lease was released with the outcome.
  auto c2 = claim_sync(e, "t", now + 5000);
  REQUIRE(c2);
  REQUIRE(c2->size() == 1);
  CHECK((*c2)[0].id == queued[0].id);
  CHECK((*c2)[0].attempts == 1);
  CHECK((*c2)[0].last_error == "HTTP 500");
  CHECK((*c2)[0].next_at == now + 5000);
  CHECK((*c2)[0].body == queued[0].body);

  finish_ok(e, "t", (*c2)[0], failed_at(now + 5001, "HTTP 410"));
  auto c3 = claim_sync(e, "t", now + 5002);
  REQUIRE(c3);
  REQUIRE(ids_of(*c3) == std::vector<std::string>{queued[1].id});

  auto failed = list_sync(e, webhook_state::failed);
  REQUIRE(failed);
  REQUIRE(failed->entries.size() == 1);
  CHECK(failed->entries[0].id == queued[0].id);
  CHECK(failed->entries[0].attempts == 2);
  CHECK(failed->entries[0].last_error == "HTTP 410");

  auto not_failed = retry_sync(e, queued[1].id, now);
  REQUIRE_FALSE(not_failed);
  CHECK(not_failed.err().code == errc::conflict);
  auto unknown = retry_sync(e, "wh_unknown", now);
  REQUIRE_FALSE(unknown);
  CHECK(unknown.err().code == errc::not_found);

  finish_ok(e, "t", (*c3)[0], delivered_at(now + 5003));
  auto requeued = retry_sync(e, queued[0].id, now + 6000);
  REQUIRE(requeued);
  CHECK(requeued->state == webhook_state::pending);
  CHECK(requeued->attempts == 0);
  CHECK(requeued->next_at == now + 6000);
  CHECK(list_sync(e, webhook_state::failed)->entries.empty());
  // Back in its original place: before the third, which was waiting.
  auto c4 = claim_sync(e, "t", now + 6000);
  REQUIRE(c4);
  CHECK(ids_of(*c4) == std::vector<std::string>{queued[0].id});
  CHECK(ids_of(pending(e)) == std::vector<std::string>{queued[0].id, queued[2].id});
}

// Listings page by state, oldest first; stats count what is pending.
inline void check_listing_and_stats(engine& e) {
  auto empty = stats_sync(e);
  REQUIRE(empty);
  CHECK(empty->pending == 0);
  CHECK(empty->oldest_pending_ts == 0);
  for (int i = 0; i < 5; ++i) hook(e, "e" + std::to_string(i), "agreement");
  auto all = pending(e);
  REQUIRE(all.size() == 5);

  std::vector<std::string> seen;
  std::string after;
  for (int pages = 0; pages < 5; ++pages) {
    auto page = list_sync(e, webhook_state::pending, after, 2);
    REQUIRE(page);
    CHECK(page->entries.size() <= 2);
    for (const auto& en : page->entries) seen.push_back(en.id);
    if (!page->next) break;
    CHECK(*page->next == page->entries.back().id);
    after = *page->next;
  }
  CHECK(seen == ids_of(all));
  CHECK(list_sync(e, webhook_state::failed)->entries.empty());
  CHECK(list_sync(e, webhook_state::pending, "", 0)->entries.size() == 1);

  auto stats = stats_sync(e);
  REQUIRE(stats);
  CHECK(stats->pending == 5);
  CHECK(stats->oldest_pending_ts == all[0].ts);

  auto claimed = claim_sync(e, "s", wall_ms() + 1000, 30000, 1);
  REQUIRE(claimed);
  REQUIRE(claimed->size() == 1);
  finish_ok(e, "s", (*claimed)[0], delivered_at(wall_ms()));
  CHECK(stats_sync(e)->pending == 4);
  CHECK(stats_sync(e)->oldest_pending_ts == all[1].ts);
}

// enqueue_webhooks adds at the end of the queue; an id stored before is left as it was.
inline void check_enqueue(engine& e) {
  hook(e, "a", "agreement");
  auto first = pending(e).at(0);
  const std::int64_t now = wall_ms();
  auto digest = make_webhook_entry("a", "digest:u1", 1, "notify.digest", now, {{"user", "u1"}, {"unread", 3}});
  auto changed = first;
  changed.body = R"({"changed":true})";
  REQUIRE(enqueue_sync(e, {digest, changed}));
  REQUIRE(enqueue_sync(e, {digest}));
  auto stored = pending(e);
  REQUIRE(stored.size() == 2);
  CHECK(stored[0].id == first.id);
  CHECK(stored[0].body == first.body);
  CHECK(stored[1].id == digest.id);
  CHECK(stored[1].type == "notify.digest");
  CHECK(stored[1].body == digest.body);
  CHECK(stored[1].eng == "a");
  REQUIRE(enqueue_sync(e, {}));
}

// Delivered entries are listed for the retention period, then pruned by a
// later claim; pending ones stay however old they are.
inline void check_retention(engine& e) {
  hook(e, "a", "agreement");
  hook(e, "b", "agreement");
  const std::int64_t now = wall_ms() + 1000;
  auto claimed = claim_sync(e, "s", now, 30000, 1);
  REQUIRE(claimed);
  REQUIRE(claimed->size() == 1);
  finish_ok(e, "s", (*claimed)[0], delivered_at(now));
  const std::int64_t later = now + webhook_retention_ms + 1;
  auto before = claim_sync(e, "s", now + webhook_retention_ms - 1, 30000, 0);
  REQUIRE(before);
  CHECK(list_sync(e, webhook_state::delivered)->entries.size() == 1);
  auto pruning = claim_sync(e, "s", later, 30000, 1);
  REQUIRE(pruning);
  CHECK(pruning->size() == 1);
  CHECK(list_sync(e, webhook_state::delivered)->entries.empty());
  CHECK(pending(e).size() == 1);
}

// With webhooks off nothing is stored, whatever is appended or enqueued.
inline void check_webhooks_off(engine& e) {
  hook(e, "a", "agreement");
  REQUIRE(enqueue_sync(e, {make_webhook_entry("a", "digest:u1", 1, "notify.digest", wall_ms(), {})}));
  CHECK(pending(e).empty());
  CHECK(stats_sync(e)->pending == 0);
  CHECK(claim_sync(e, "s", wall_ms() + 1000)->empty());
}

}  // namespace parley::testing
