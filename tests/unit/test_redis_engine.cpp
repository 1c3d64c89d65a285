// The Redis engine against a real redis-server: the behaviours of the SQLite
// engine (gap-free seqs, cid idempotency, read windows, epochs, the decision
// log, stale heads), and what only a shared engine has: one order for several
// instances, delivery to watchers, and Redis dying, coming back, or coming
// back empty.
#include "protocol/channel.hpp"
#include "protocol/decision_log.hpp"
#include "engine_contract.hpp"
#include "redis_fixture.hpp"
#include "storage/redis_engine.hpp"

#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

using namespace parley;
using namespace parley::testing;
using namespace std::chrono_literals;
using parley::testing::redis_server;

namespace {

std::unique_ptr<engine> open_engine(const redis_server& redis, std::chrono::milliseconds timeout = 2000ms,
                                    std::chrono::milliseconds probe = 200ms,
                                    std::shared_ptr<const ed25519_key> signer = nullptr) {
  redis_engine_options options;
  options.signer = std::move(signer);
  options.url = redis.url();
  options.instance = "test";
  options.command_timeout = timeout;
  options.probe_interval = probe;
  auto e = make_redis_engine(options);
  for (int i = 0; i < 500 && !e->ready(); ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(e->ready());
  return e;
}

// Every seq the whole stream of `ch` holds, paging through it.
std::vector<std::int64_t> stored_seqs(engine& e, const std::string& ch) {
  std::vector<std::int64_t> seqs;
  for (std::int64_t after = 0;;) {
    auto r = read_window(e, ch, after, std::nullopt, 1000);
    INFO((r ? std::string() : r.err().message));
    REQUIRE(r);
    if (r->events.empty()) return seqs;
    for (const auto& ev : r->events) seqs.push_back(ev.seq);
    after = r->events.back().seq;
  }
}

std::string pub_channel(const std::string& ch) {
  auto colon = ch.find(':', 4);
  std::string tag = ch == "support" ? "{support}" : "{" + ch.substr(0, colon) + "}";
  return "parley:" + tag + ":pub:" + ch;
}

// Watches `ch` on every engine and waits until each says it is ready: from
// then on its sink gets every event committed.
void watch_and_settle(const redis_server& redis, std::vector<engine*> engines, const std::string& ch) {
  for (auto* e : engines) {
    std::promise<result<void>> ready;
    e->watch(ch, [&](result<void> watched) { ready.set_value(std::move(watched)); });
    REQUIRE(ready.get_future().get());
  }
  auto reply = redis.command({"PUBSUB", "NUMSUB", pub_channel(ch)});
  REQUIRE(reply.substr(reply.find('\n') + 1) == std::to_string(engines.size()));
}

// What the sink was given, per channel, in order.
struct sink_log {
  std::mutex mutex;
  std::condition_variable cv;
  std::map<std::string, std::vector<std::int64_t>> seqs;
  std::map<std::string, std::vector<std::string>> jsons;
  std::map<std::string, std::vector<bool>> parsed;  // whether each came with the event parsed

  void attach(engine& e) {
    e.set_sink([this](const committed_event& ev) {
      std::lock_guard lock(mutex);
      seqs[ev.ch].push_back(ev.seq);
      jsons[ev.ch].push_back(*ev.json);
      parsed[ev.ch].push_back(carries_parsed(ev));
      cv.notify_all();
    });
  }
  // Waits until the channel has `count` deliveries (or the timeout), returns them.
  std::vector<std::int64_t> wait_for(const std::string& ch, std::size_t count, std::chrono::seconds timeout = 15s) {
    std::unique_lock lock(mutex);
    cv.wait_for(lock, timeout, [&] { return seqs[ch].size() >= count; });
    return seqs[ch];
  }
  std::vector<std::int64_t> of(const std::string& ch) {
    std::lock_guard lock(mutex);
    return seqs[ch];
  }
};

}  // namespace

TEST_CASE("an engine is not made for a Redis URL it cannot use", "[redis]") {
  redis_engine_options by_name;
  by_name.url = "redis://redis.internal";
  CHECK_THROWS_WITH(make_redis_engine(by_name), Catch::Contains("IP address"));
}

TEST_CASE("redis: seqs start at 1 without gaps and each stored event is exactly its serialisation", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_engine(redis);

  std::vector<std::string> committed;
  for (std::int64_t expected = 1; expected <= 20; ++expected) {
    event ev = make_event("eng:a", "u\"1", "line one\nline \"two\" \\ é ✓ " + std::to_string(expected),
                          expected % 3 == 0 ? "c-" + std::to_string(expected) : "");
    ev.body["nested"] = {{"list", {1, 2.5, "x", nullptr}}, {"flag", true}};
    auto out = append_sync(*e, one(ev));
    REQUIRE(out);
    REQUIRE(out->committed.size() == 1);
    CHECK(out->committed[0].seq == expected);
    CHECK(out->committed[0].ch == "eng:a");
    const std::string& json = *out->committed[0].json;
    auto parsed = parse_event(json);
    REQUIRE(parsed);
    CHECK(serialize_event(*parsed) == json);
    CHECK(parsed->seq == expected);
    CHECK(parsed->ts == out->committed[0].ts);
    CHECK(parsed->cid == ev.cid);
    CHECK(parsed->from.id == "u\"1");
    CHECK(parsed->body == ev.body);
    committed.push_back(json);
  }
  auto r = read_window(*e, "eng:a", std::nullopt, std::nullopt, 1000);
  REQUIRE(r);
  CHECK(r->head == 20);
  CHECK(seqs_of(r) == range(1, 20));
  for (std::size_t i = 0; i < r->events.size(); ++i) CHECK(*r->events[i].json == committed[i]);
}

TEST_CASE("redis: each channel counts its own seqs and one request across channels gets one ts", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_engine(redis);
  fill(*e, "support", 3);
  CHECK(append_sync(*e, one(make_event("eng:b", "u1", "1")))->committed.at(0).seq == 1);

  check_request_across_channels(*e);
  CHECK(head_of(*e, "eng:a")->head == 2);
  CHECK(head_of(*e, "eng:b")->head == 1);
  CHECK(head_of(*e, "support")->head == 4);
  CHECK(head_of(*e, "eng:never")->head == 0);
  CHECK(e->stats().appends == 7);
}

TEST_CASE("redis: ts is in milliseconds and never goes down within a channel, even behind another clock", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_engine(redis);
  std::int64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    auto out = append_sync(*e, one(make_event("eng:a", "u1", "m")));
    REQUIRE(out);
    CHECK(out->committed[0].ts >= last);
    last = out->committed[0].ts;
  }
  CHECK(last > 1700000000000);

  // Another instance whose clock is an hour ahead wrote the head.
  std::int64_t ahead = last + 3600 * 1000;
  REQUIRE(redis.command({"HSET", "parley:{eng:a}:meta:eng:a", "ts", std::to_string(ahead)}) == "0");
  auto out = append_sync(*e, one(make_event("eng:a", "u1", "after")));
  REQUIRE(out);
  CHECK(out->committed[0].ts == ahead);
  CHECK(parse_object(*out->committed[0].json).at("ts").as_int64() == ahead);
}

TEST_CASE("redis: the same cid from the same sender returns the first seq and appends nothing", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_engine(redis);
  sink_log sink;
  sink.attach(*e);
  watch_and_settle(redis, {e.get()}, "eng:a");

  auto first = append_sync(*e, one(make_event("eng:a", "u1", "draft", "c-1")));
  REQUIRE(first);
  CHECK_FALSE(first->duplicate);
  fill(*e, "eng:a", 2);

  auto again = append_sync(*e, one(make_event("eng:a", "u1", "draft, sent twice", "c-1")));
  REQUIRE(again);
  CHECK(again->duplicate);
  REQUIRE(again->committed.size() == 1);
  CHECK(again->committed[0].seq == first->committed[0].seq);
  CHECK(again->committed[0].ts == first->committed[0].ts);
  CHECK(*again->committed[0].json == *first->committed[0].json);

  // The same cid from another sender, or in another channel, is new.
  auto other_sender = append_sync(*e, one(make_event("eng:a", "u2", "x", "c-1")));
  auto other_channel = append_sync(*e, one(make_event("eng:b", "u1", "x", "c-1")));
  CHECK_FALSE(other_sender->duplicate);
  CHECK(other_sender->committed.at(0).seq == 4);
  CHECK_FALSE(other_channel->duplicate);
  CHECK(other_channel->committed.at(0).seq == 1);

  // A second engine (another instance) finds the key too.
  auto e2 = open_engine(redis);
  auto from_other_instance = append_sync(*e2, one(make_event("eng:a", "u1", "again", "c-1")));
  CHECK(from_other_instance->duplicate);
  CHECK(from_other_instance->committed.at(0).seq == 1);

  CHECK(head_of(*e, "eng:a")->head == 4);
  CHECK(e->stats().appends == 5);
  CHECK(e->stats().duplicates == 1);
  CHECK(sink.wait_for("eng:a", 4) == range(1, 4));
  std::this_thread::sleep_for(200ms);
  CHECK(sink.of("eng:a") == range(1, 4));  // the duplicates were not delivered
}

TEST_CASE("redis: an event can be found by its idempotency key", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_engine(redis);
  check_find_by_cid(*e);
}

TEST_CASE("redis: reads return the requested window in ascending order", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_engine(redis);
  check_read_windows(*e);
}

TEST_CASE("redis: a read of more than 1000 events is clamped to 1000", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_engine(redis);
  check_read_limit(*e);
}

TEST_CASE("redis: the epoch is stable across engines and restarts, and changes when Redis comes back empty",
          "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  std::string epoch;
  {
    auto e = open_engine(redis);
    epoch = head_of(*e, "eng:a")->epoch;  // created by the first read
    fill(*e, "eng:a", 3);
    CHECK(head_of(*e, "eng:a")->epoch == epoch);
    CHECK(head_of(*e, "eng:b")->epoch != epoch);
  }
  auto e = open_engine(redis);
  CHECK(head_of(*e, "eng:a")->epoch == epoch);

  redis.kill();
  redis.start();
  result<channel_window> after_restart = make_error(errc::unavailable, "not read yet");
  for (int i = 0; i < 300; ++i) {
    after_restart = head_of(*e, "eng:a");
    if (after_restart) break;
    std::this_thread::sleep_for(20ms);
  }
  REQUIRE(after_restart);
  CHECK(after_restart->epoch == epoch);
  CHECK(after_restart->head == 3);

  redis.kill();
  redis.wipe();
  redis.start();
  result<channel_window> after_wipe = make_error(errc::unavailable, "not read yet");
  for (int i = 0; i < 300; ++i) {
    after_wipe = head_of(*e, "eng:a");
    if (after_wipe) break;
    std::this_thread::sleep_for(20ms);
  }
  REQUIRE(after_wipe);
  CHECK(after_wipe->head == 0);
  CHECK(after_wipe->epoch != epoch);
  CHECK(append_sync(*e, one(make_event("eng:a", "u1", "new log")))->committed.at(0).seq == 1);
  CHECK(head_of(*e, "eng:a")->epoch == after_wipe->epoch);
}

namespace {

result<appended> decide(engine& e, std::int64_t proposal_seq, const std::string& topic, std::string eng = "42") {
  append_request req;
  req.events.push_back(make_event(channel::main(eng), "u2", "status first"));
  event decision = make_event(channel::main(eng), "u2", "");
  decision.kind = "decision";
  decision.body = {{"proposal", proposal_seq}, {"verdict", "accepted"}};
  req.events.push_back(std::move(decision));
  record_draft draft;
  draft.fields = {{"eng", eng},
                  {"ch", channel::main(eng)},
                  {"topic", topic},
                  {"terms", {{"fee", 1200}, {"note", "ünïcode \"quoted\""}}},
                  {"text", "the plan"},
                  {"proposed_by", "u1"},
                  {"accepted_by", {"u2"}},
                  {"proposal_seq", proposal_seq}};
  draft.attach_to = 1;
  req.record = std::move(draft);
  return append_sync(e, std::move(req));
}

}  // namespace

TEST_CASE("redis: a decision record is written with its event and chained to the previous one", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_engine(redis);
  fill(*e, "eng:42", 4);

  auto first = decide(*e, 3, "agreement");
  REQUIRE(first);
  REQUIRE(first->committed.size() == 2);
  CHECK(first->committed[1].seq == 6);
  auto body1 = parse_object(*first->committed[1].json).at("body").as_object();
  auto stamp1 = body1.at("record").as_object();
  CHECK(stamp1.at("n").as_int64() == 1);
  CHECK(stamp1.at("prev").as_string() == genesis_prev);
  CHECK(body1.at("verdict").as_string() == "accepted");
  CHECK_FALSE(parse_object(*first->committed[0].json).at("body").as_object().contains("record"));
  auto parsed = parse_event(*first->committed[1].json);
  REQUIRE(parsed);
  CHECK(serialize_event(*parsed) == *first->committed[1].json);

  auto second = decide(*e, 4, "timeline");
  REQUIRE(second);
  auto stamp2 = parse_object(*second->committed[1].json).at("body").as_object().at("record").as_object();
  CHECK(stamp2.at("n").as_int64() == 2);
  CHECK(stamp2.at("prev") == stamp1.at("hash"));

  auto log = records_sync(*e, "42");
  REQUIRE(log);
  REQUIRE(log->records.size() == 2);
  const auto& r1 = log->records[0];
  const auto& r2 = log->records[1];
  CHECK(r1.at("decision_seq").as_int64() == 6);
  CHECK(r1.at("proposal_seq").as_int64() == 3);
  CHECK(r1.at("ts").as_int64() == first->committed[1].ts);
  CHECK(r1.at("topic").as_string() == "agreement");
  CHECK(r1.at("hash") == stamp1.at("hash"));
  CHECK(r2.at("decision_seq").as_int64() == 8);
  CHECK(r2.at("prev") == r1.at("hash"));
  CHECK(verify_chain(log->records));

  // The stored events are the ones the handler got.
  auto stored = read_window(*e, "eng:42", 4, std::nullopt, 10);
  REQUIRE(stored->events.size() == 4);
  CHECK(*stored->events[1].json == *first->committed[1].json);
  CHECK(*stored->events[3].json == *second->committed[1].json);

  CHECK(records_sync(*e, "other")->records.empty());
}

TEST_CASE("redis: decisions from two instances at once still form one valid chain", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto a = open_engine(redis);
  auto b = open_engine(redis);
  constexpr int each = 3;
  std::vector<std::future<result<appended>>> results;
  for (int i = 0; i < each; ++i) {
    results.push_back(std::async(std::launch::async, [&, i] { return decide(*a, 100 + i, "scope_change", "7"); }));
    results.push_back(std::async(std::launch::async, [&, i] { return decide(*b, 200 + i, "timeline", "7"); }));
  }
  std::set<std::int64_t> ns;
  for (auto& f : results) {
    auto out = f.get();
    if (!out) {
      CHECK(out.err().code == errc::unavailable);
      continue;
    }
    auto stamp = parse_object(*out->committed[1].json).at("body").as_object().at("record").as_object();
    ns.insert(stamp.at("n").as_int64());
  }
  auto log = records_sync(*a, "7");
  REQUIRE(log);
  CHECK(ns.size() >= 2);
  CHECK(log->records.size() == ns.size());
  CHECK(verify_chain(log->records));
  CHECK(head_of(*a, "eng:7")->head == static_cast<std::int64_t>(2 * ns.size()));
}

TEST_CASE("redis: appends, duplicates and cid lookups carry the event parsed", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_engine(redis);
  check_parsed_events(*e);
}

TEST_CASE("redis: the sink gets every event parsed, its own and other instances'",
          "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto a = open_engine(redis);
  auto b = open_engine(redis);
  sink_log log;
  log.attach(*a);
  // Committed before the watch: the first read only takes the head.
  REQUIRE(append_sync(*b, one(make_event("eng:q", "u1", "before"))));
  watch_and_settle(redis, {a.get()}, "eng:q");
  REQUIRE(append_sync(*b, one(make_event("eng:q", "u1", "from b"))));  // published by b
  REQUIRE(append_sync(*a, one(make_event("eng:q", "u1", "from a"))));  // a's own
  REQUIRE(log.wait_for("eng:q", 2).size() >= 2);
  std::lock_guard lock(log.mutex);
  CHECK(log.seqs["eng:q"] == std::vector<std::int64_t>{2, 3});
  for (bool ok : log.parsed["eng:q"]) CHECK(ok);
}

TEST_CASE("redis: an append expecting heads that moved on stores nothing and reports stale state", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_engine(redis);
  check_expect_heads(*e);
}

TEST_CASE("redis: decision records are signed with the engine's key", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto signer = test_signer();
  auto e = open_engine(redis, 2000ms, 200ms, signer);
  check_signed_records(*e, *signer);
}

TEST_CASE("redis: a read bounded in bytes keeps the oldest events of its window and says it was cut", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_engine(redis);
  check_bounded_reads(*e);
}

TEST_CASE("redis: the decision log is read a page at a time, with the n to page on from", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_engine(redis);
  check_records_paging(*e);
}

TEST_CASE("redis: malformed requests are refused and store nothing", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_engine(redis);
  auto empty = append_sync(*e, append_request{});
  REQUIRE_FALSE(empty);
  CHECK(empty.err().code == errc::internal);

  auto nowhere = one(make_event("eng:a", "u1", "x"));
  nowhere.record = record_draft{{{"eng", "a"}}, 3};
  REQUIRE_FALSE(append_sync(*e, std::move(nowhere)));

  auto no_eng = one(make_event("eng:a", "u1", "x"));
  no_eng.record = record_draft{{{"topic", "agreement"}}, 0};
  auto out = append_sync(*e, std::move(no_eng));
  REQUIRE_FALSE(out);
  CHECK(out.err().code == errc::internal);
  CHECK(head_of(*e, "eng:a")->head == 0);
}

TEST_CASE("redis: read markers keep the highest seq and engagements are listed", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_engine(redis);
  e->set_read_marker("u1", "eng:a", 5);
  e->set_read_marker("u1", "eng:a", 9);
  e->set_read_marker("u1", "eng:a", 7);
  e->set_read_marker("u2", "eng:a", 2);
  fill(*e, "eng:c", 1);
  fill(*e, "eng:a", 1);
  fill(*e, "eng:b:mediation", 1);
  fill(*e, "support", 1);
  // Commands run in order: the markers are stored once the appends are.
  CHECK(redis.command({"HGET", "parley:{eng:a}:read:eng:a", "u1"}) == "9");
  CHECK(redis.command({"HGET", "parley:{eng:a}:read:eng:a", "u2"}) == "2");

  auto ids = engagements_after_sync(*e, "", 10);
  REQUIRE(ids);
  CHECK(ids->ids == std::vector<std::string>{"a", "c"});
}

TEST_CASE("redis: engagements are listed a page at a time in id order", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_engine(redis);
  check_engagement_pages(*e);
}

TEST_CASE("redis: the due index hands each due key to one claimer per lease", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_engine(redis);
  check_due_index(*e);
}

TEST_CASE("redis: a snapshot is replaced only by one of a revision at least as high", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_engine(redis);
  check_snapshots(*e);
}

TEST_CASE("redis: engagements of a Redis that holds only the set are listed in pages too", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  // Written before the sorted set existed: more members than one copy step takes.
  std::vector<std::string> sadd{"SADD", "parley:engagements"};
  std::vector<std::string> all;
  for (int i = 0; i < 1200; ++i) all.push_back("old" + std::to_string(10000 + i));
  sadd.insert(sadd.end(), all.begin(), all.end());
  redis.command(sadd);
  auto e = open_engine(redis);
  fill(*e, "eng:new", 1);
  all.push_back("new");
  std::sort(all.begin(), all.end());

  std::vector<std::string> seen;
  std::string after;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = engagements_after_sync(*e, after, 500);
    REQUIRE(page);
    seen.insert(seen.end(), page->ids.begin(), page->ids.end());
    if (!page->next) break;
    after = *page->next;
  }
  CHECK(seen == all);
  CHECK(redis.command({"GET", "parley:engagements:by_id:complete"}) == "1");
  // A second engine finds the copy done and reads the same pages ("new" sorts first).
  CHECK(seen.front() == "new");
  auto again = open_engine(redis);
  CHECK(engagements_after_sync(*again, "old11198", 5)->ids == std::vector<std::string>{"old11199"});
}

TEST_CASE("redis: two instances on one Redis see one order", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto a = open_engine(redis);
  auto b = open_engine(redis);
  sink_log sink_a, sink_b;
  sink_a.attach(*a);
  sink_b.attach(*b);
  watch_and_settle(redis, {a.get(), b.get()}, "eng:x");

  constexpr int per_thread = 300;
  std::mutex acked_mutex;
  std::vector<std::int64_t> acked;
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      engine& e = t % 2 == 0 ? *a : *b;
      for (int i = 0; i < per_thread; ++i) {
        auto out = append_sync(e, one(make_event("eng:x", "u" + std::to_string(t), "m" + std::to_string(i))));
        if (!out) {
          ++failed;
          continue;
        }
        std::lock_guard lock(acked_mutex);
        acked.push_back(out->committed[0].seq);
      }
    });
  }
  for (auto& t : threads) t.join();
  constexpr int total = 4 * per_thread;
  CHECK(failed == 0);
  std::sort(acked.begin(), acked.end());
  CHECK(acked == range(1, total));
  CHECK(sink_a.wait_for("eng:x", total) == range(1, total));
  CHECK(sink_b.wait_for("eng:x", total) == range(1, total));
  // Both were given the same bytes.
  std::lock_guard la(sink_a.mutex), lb(sink_b.mutex);
  CHECK(sink_a.jsons["eng:x"] == sink_b.jsons["eng:x"]);
}

TEST_CASE("redis: killed mid-traffic and restarted from its AOF, Redis loses nothing acknowledged", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  constexpr auto timeout = 1000ms;
  auto writer = open_engine(redis, timeout);
  auto watcher = open_engine(redis, timeout);
  sink_log writer_sink, watcher_sink;
  writer_sink.attach(*writer);
  watcher_sink.attach(*watcher);
  watch_and_settle(redis, {writer.get(), watcher.get()}, "eng:crash");

  std::mutex m;
  std::condition_variable cv;
  std::set<std::int64_t> acked;
  std::vector<std::pair<errc, std::chrono::milliseconds>> failures;
  std::atomic<int> in_flight{0};
  std::atomic<bool> running{true};
  std::atomic<int> sent{0};

  // Stops and joins the traffic on every way out of the test, failed REQUIREs included.
  struct joiner {
    std::atomic<bool>& running;
    std::atomic<int>& in_flight;
    std::thread& thread;
    ~joiner() {
      running = false;
      if (thread.joinable()) thread.join();
      while (in_flight.load() > 0) std::this_thread::sleep_for(1ms);
    }
  };
  std::thread traffic;
  joiner join_traffic{running, in_flight, traffic};
  traffic = std::thread([&] {
    while (running) {
      if (in_flight.load() >= 32) {
        std::this_thread::sleep_for(1ms);
        continue;
      }
      ++in_flight;
      std::this_thread::sleep_for(200us);  // while Redis is down appends fail at once: keep the rate sane
      auto started = std::chrono::steady_clock::now();
      writer->append(one(make_event("eng:crash", "u1", "m" + std::to_string(sent++))), [&, started](result<appended> o) {
        auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        {
          std::lock_guard lock(m);
          if (!o)
            failures.emplace_back(o.err().code, took);
          else
            acked.insert(o->committed[0].seq);
        }
        --in_flight;
        cv.notify_all();
      });
    }
  });
  auto wait_acked = [&](std::size_t n) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, 20s, [&] { return acked.size() >= n; });
  };

  REQUIRE(wait_acked(300));
  redis.kill();
  std::this_thread::sleep_for(1500ms);  // appends keep coming while Redis is gone
  CHECK_FALSE(writer->ready());
  std::size_t failed_during_outage = 0;
  {
    std::lock_guard lock(m);
    failed_during_outage = failures.size();
  }
  redis.start();
  std::size_t before_restart = 0;
  {
    std::lock_guard lock(m);
    before_restart = acked.size();
  }
  REQUIRE(wait_acked(before_restart + 300));
  running = false;
  traffic.join();
  while (in_flight.load() > 0) std::this_thread::sleep_for(1ms);
  // Ready needs both connections and the durability check: the subscribe
  // connection may still be waiting out its backoff.
  for (int i = 0; i < 500 && !writer->ready(); ++i) std::this_thread::sleep_for(10ms);
  CHECK(writer->ready());

  CHECK(failed_during_outage > 0);
  for (const auto& [code, took] : failures) {
    CHECK(code == errc::unavailable);
    CHECK(took <= timeout + 1000ms);  // never hangs
  }

  // The watcher's own connection may still be waiting out its backoff.
  for (int i = 0; i < 500 && !watcher->ready(); ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(watcher->ready());
  auto stored = stored_seqs(*watcher, "eng:crash");
  REQUIRE_FALSE(stored.empty());
  auto head = static_cast<std::int64_t>(stored.size());
  CHECK(stored == range(1, head));
  for (auto seq : acked) REQUIRE(seq <= head);
  CHECK(head_of(*watcher, "eng:crash")->head == head);

  // Both sinks got every committed event once, in order, the missed ones included.
  CHECK(watcher_sink.wait_for("eng:crash", static_cast<std::size_t>(head)) == range(1, head));
  CHECK(writer_sink.wait_for("eng:crash", static_cast<std::size_t>(head)) == range(1, head));
}

TEST_CASE("redis: when Redis comes back empty the channel gets a new epoch and starts again at 1", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis(false);  // no AOF: a restart loses everything
  redis_engine_options options;
  options.url = redis.url();
  options.instance = "test";
  options.command_timeout = 2000ms;
  options.probe_interval = 200ms;
  options.require_durable = false;  // the point is to lose the data
  auto e = make_redis_engine(options);
  for (int i = 0; i < 500 && !e->ready(); ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(e->ready());
  sink_log sink;
  sink.attach(*e);
  watch_and_settle(redis, {e.get()}, "eng:a");
  fill(*e, "eng:a", 5);
  std::string epoch = head_of(*e, "eng:a")->epoch;
  CHECK(sink.wait_for("eng:a", 5) == range(1, 5));

  redis.kill();
  redis.start();
  for (int i = 0; i < 500 && !e->ready(); ++i) std::this_thread::sleep_for(10ms);
  result<appended> out = make_error(errc::unavailable, "not appended yet");
  for (int i = 0; i < 300; ++i) {
    out = append_sync(*e, one(make_event("eng:a", "u1", "into the new log")));
    if (out) break;
    std::this_thread::sleep_for(20ms);
  }
  REQUIRE(out);
  CHECK(out->committed[0].seq == 1);
  auto r = head_of(*e, "eng:a");
  CHECK(r->head == 1);
  CHECK(r->epoch != epoch);
  CHECK(sink.wait_for("eng:a", 6) == std::vector<std::int64_t>{1, 2, 3, 4, 5, 1});
}

TEST_CASE("redis: a killed subscribe connection is made again and delivery resumes without a gap", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto watcher = open_engine(redis);
  auto writer = open_engine(redis);
  sink_log sink;
  sink.attach(*watcher);
  watch_and_settle(redis, {watcher.get()}, "eng:a");
  fill(*writer, "eng:a", 10);
  CHECK(sink.wait_for("eng:a", 10) == range(1, 10));

  CHECK(redis.command({"CLIENT", "KILL", "TYPE", "pubsub"}) != "0");
  fill(*writer, "eng:a", 10);  // published while the watcher has no subscription
  CHECK(sink.wait_for("eng:a", 20) == range(1, 20));
  fill(*writer, "eng:a", 5);
  CHECK(sink.wait_for("eng:a", 25) == range(1, 25));
}

TEST_CASE("redis: stop answers every pending append and refuses later ones", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  constexpr int count = 2000;
  std::atomic<int> ok{0}, answered{0};
  std::mutex errors_mutex;
  std::set<std::string> errors;
  {
    auto e = open_engine(redis);
    for (int i = 0; i < count; ++i)
      e->append(one(make_event("eng:a", "u1", "m")), [&](result<appended> out) {
        if (out) {
          ++ok;
        } else {
          std::lock_guard lock(errors_mutex);
          errors.insert(out.err().message);
        }
        ++answered;
      });
    e->stop();
    CHECK(answered == count);
    CHECK(ok == count);
    CHECK(errors == std::set<std::string>{});
    CHECK_FALSE(e->ready());

    auto late = append_sync(*e, one(make_event("eng:a", "u1", "late")));
    REQUIRE_FALSE(late);
    CHECK(late.err().code == errc::unavailable);
    auto late_read = head_of(*e, "eng:a");
    REQUIRE_FALSE(late_read);
    CHECK(late_read.err().code == errc::unavailable);
    e->stop();  // a second stop does nothing
  }
  auto e = open_engine(redis);
  CHECK(head_of(*e, "eng:a")->head == count);
}

TEST_CASE("redis: stop does not wait longer than the timeout for a Redis that does not answer", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = open_engine(redis, 500ms);
  // Hold every client for longer than the timeout: replies stop coming.
  REQUIRE(redis.command({"CLIENT", "PAUSE", "3000", "ALL"}) == "OK");
  std::promise<result<appended>> p;
  e->append(one(make_event("eng:a", "u1", "m")), [&](result<appended> out) { p.set_value(std::move(out)); });
  auto started = std::chrono::steady_clock::now();
  e->stop();
  CHECK(std::chrono::steady_clock::now() - started < 1500ms);
  auto out = p.get_future().get();
  REQUIRE_FALSE(out);
  CHECK(out.err().code == errc::unavailable);
}

namespace {

// A TCP relay to Redis that can make its subscribe connections go silent:
// they stay open and nothing passes any more, in either direction, as when a
// peer vanishes without a close. Only a liveness probe notices that.
class freezing_proxy {
 public:
  explicit freezing_proxy(int redis_port) : redis_port_(redis_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 16);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~freezing_proxy() {
    stop_ = true;
    thread_.join();
    for (auto& p : pairs_) {
      ::close(p.client);
      ::close(p.server);
    }
    ::close(listen_fd_);
  }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  // Silences every subscribe connection open now; later ones pass.
  void freeze_subscribers() { freeze_ = true; }
  int frozen() const { return frozen_.load(); }

 private:
  struct relay {
    int client = -1, server = -1;
    bool subscriber = false, frozen = false;
  };

  void run() {
    while (!stop_) {
      if (freeze_.exchange(false))
        for (auto& p : pairs_)
          if (p.subscriber && !p.frozen) {
            p.frozen = true;
            ++frozen_;
          }
      std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
      std::vector<std::pair<std::size_t, bool>> owners{{0, false}};
      for (std::size_t i = 0; i < pairs_.size(); ++i) {
        if (pairs_[i].frozen || pairs_[i].client < 0) continue;
        fds.push_back({pairs_[i].client, POLLIN, 0});
        owners.emplace_back(i, true);
        fds.push_back({pairs_[i].server, POLLIN, 0});
        owners.emplace_back(i, false);
      }
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      if (fds[0].revents & POLLIN) accept_one();
      for (std::size_t k = 1; k < fds.size(); ++k) {
        if (!fds[k].revents) continue;
        relay& p = pairs_[owners[k].first];
        if (p.client < 0 || p.frozen) continue;
        bool from_client = owners[k].second;
        char buf[65536];
        ssize_t n = ::read(fds[k].fd, buf, sizeof buf);
        if (n <= 0) {
          ::close(p.client);
          ::close(p.server);
          p.client = p.server = -1;
          continue;
        }
        if (from_client && std::string_view(buf, static_cast<std::size_t>(n)).find("SUBSCRIBE") != std::string_view::npos)
          p.subscriber = true;
        int to = from_client ? p.server : p.client;
        for (ssize_t off = 0; off < n;) {
          ssize_t w = ::write(to, buf + off, static_cast<std::size_t>(n - off));
          if (w <= 0) break;
          off += w;
        }
      }
    }
  }

  void accept_one() {
    int client = ::accept(listen_fd_, nullptr, nullptr);
    if (client < 0) return;
    int server = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(redis_port_));
    if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(client);
      ::close(server);
      return;
    }
    pairs_.push_back(relay{client, server});
  }

  int redis_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::vector<relay> pairs_;  // proxy thread only
  std::atomic<bool> stop_{false}, freeze_{false};
  std::atomic<int> frozen_{0};
  std::thread thread_;
};

}  // namespace

TEST_CASE("redis: a subscribe connection gone silent is found by the probe and delivery resumes", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  freezing_proxy proxy(redis.port());
  redis_engine_options options;
  options.url = proxy.url();
  options.command_timeout = 500ms;
  options.probe_interval = 100ms;
  auto watcher = make_redis_engine(options);
  for (int i = 0; i < 500 && !watcher->ready(); ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(watcher->ready());
  auto writer = open_engine(redis);
  sink_log sink;
  sink.attach(*watcher);
  watch_and_settle(redis, {watcher.get()}, "eng:a");
  fill(*writer, "eng:a", 5);
  CHECK(sink.wait_for("eng:a", 5) == range(1, 5));

  proxy.freeze_subscribers();
  for (int i = 0; i < 100 && proxy.frozen() == 0; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(proxy.frozen() == 1);
  fill(*writer, "eng:a", 5);  // published into the silent connection
  CHECK(sink.wait_for("eng:a", 10, 10s) == range(1, 10));
  fill(*writer, "eng:a", 5);
  CHECK(sink.wait_for("eng:a", 15, 10s) == range(1, 15));
}
