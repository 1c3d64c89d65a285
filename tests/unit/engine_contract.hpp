#pragma once
// What every storage engine must do, whichever it is: synchronous wrappers
// around the asynchronous engine interface, and the contract checks that
// test_local_engine.cpp and test_redis_engine.cpp both run on their engine.
#include "protocol/base64url.hpp"
#include "protocol/decision_log.hpp"
#include "protocol/signing.hpp"
#include "storage/engine.hpp"

#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <future>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace parley::testing {

inline event make_event(std::string ch, std::string sender, std::string text, std::string cid = {}) {
  event ev;
  ev.ch = std::move(ch);
  ev.kind = "message";
  ev.from = user{std::move(sender), "", user_role::client};
  ev.cid = std::move(cid);
  ev.body["text"] = std::move(text);
  return ev;
}

inline append_request one(event ev) {
  append_request req;
  req.events.push_back(std::move(ev));
  return req;
}

inline result<appended> append_sync(engine& e, append_request req) {
  std::promise<result<appended>> p;
  auto f = p.get_future();
  e.append(std::move(req), [&p](result<appended> out) { p.set_value(std::move(out)); });
  return f.get();
}

inline result<channel_window> read_sync(engine& e, read_query q) {
  std::promise<result<channel_window>> p;
  auto f = p.get_future();
  e.read(std::move(q), [&p](result<channel_window> out) { p.set_value(std::move(out)); });
  return f.get();
}

inline result<channel_window> read_window(engine& e, const std::string& ch, std::optional<std::int64_t> after,
                                std::optional<std::int64_t> before, int limit) {
  read_query q;
  q.ch = ch;
  q.after = after;
  q.before = before;
  q.limit = limit;
  return read_sync(e, std::move(q));
}

inline result<channel_window> head_of(engine& e, const std::string& ch) {
  return read_window(e, ch, std::nullopt, std::nullopt, 1);
}

inline result<records_page> records_sync(engine& e, std::string eng, std::int64_t after = 0,
                                         int limit = max_records_page) {
  std::promise<result<records_page>> p;
  auto f = p.get_future();
  e.read_records(std::move(eng), after, limit, [&p](result<records_page> out) { p.set_value(std::move(out)); });
  return f.get();
}

inline std::vector<std::int64_t> seqs_of(const channel_window& window) {
  std::vector<std::int64_t> seqs;
  for (const auto& ev : window.events) seqs.push_back(ev.seq);
  return seqs;
}

// The seqs of a read that must have succeeded.
inline std::vector<std::int64_t> seqs_of(const result<channel_window>& read) {
  REQUIRE(read);
  return seqs_of(*read);
}

inline std::vector<std::int64_t> range(std::int64_t first, std::int64_t last) {
  std::vector<std::int64_t> v;
  for (std::int64_t i = first; i <= last; ++i) v.push_back(i);
  return v;
}

inline boost::json::object parse_object(const std::string& json) { return boost::json::parse(json).as_object(); }

inline void fill(engine& e, const std::string& ch, int count) {
  for (int i = 1; i <= count; ++i) REQUIRE(append_sync(e, one(make_event(ch, "u1", "m" + std::to_string(i)))));
}

// With `support` holding 3 events and `eng:a` none: one request appending to
// both gets each channel's next seqs, in request order, and one ts.
inline void check_request_across_channels(engine& e) {
  append_request req;
  req.events.push_back(make_event("eng:a", "u1", "flag"));
  req.events.push_back(make_event("support", "system", "notice"));
  req.events.push_back(make_event("eng:a", "system", "sla"));
  auto out = append_sync(e, std::move(req));
  REQUIRE(out);
  REQUIRE(out->committed.size() == 3);
  CHECK(out->committed[0].seq == 1);
  CHECK(out->committed[1].seq == 4);
  CHECK(out->committed[2].seq == 2);
  CHECK(out->committed[0].ts == out->committed[1].ts);
  CHECK(out->committed[1].ts == out->committed[2].ts);
}

// after / before / tail windows, ascending, limits clamped, per channel.
inline void check_read_windows(engine& e) {
  fill(e, "eng:a", 30);
  fill(e, "eng:b", 5);

  SECTION("without after or before: the last limit events") {
    auto r = read_window(e, "eng:a", std::nullopt, std::nullopt, 10);
    REQUIRE(r);
    CHECK(r->head == 30);
    CHECK(seqs_of(r) == range(21, 30));
  }
  SECTION("after: the first limit events after it") {
    CHECK(seqs_of(read_window(e, "eng:a", 5, std::nullopt, 10)) == range(6, 15));
    CHECK(seqs_of(read_window(e, "eng:a", 25, std::nullopt, 10)) == range(26, 30));
    CHECK(read_window(e, "eng:a", 30, std::nullopt, 10)->events.empty());
    CHECK(seqs_of(read_window(e, "eng:a", 0, std::nullopt, 3)) == range(1, 3));
    CHECK(seqs_of(read_window(e, "eng:a", -7, std::nullopt, 2)) == range(1, 2));
  }
  SECTION("before: the last limit events before it") {
    CHECK(seqs_of(read_window(e, "eng:a", std::nullopt, 21, 10)) == range(11, 20));
    CHECK(seqs_of(read_window(e, "eng:a", std::nullopt, 4, 10)) == range(1, 3));
    CHECK(read_window(e, "eng:a", std::nullopt, 1, 10)->events.empty());
  }
  SECTION("after and before together: the events between them") {
    CHECK(seqs_of(read_window(e, "eng:a", 10, 14, 50)) == range(11, 13));
    CHECK(read_window(e, "eng:a", 10, 11, 50)->events.empty());
  }
  SECTION("limits are clamped to 1..1000") {
    CHECK(seqs_of(read_window(e, "eng:a", std::nullopt, std::nullopt, 0)) == range(30, 30));
    CHECK(seqs_of(read_window(e, "eng:a", std::nullopt, std::nullopt, -5)) == range(30, 30));
    CHECK(read_window(e, "eng:a", std::nullopt, std::nullopt, 1000000)->events.size() == 30);
  }
  SECTION("events are those stored, of that channel only") {
    auto r = read_window(e, "eng:b", std::nullopt, std::nullopt, 50);
    CHECK(r->head == 5);
    REQUIRE(r->events.size() == 5);
    auto third = parse_object(*r->events[2].json);
    CHECK(third.at("ch").as_string() == "eng:b");
    CHECK(third.at("seq").as_int64() == 3);
    CHECK(third.at("body").as_object().at("text").as_string() == "m3");
  }
  SECTION("an empty channel has head 0, no events, and an epoch") {
    auto r = read_window(e, "eng:empty", std::nullopt, std::nullopt, 50);
    REQUIRE(r);
    CHECK(r->head == 0);
    CHECK(r->events.empty());
    CHECK(r->epoch.size() == 16);
  }
}

// A read never returns more than 1000 events.
inline void check_read_limit(engine& e) {
  append_request req;
  for (int i = 0; i < 1200; ++i) req.events.push_back(make_event("eng:big", "u1", "m"));
  auto out = append_sync(e, std::move(req));
  REQUIRE(out);
  CHECK(out->committed.back().seq == 1200);
  CHECK(seqs_of(read_window(e, "eng:big", 0, std::nullopt, 5000)) == range(1, 1000));
  CHECK(seqs_of(read_window(e, "eng:big", std::nullopt, std::nullopt, 5000)) == range(201, 1200));
}

// The idempotency key (channel, sender, cid) finds the stored event, and only it.
inline void check_find_by_cid(engine& e) {
  fill(e, "eng:a", 2);
  auto stored = append_sync(e, one(make_event("eng:a", "u1", "decided", "c-7")));
  REQUIRE(stored);

  auto find = [&](std::string ch, std::string sender, std::string cid) {
    std::promise<result<std::optional<committed_event>>> p;
    e.find_by_cid(ch, sender, cid, [&](result<std::optional<committed_event>> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  };
  auto found = find("eng:a", "u1", "c-7");
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  CHECK((*found)->seq == 3);
  CHECK((*found)->ts == stored->committed[0].ts);
  CHECK((*found)->ch == "eng:a");
  CHECK(*(*found)->json == *stored->committed[0].json);
  CHECK_FALSE(find("eng:a", "u2", "c-7")->has_value());
  CHECK_FALSE(find("eng:b", "u1", "c-7")->has_value());
  // Length-prefixed keys: sender "u1c" with cid "-7" is another key.
  CHECK_FALSE(find("eng:a", "u1c", "-7")->has_value());
}

// A committed event holds its JSON and the same event parsed: what the JSON says.
inline bool carries_parsed(const committed_event& c) {
  return c.event && serialize_event(*c.event) == *c.json && c.event->seq == c.seq && c.event->ts == c.ts &&
         c.event->ch == c.ch;
}

// Appends, duplicates and cid lookups hand back the event parsed (no reader parses it again).
inline void check_parsed_events(engine& e) {
  auto req = append_request{};
  req.events = {make_event("eng:p", "u1", "accepted", "c-1"), make_event("eng:p", "u1", "phase")};
  req.record = record_draft{{{"eng", "p"}, {"topic", "phase"}}, 1};
  auto out = append_sync(e, req);
  REQUIRE(out);
  REQUIRE(out->committed.size() == 2);
  for (const auto& c : out->committed) CHECK(carries_parsed(c));
  CHECK(out->committed[1].event->body.at("record").at("n").as_int64() == 1);

  auto again = append_sync(e, req);
  REQUIRE(again);
  CHECK(again->duplicate);
  REQUIRE(again->committed.size() == 1);
  CHECK(carries_parsed(again->committed[0]));

  std::promise<result<std::optional<committed_event>>> p;
  e.find_by_cid("eng:p", "u1", "c-1", [&](result<std::optional<committed_event>> r) { p.set_value(std::move(r)); });
  auto found = p.get_future().get();
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  CHECK(carries_parsed(**found));
}

// expect_heads: an append whose heads moved on stores nothing, record included.
inline void check_expect_heads(engine& e) {
  fill(e, "eng:a", 2);

  auto req = one(make_event("eng:a", "u1", "checked against head 1"));
  req.expect_heads = {{"eng:a", 1}, {"eng:a:mediation", 0}};
  auto stale = append_sync(e, req);
  REQUIRE_FALSE(stale);
  CHECK(stale.err().code == errc::conflict);
  CHECK(stale_heads(stale.err()));
  CHECK(head_of(e, "eng:a")->head == 2);

  auto fresh = one(make_event("eng:a", "u1", "checked against head 2"));
  fresh.expect_heads = {{"eng:a", 2}, {"eng:a:mediation", 0}};
  auto ok = append_sync(e, fresh);
  REQUIRE(ok);
  CHECK(ok->committed[0].seq == 3);

  // A record append checks its heads as well.
  auto with_record = one(make_event("eng:a", "u1", "decision"));
  with_record.record = record_draft{{{"eng", "a"}, {"topic", "phase"}}, 0};
  with_record.expect_heads = {{"eng:a", 2}};
  auto stale_record = append_sync(e, with_record);
  REQUIRE_FALSE(stale_record);
  CHECK(stale_heads(stale_record.err()));
  CHECK(records_sync(e, "a")->records.empty());
}

// A key for engines that sign: fixed, so that failures reproduce.
inline std::shared_ptr<const ed25519_key> test_signer() {
  auto key = ed25519_key::from_seed(std::string(32, '\x2a'));
  REQUIRE(key);
  return std::make_shared<const ed25519_key>(*key);
}

// Records of an engine with a signer carry kid and sig; the hash leaves them out.
inline void check_signed_records(engine& e, const ed25519_key& signer) {
  key_set keys;
  keys.add(signer);
  for (int i = 1; i <= 2; ++i) {
    auto req = one(make_event("eng:s", "u1", "decision " + std::to_string(i)));
    req.record = record_draft{{{"eng", "s"}, {"topic", "timeline"}, {"terms", {{"weeks", i}}}}, 0};
    auto out = append_sync(e, req);
    REQUIRE(out);
    auto stored = boost::json::parse(*out->committed[0].json).as_object();
    CHECK(stored.at("body").at("record").at("n").as_int64() == i);
  }
  auto log = records_sync(e, "s");
  REQUIRE(log);
  REQUIRE(log->records.size() == 2);
  for (const auto& r : log->records) {
    INFO(boost::json::serialize(r));
    CHECK(r.at("kid").as_string() == signer.kid());
    CHECK(r.at("hash").as_string() == record_hash(r));
    CHECK(check_record_signature(r, keys));
    auto sig = base64url_decode(r.at("sig").as_string());
    REQUIRE(sig);
    CHECK(signer.verify(r.at("hash").as_string(), *sig));
  }
  CHECK(verify_chain(log->records));
}

// The decision log is read a page at a time; `next` is the n to page on from.
inline void check_records_paging(engine& e) {
  for (int i = 1; i <= 5; ++i) {
    auto req = one(make_event("eng:p", "u1", "decision " + std::to_string(i)));
    req.record = record_draft{{{"eng", "p"}, {"topic", "phase"}}, 0};
    REQUIRE(append_sync(e, req));
  }
  auto ns = [](const result<records_page>& r) {
    std::vector<std::int64_t> v;
    for (const auto& rec : r->records) v.push_back(rec.at("n").as_int64());
    return v;
  };
  auto all = records_sync(e, "p");
  CHECK(ns(all) == range(1, 5));
  CHECK_FALSE(all->next);
  auto first = records_sync(e, "p", 0, 2);
  CHECK(ns(first) == range(1, 2));
  CHECK(first->next == std::optional<std::int64_t>(2));
  auto second = records_sync(e, "p", 2, 2);
  CHECK(ns(second) == range(3, 4));
  CHECK(second->next == std::optional<std::int64_t>(4));
  auto last = records_sync(e, "p", 4, 2);
  CHECK(ns(last) == range(5, 5));
  CHECK_FALSE(last->next);
  auto exact = records_sync(e, "p", 0, 5);
  CHECK(exact->records.size() == 5);
  CHECK_FALSE(exact->next);
  auto beyond = records_sync(e, "p", 5, 10);
  CHECK(beyond->records.empty());
  CHECK_FALSE(beyond->next);
}

// A byte-bounded read holds the oldest events of the same window up to the
// bound (at least one) and says when it left later ones out.
inline void check_bounded_reads(engine& e) {
  fill(e, "eng:a", 30);
  auto bounded = [&](std::optional<std::int64_t> after, std::optional<std::int64_t> before, int limit,
                     std::size_t max_bytes) {
    read_query q;
    q.ch = "eng:a";
    q.after = after;
    q.before = before;
    q.limit = limit;
    q.max_bytes = max_bytes;
    auto out = read_sync(e, q);
    REQUIRE(out);
    return *out;
  };
  // The bytes of events first..last, as stored.
  auto all = read_window(e, "eng:a", 0, std::nullopt, 100);
  auto bytes = [&](std::int64_t first, std::int64_t last) {
    std::size_t n = 0;
    for (auto seq = first; seq <= last; ++seq) n += all->events[static_cast<std::size_t>(seq - 1)].json->size();
    return n;
  };
  SECTION("each kind of window keeps its oldest events that fit") {
    auto tail = bounded(std::nullopt, std::nullopt, 10, bytes(21, 23));
    CHECK(seqs_of(tail) == range(21, 23));
    CHECK(tail.truncated);
    CHECK(tail.head == 30);
    CHECK(seqs_of(bounded(5, std::nullopt, 10, bytes(6, 8) + 1)) == range(6, 8));
    CHECK(seqs_of(bounded(std::nullopt, 21, 10, bytes(11, 13))) == range(11, 13));
    auto between = bounded(10, 14, 50, bytes(11, 13));
    CHECK(seqs_of(between) == range(11, 13));
    CHECK_FALSE(between.truncated);
  }
  SECTION("at least one event, and no cut when the window fits") {
    auto one = bounded(std::nullopt, std::nullopt, 10, 1);
    CHECK(seqs_of(one) == range(21, 21));
    CHECK(one.truncated);
    auto whole = bounded(std::nullopt, std::nullopt, 10, bytes(21, 30));
    CHECK(seqs_of(whole) == range(21, 30));
    CHECK_FALSE(whole.truncated);
    CHECK(seqs_of(bounded(-7, std::nullopt, 2, 1 << 20)) == range(1, 2));
  }
  SECTION("empty windows stay empty") {
    CHECK(bounded(30, std::nullopt, 10, 1).events.empty());
    CHECK(bounded(std::nullopt, 1, 10, 1).events.empty());
    CHECK(bounded(10, 11, 10, 1).events.empty());
    CHECK_FALSE(bounded(30, std::nullopt, 10, 1).truncated);
    read_query q;
    q.ch = "eng:none";
    q.max_bytes = 100;
    auto none = read_sync(e, q);
    REQUIRE(none);
    CHECK(none->head == 0);
    CHECK(none->events.empty());
  }
}

inline result<engagement_ids_page> engagements_after_sync(engine& e, std::string after, int limit) {
  std::promise<result<engagement_ids_page>> p;
  auto f = p.get_future();
  e.list_engagements_after(std::move(after), limit, [&p](result<engagement_ids_page> out) { p.set_value(std::move(out)); });
  return f.get();
}

// Engagements are listed a page at a time in id (byte) order, each once:
// only those whose main channel holds events, from any id on.
inline void check_engagement_pages(engine& e) {
  for (std::string eng : {"m", "B", "a-1", "a", "z_9", "a0"}) fill(e, "eng:" + eng, 1);
  fill(e, "eng:only-mediation:mediation", 1);
  fill(e, "support", 1);
  const std::vector<std::string> all{"B", "a", "a-1", "a0", "m", "z_9"};

  std::vector<std::string> seen;
  std::string after;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = engagements_after_sync(e, after, 4);
    REQUIRE(page);
    CHECK(page->ids.size() <= 4);
    seen.insert(seen.end(), page->ids.begin(), page->ids.end());
    if (!page->next) break;
    CHECK(*page->next == page->ids.back());
    after = *page->next;
  }
  CHECK(seen == all);

  auto exact = engagements_after_sync(e, "", 6);
  REQUIRE(exact);
  CHECK(exact->ids == all);
  CHECK_FALSE(exact->next);
  // An id that is not listed still orders the page: what sorts after it.
  auto between = engagements_after_sync(e, "a00", 50);
  REQUIRE(between);
  CHECK(between->ids == std::vector<std::string>{"m", "z_9"});
  auto past = engagements_after_sync(e, "zz", 50);
  REQUIRE(past);
  CHECK(past->ids.empty());
  CHECK_FALSE(past->next);
  // Limits are clamped to 1..max_engagements_page.
  auto clamped = engagements_after_sync(e, "", 0);
  REQUIRE(clamped);
  CHECK(clamped->ids == std::vector<std::string>{"B"});
  CHECK(clamped->next == std::optional<std::string>("B"));
  CHECK(engagements_after_sync(e, "", 1000000)->ids == all);
}

inline result<std::vector<std::string>> claim_due_sync(engine& e, std::int64_t now, std::int64_t lease_ms, int limit) {
  std::promise<result<std::vector<std::string>>> p;
  auto f = p.get_future();
  e.claim_due(now, lease_ms, limit, [&p](result<std::vector<std::string>> out) { p.set_value(std::move(out)); });
  return f.get();
}

inline result<bool> due_index_complete_sync(engine& e) {
  std::promise<result<bool>> p;
  e.due_index_complete([&p](result<bool> r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

inline result<void> mark_due_index_complete_sync(engine& e) {
  std::promise<result<void>> p;
  e.mark_due_index_complete([&p](result<void> r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

inline std::set<std::string> claimed_set(engine& e, std::int64_t now, std::int64_t lease_ms, int limit) {
  auto got = claim_due_sync(e, now, lease_ms, limit);
  REQUIRE(got);
  return {got->begin(), got->end()};
}

// The due index: what is due is claimed once per lease, a later due or a
// removed key is not, a claim takes no more than its limit, and the
// completeness mark is kept.
inline void check_due_index(engine& e) {
  e.set_due("s:a", 100);
  e.set_due("s:b", 50);
  e.set_due("s:c", 200);
  e.set_due("d:a", 120);
  e.set_due("s:gone", 10);
  e.set_due("s:gone", std::nullopt);
  CHECK(claimed_set(e, 150, 1000, 10) == std::set<std::string>{"s:a", "s:b", "d:a"});
  // Leased until 1150: nobody else gets them meanwhile.
  CHECK(claimed_set(e, 150, 1000, 10).empty());
  CHECK(claimed_set(e, 1000, 1000, 10) == std::set<std::string>{"s:c"});
  // The claimer set no new due: the lease ran out, they come back.
  CHECK(claimed_set(e, 1200, 1000, 10) == std::set<std::string>{"s:a", "s:b", "d:a"});
  // A new due replaces the lease.
  e.set_due("s:a", 5000);
  CHECK(claimed_set(e, 2500, 100000, 10) == std::set<std::string>{"s:b", "d:a", "s:c"});
  CHECK(claimed_set(e, 5000, 100000, 10) == std::set<std::string>{"s:a"});

  for (int i = 0; i < 30; ++i) e.set_due("s:many-" + std::to_string(i), 10000);
  std::set<std::string> many;
  for (int round = 0; round < 3; ++round) {
    auto got = claim_due_sync(e, 10000, 100000, 10);
    REQUIRE(got);
    CHECK(got->size() == 10);
    many.insert(got->begin(), got->end());
  }
  CHECK(many.size() == 30);
  CHECK(claimed_set(e, 10000, 100000, 10).empty());

  auto was = due_index_complete_sync(e);
  REQUIRE(was);
  CHECK_FALSE(*was);
  REQUIRE(mark_due_index_complete_sync(e));
  auto is = due_index_complete_sync(e);
  REQUIRE(is);
  CHECK(*is);
}

inline result<void> save_snapshot_sync(engine& e, std::string eng, std::int64_t revision, std::string text) {
  std::promise<result<void>> p;
  e.save_snapshot(std::move(eng), revision, std::move(text), [&p](result<void> r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

inline result<std::optional<std::string>> load_snapshot_sync(engine& e, std::string eng) {
  std::promise<result<std::optional<std::string>>> p;
  e.load_snapshot(std::move(eng), [&p](result<std::optional<std::string>> r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

inline std::optional<std::string> stored_snapshot(engine& e, const std::string& eng) {
  auto got = load_snapshot_sync(e, eng);
  REQUIRE(got);
  return *got;
}

// Snapshots: none until one is saved; a newer revision replaces the stored
// one, an older one does not; each engagement keeps its own; a large one
// (open proposals hold up to 192 KiB) is stored whole.
inline void check_snapshots(engine& e) {
  CHECK_FALSE(stored_snapshot(e, "s1"));
  REQUIRE(save_snapshot_sync(e, "s1", 10, "{\"at\":10}"));
  CHECK(stored_snapshot(e, "s1") == "{\"at\":10}");
  REQUIRE(save_snapshot_sync(e, "s1", 25, "{\"at\":25}"));
  CHECK(stored_snapshot(e, "s1") == "{\"at\":25}");
  // A slower instance's older snapshot arrives late: the newer one stays.
  REQUIRE(save_snapshot_sync(e, "s1", 12, "{\"at\":12}"));
  CHECK(stored_snapshot(e, "s1") == "{\"at\":25}");
  CHECK_FALSE(stored_snapshot(e, "s2"));
  std::string large(300 * 1024, 'x');
  REQUIRE(save_snapshot_sync(e, "s2", 1, large));
  CHECK(stored_snapshot(e, "s2") == large);
  CHECK(stored_snapshot(e, "s1") == "{\"at\":25}");
}

}  // namespace parley::testing
