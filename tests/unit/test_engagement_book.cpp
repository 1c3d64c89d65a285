// The engagement book (server/engagements): bounded by its capacity, dropped
// engagements rebuilt identically and unwatched, snapshots that outlive a
// drop, readers that may not open an engagement leaving nothing behind, and
// stored snapshots that loads start from.
// Runs on the embedded engine, without sockets.
#include "engine_contract.hpp"
#include "protocol/engagement_snapshot.hpp"
#include "server/engagements.hpp"
#include "storage/local_engine.hpp"

#include <catch2/catch.hpp>

#include "test_processes.hpp"

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>

namespace fs = std::filesystem;
using namespace parley;
using namespace parley::testing;

namespace {

// The reader of state_json: a party of every engagement here.
const claims reader{user{"c1", "Carla", user_role::client}, {"*"}, 0, std::nullopt};

// Each test's own directory.
struct temp_dir : parley::testing::temp_dir {
  temp_dir() : parley::testing::temp_dir("parley-book-") {}
};

// An engine and a book over it, with the watch counts the book leaves.
struct fixture {
  temp_dir dir;
  std::unique_ptr<engine> storage;
  std::mutex mutex;
  std::map<std::string, int> watches;
  std::unique_ptr<engagements> book;

  explicit fixture(std::size_t capacity, std::int64_t snapshot_every = 100) {
    local_engine_options options;
    options.db_path = dir.path / "parley.db";
    storage = make_local_engine(options);
    book = std::make_unique<engagements>(
        *storage,
        [this](const std::string& ch, std::function<void(result<void>)> ready) {
          {
            std::lock_guard lock(mutex);
            ++watches[ch];
          }
          ready({});
        },
        [this](const std::string& ch) {
          std::lock_guard lock(mutex);
          if (--watches[ch] == 0) watches.erase(ch);
        },
        capacity, snapshot_every);
    storage->set_sink([this](const committed_event& ev) { book->on_committed(ev); });
  }
  ~fixture() { storage->stop(); }

  // The state (or the error code) of `eng`.
  std::pair<engagements::snapshot, std::string> state(const std::string& eng, bool may_open = true) {
    std::promise<std::pair<engagements::snapshot, std::string>> p;
    book->with_state(eng, may_open, [&p](result<engagements::snapshot> s) {
      p.set_value(s ? std::pair{*s, std::string("ok")} : std::pair{engagements::snapshot{}, std::string(code_name(s.err().code))});
    });
    return p.get_future().get();
  }
  std::string json(const std::string& eng) {
    auto [s, code] = state(eng);
    REQUIRE(code == "ok");
    return boost::json::serialize(state_json(*s, phase_limits{}, reader));
  }
  // The state_json of `eng` replayed from all its stored events, as a load
  // without a snapshot makes it.
  std::string replayed_json(const std::string& eng) {
    engagement_state s = new_engagement(eng, 0);
    for (const auto& ch : {channel::main(eng), channel::mediation(eng)}) {
      auto window = read_window(*storage, ch, 0, std::nullopt, 1000);
      REQUIRE(window);
      for (const auto& se : window->events) apply(s, parse_event(*se.json).value());
    }
    return boost::json::serialize(state_json(s, phase_limits{}, reader));
  }
  // Waits until `n` snapshots were saved in all (saves are asynchronous).
  void wait_saved(std::uint64_t n) {
    for (int i = 0; i < 500 && book->loads().snapshots_saved < n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(book->loads().snapshots_saved >= n);
  }
  std::size_t watched_channels() {
    std::lock_guard lock(mutex);
    return watches.size();
  }
};

event party_event(std::string ch, std::string kind, user_role role, boost::json::object body) {
  event ev;
  ev.ch = std::move(ch);
  ev.kind = std::move(kind);
  ev.from = user{role == user_role::client ? "c1" : "e1", "", role};
  ev.body = std::move(body);
  return ev;
}

}  // namespace

TEST_CASE("the engagement book keeps at most its capacity and rebuilds dropped engagements identically",
          "[server]") {
  fixture f(2);
  std::map<std::string, std::string> before;
  for (std::string eng : {"a", "b", "c", "d"}) {
    REQUIRE(f.state(eng).second == "ok");  // a party's first use opens it
    REQUIRE(append_sync(*f.storage, one(party_event(channel::main(eng), "message", user_role::client,
                                                    {{"text", "hi " + eng}}))));
    REQUIRE(append_sync(*f.storage, one(party_event(channel::main(eng), "proposal", user_role::expert,
                                                    {{"topic", "timeline"}, {"text", "t"}, {"terms", {{"w", 1}}}}))));
    before[eng] = f.json(eng);
    CHECK(f.book->size() <= 2);
    // Only the engagements kept are watched (main and mediation channel each).
    CHECK(f.watched_channels() == 2 * f.book->size());
  }
  // Each one, in turn, is rebuilt from its events as it was.
  for (int round = 0; round < 2; ++round) {
    for (const auto& [eng, json] : before) {
      CHECK(f.json(eng) == json);
      CHECK(f.book->size() <= 2);
    }
  }
  // Opened once: reloading stored no second opening event.
  CHECK(read_window(*f.storage, "eng:a", std::nullopt, std::nullopt, 50)->head == 3);
}

TEST_CASE("a snapshot handed out stays valid and unchanged after its engagement is dropped", "[server]") {
  fixture f(1);
  auto [a, code] = f.state("a");
  REQUIRE(code == "ok");
  const auto json = boost::json::serialize(state_json(*a, phase_limits{}, reader));
  REQUIRE(f.state("b").second == "ok");  // drops a
  CHECK(f.book->size() == 1);
  CHECK(boost::json::serialize(state_json(*a, phase_limits{}, reader)) == json);
  // A new event makes a new snapshot; the old one is untouched.
  auto [a2, code2] = f.state("a");
  REQUIRE(append_sync(*f.storage, one(party_event("eng:a", "message", user_role::client, {{"text", "x"}}))));
  auto [a3, code3] = f.state("a");
  REQUIRE(code2 == "ok");
  REQUIRE(code3 == "ok");
  CHECK(a3 != a2);
  CHECK(a2->applied.at("eng:a") == 1);
  CHECK(a3->applied.at("eng:a") == 2);
}

TEST_CASE("a reader that may not open an engagement gets not_found and leaves nothing behind", "[server]") {
  fixture f(10);
  for (int i = 0; i < 50; ++i) CHECK(f.state("nope" + std::to_string(i), false).second == "not_found");
  CHECK(f.book->size() == 0);
  CHECK(f.watched_channels() == 0);
  CHECK(read_window(*f.storage, "eng:nope0", std::nullopt, std::nullopt, 50)->head == 0);
  // A party's first use still opens it; then anyone reads it.
  CHECK(f.state("nope0", true).second == "ok");
  CHECK(f.state("nope0", false).second == "ok");
  CHECK(read_window(*f.storage, "eng:nope0", std::nullopt, std::nullopt, 50)->head == 1);
}

namespace {
// A few events of every sort the state keeps: messages, a proposal, a flag.
void post_some(engine& storage, const std::string& eng, int n) {
  for (int i = 0; i < n; ++i) {
    auto ch = channel::main(eng);
    if (i % 3 == 0)
      REQUIRE(append_sync(storage,
                          one(party_event(ch, "message", user_role::client, {{"text", "m" + std::to_string(i)}}))));
    else if (i % 3 == 1)
      REQUIRE(append_sync(storage, one(party_event(ch, "proposal", user_role::expert,
                                                   {{"topic", "timeline"}, {"text", "p"}, {"terms", {{"w", i}}}}))));
    else
      REQUIRE(append_sync(storage, one(party_event(ch, "flag", user_role::expert, {{"type", "risk"}, {"text", "f"}}))));
  }
}
}  // namespace

TEST_CASE("a loaded engagement is snapshotted every few events and when it is dropped", "[server][snapshot]") {
  fixture f(1, 4);
  REQUIRE(f.state("a").second == "ok");
  post_some(*f.storage, "a", 10);  // 11 events with the opening one: snapshots at 4 and 8
  f.wait_saved(2);
  auto stored = stored_snapshot(*f.storage, "a");
  REQUIRE(stored);
  auto restored = parse_snapshot(*stored);
  REQUIRE(restored);
  CHECK(restored->applied.at("eng:a") == 8);
  REQUIRE(f.state("b").second == "ok");  // drops a, 3 events past its snapshot
  f.wait_saved(3);
  restored = parse_snapshot(*stored_snapshot(*f.storage, "a"));
  REQUIRE(restored);
  CHECK(restored->applied.at("eng:a") == 11);
}

TEST_CASE("a load starts from the stored snapshot and applies only the events after it", "[server][snapshot]") {
  fixture f(1, 4);
  REQUIRE(f.state("a").second == "ok");
  post_some(*f.storage, "a", 12);
  REQUIRE(f.state("b").second == "ok");  // drops a with a snapshot at its head
  f.wait_saved(1);
  // Events stored while `a` is not held here (another instance's posts).
  post_some(*f.storage, "a", 2);
  auto before = f.book->loads();
  CHECK(f.json("a") == f.replayed_json("a"));
  auto after = f.book->loads();
  CHECK(after.from_snapshot == before.from_snapshot + 1);
  CHECK(after.from_events == before.from_events);
  CHECK(after.events_replayed == before.events_replayed + 2);
}

TEST_CASE("a damaged snapshot, or one of another format, is passed over for the events", "[server][snapshot]") {
  for (std::string text : {std::string("{\"format\":999}"), std::string("not json"), std::string("{\"format\":1,")}) {
    fixture f(1, 100);
    REQUIRE(f.state("a").second == "ok");
    post_some(*f.storage, "a", 5);
    REQUIRE(f.state("b").second == "ok");  // drops a (its snapshot is saved)
    f.wait_saved(1);
    REQUIRE(save_snapshot_sync(*f.storage, "a", 1000, text));  // over it
    auto before = f.book->loads();
    CHECK(f.json("a") == f.replayed_json("a"));
    CHECK(f.book->loads().from_events == before.from_events + 1);
  }
}

TEST_CASE("a snapshot of another engagement stored under this one's name is not used", "[server][snapshot]") {
  fixture f(1, 100);
  REQUIRE(f.state("a").second == "ok");
  post_some(*f.storage, "a", 5);
  REQUIRE(f.state("b").second == "ok");
  REQUIRE(f.state("a").second == "ok");  // drops b, whose snapshot is saved
  f.wait_saved(2);
  auto b_text = stored_snapshot(*f.storage, "b");
  REQUIRE(b_text);
  REQUIRE(save_snapshot_sync(*f.storage, "c", 1000, *b_text));
  REQUIRE(f.state("c").second == "ok");
  CHECK(f.json("c") == f.replayed_json("c"));
}
