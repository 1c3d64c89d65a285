// Double-blind ratings and reviews (protocol §9.7), with a fake clock: the
// body's validation, the commitment, once per party, the review period's
// bounds, the reveal (when it is due, its event and record, never again after
// it is applied), `can`, state.reviews and what GET …/reviews shows whom.
#include "protocol/reviews.hpp"

#include "protocol/can.hpp"
#include "protocol/decision_log.hpp"
#include "protocol/frame.hpp"
#include "protocol/hex.hpp"

#include "engine_contract.hpp"
#include "redis_fixture.hpp"
#include "storage/local_engine.hpp"
#include "storage/redis_engine.hpp"
#include "test_users.hpp"

#include <sqlite3.h>

#include <catch2/catch.hpp>

#include "test_processes.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <string>
#include <thread>

using namespace parley;
using namespace parley::test_users;

namespace {

constexpr std::int64_t day = 24LL * 3600 * 1000;
constexpr std::int64_t period = 14 * day;
const std::string salt_a = "00112233445566778899aabbccddeeff";
const std::string salt_b = "ffeeddccbbaa99887766554433221100";

boost::json::object ratings(int q, int c, int t) { return {{"quality", q}, {"communication", c}, {"timeliness", t}}; }
boost::json::object review_body(std::string text = "Clear, careful and on time.") {
  return {{"ratings", ratings(5, 4, 3)}, {"text", std::move(text)}};
}

claims reader(const user& u) {
  claims c;
  c.who = u;
  c.engagements = {"*"};
  return c;
}

// Plays the server: checked plans and system events get a seq and the clock's
// ts and are applied; the sealed payloads are kept as an engine keeps them.
struct harness {
  engagement_state state = new_engagement("42", t0);
  std::map<std::string, std::int64_t> heads;
  std::map<std::int64_t, std::string> sealed;
  std::int64_t now = t0;
  engagement_limits limits;

  harness() {
    limits.review_period_ms = period;
    commit({opening_event("42", t0)});
  }

  std::int64_t commit(std::vector<event> events, std::optional<std::string> payload = std::nullopt) {
    std::int64_t first = 0;
    for (auto& ev : events) {
      ev.seq = ++heads[ev.ch];
      if (first == 0) first = ev.seq;
      ev.ts = now;
      apply(state, ev);
    }
    if (payload) sealed[first] = *payload;
    return first;
  }
  void close() {
    event ev;
    ev.ch = "eng:42";
    ev.kind = "phase";
    ev.from = system_user();
    ev.body = {{"from", "completion"}, {"to", "closed"}};
    commit({ev});
  }
  result<plan> review(const user& who, boost::json::object body, const std::string& salt = salt_a,
                      channel_type where = channel_type::engagement) {
    auto valid = validate_body("review", body);
    if (!valid) return valid.err();
    post_request p{channel{where, "42"}, "review", std::move(*valid), "", std::nullopt};
    p.checked_at_ms = now;
    p.salt = salt;
    auto r = check(state, who, p, limits);
    if (r) commit(r->events, r->sealed);
    return r;
  }
  // The reveal, as the server makes it when it is due; its seq.
  std::int64_t reveal() {
    auto pl = plan_reveal(state, sealed);
    REQUIRE(pl);
    return commit(pl->events);
  }
  std::vector<std::string> can_of(const user& u) { return can(state, reader(u), limits); }
};

bool lists(const std::vector<std::string>& actions, const std::string& a) {
  return std::find(actions.begin(), actions.end(), a) != actions.end();
}

}  // namespace

TEST_CASE("a review body is checked strictly: three integer ratings 1-5 and 10-4000 characters of text",
          "[protocol]") {
  struct row {
    const char* what;
    boost::json::object body;
    bool ok;
  };
  std::vector<row> rows = {
      {"well formed", review_body(), true},
      {"lowest and highest ratings", {{"ratings", ratings(1, 5, 1)}, {"text", "0123456789"}}, true},
      {"4000 characters", {{"ratings", ratings(3, 3, 3)}, {"text", std::string(4000, 'x')}}, true},
      {"4000 characters of two bytes each", {{"ratings", ratings(3, 3, 3)}, {"text", [] {
         std::string s;
         for (int i = 0; i < 4000; ++i) s += "é";
         return s;
       }()}}, true},
      {"a rating of 0", {{"ratings", ratings(0, 3, 3)}, {"text", "0123456789"}}, false},
      {"a rating of 6", {{"ratings", ratings(3, 6, 3)}, {"text", "0123456789"}}, false},
      {"a float rating", {{"ratings", {{"quality", 4.0}, {"communication", 3}, {"timeliness", 3}}}, {"text", "0123456789"}}, false},
      {"a string rating", {{"ratings", {{"quality", "5"}, {"communication", 3}, {"timeliness", 3}}}, {"text", "0123456789"}}, false},
      {"a missing rating", {{"ratings", {{"quality", 5}, {"communication", 3}}}, {"text", "0123456789"}}, false},
      {"an unknown rating key", {{"ratings", {{"quality", 5}, {"communication", 3}, {"timeliness", 3}, {"price", 1}}}, {"text", "0123456789"}}, false},
      {"ratings not an object", {{"ratings", boost::json::array{5, 4, 3}}, {"text", "0123456789"}}, false},
      {"no ratings", {{"text", "0123456789"}}, false},
      {"9 characters", {{"ratings", ratings(3, 3, 3)}, {"text", "012345678"}}, false},
      {"4001 characters", {{"ratings", ratings(3, 3, 3)}, {"text", std::string(4001, 'x')}}, false},
      {"a megabyte of text", {{"ratings", ratings(3, 3, 3)}, {"text", std::string(1 << 20, 'x')}}, false},
      {"text not a string", {{"ratings", ratings(3, 3, 3)}, {"text", 1234567890}}, false},
      {"an unknown field", {{"ratings", ratings(3, 3, 3)}, {"text", "0123456789"}, {"stars", 5}}, false},
      {"a client-made seal", {{"ratings", ratings(3, 3, 3)}, {"text", "0123456789"}, {"salt", salt_a}}, false},
  };
  for (const auto& r : rows) {
    INFO(r.what);
    auto checked = validate_body("review", r.body);
    CHECK(checked.ok() == r.ok);
    if (!r.ok) CHECK(checked.err().code == errc::bad_request);
  }
}

TEST_CASE("the commitment is SHA-256 of the RFC 8785 form of {ratings, text, salt}", "[protocol]") {
  // Expected value computed independently in Node.js:
  //   const sort = v => Array.isArray(v) ? v.map(sort) : (v && typeof v === "object")
  //     ? Object.fromEntries(Object.keys(v).sort().map(k => [k, sort(v[k])])) : v;
  //   crypto.createHash("sha256").update(JSON.stringify(sort({ratings: {quality: 5,
  //     communication: 4, timeliness: 3}, text: "Clear and on time. Ünïcödé ✓",
  //     salt: "00112233445566778899aabbccddeeff"})), "utf8").digest("hex")
  const std::string text = "Clear and on time. \xC3\x9Cn\xC3\xAF\x63\xC3\xB6\x64\xC3\xA9 \xE2\x9C\x93";
  auto sealed = sealed_review_json(ratings(5, 4, 3), text, salt_a);
  CHECK(sealed == "{\"ratings\":{\"communication\":4,\"quality\":5,\"timeliness\":3},\"salt\":\"" + salt_a +
                      "\",\"text\":\"" + text + "\"}");
  CHECK(review_commitment(sealed) == "cd45f4be43de098e6d1e5fead6c53b0a54253ec17970c6f39c0a0a2c3645be7d");

  auto post = seal_review({{"ratings", ratings(5, 4, 3)}, {"text", text}}, salt_a);
  CHECK(post.sealed == sealed);
  CHECK(post.body == boost::json::object{{"sealed", true},
                                         {"commitment", "cd45f4be43de098e6d1e5fead6c53b0a54253ec17970c6f39c0a0a2c3645be7d"}});
}

TEST_CASE("a review is stored sealed: its event holds only the commitment, the review goes beside it",
          "[protocol]") {
  harness h;
  h.close();
  auto pl = h.review(client, review_body());
  REQUIRE(pl);
  REQUIRE(pl->events.size() == 1);
  CHECK(pl->events[0].kind == "review");
  CHECK(pl->events[0].body.size() == 2);
  CHECK(pl->events[0].body.at("sealed") == true);
  REQUIRE(pl->sealed);
  CHECK(pl->events[0].body.at("commitment") == boost::json::value(review_commitment(*pl->sealed)));
  CHECK(pl->sealed->find("Clear, careful") != std::string::npos);
  CHECK(pl->sealed->find(salt_a) != std::string::npos);
  CHECK_FALSE(pl->record);
}

TEST_CASE("only the parties review, once each, and only once the engagement is closed", "[protocol]") {
  harness h;
  SECTION("before closed it is conflict") {
    auto r = h.review(client, review_body());
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::conflict);
  }
  SECTION("support and bots are forbidden") {
    h.close();
    for (const auto* who : {&support_user, &bot}) {
      auto r = h.review(*who, review_body());
      REQUIRE_FALSE(r);
      CHECK(r.err().code == errc::forbidden);
    }
  }
  SECTION("not in the mediation channel") {
    h.close();
    auto r = h.review(client, review_body(), salt_a, channel_type::mediation);
    REQUIRE_FALSE(r);
  }
  SECTION("a second review by the same party is conflict, also by another user of that side") {
    h.close();
    REQUIRE(h.review(client, review_body()));
    auto again = h.review(client, review_body("Changed my mind about it."), salt_b);
    REQUIRE_FALSE(again);
    CHECK(again.err().code == errc::conflict);
    auto colleague = h.review(client2, review_body());
    REQUIRE_FALSE(colleague);
    CHECK(colleague.err().code == errc::conflict);
    CHECK(h.review(expert, review_body(), salt_b));
  }
}

TEST_CASE("reviews are taken within the review period after closing", "[protocol]") {
  harness h;
  h.now = t0 + day;
  h.close();
  CHECK(review_due(h.state, period) == t0 + day + period);
  h.now = t0 + day + period - 1;
  CHECK(h.review(client, review_body()));
  h.now = t0 + day + period;
  auto late = h.review(expert, review_body());
  REQUIRE_FALSE(late);
  CHECK(late.err().code == errc::conflict);
}

TEST_CASE("the reveal is due when both have reviewed, and never again once applied", "[protocol]") {
  harness h;
  h.close();
  CHECK_FALSE(reveal_due(h.state, period, h.now));
  auto first = h.review(client, review_body());
  REQUIRE(first);
  CHECK_FALSE(reveal_due(h.state, period, h.now));
  CHECK(next_reveal_due(h.state, period) == t0 + period);
  auto second = h.review(expert, review_body("Precise requirements, quick answers."), salt_b);
  REQUIRE(second);
  CHECK(reveal_due(h.state, period, h.now));
  CHECK(review_seqs(h.state) == std::vector<std::int64_t>{3, 4});

  auto pl = plan_reveal(h.state, h.sealed);
  REQUIRE(pl);
  REQUIRE(pl->events.size() == 1);
  const auto& ev = pl->events[0];
  CHECK(ev.kind == "reviews");
  CHECK(ev.ch == "eng:42");
  CHECK(ev.from.role == user_role::system);
  CHECK(ev.cid == "reviews:42");
  const auto& list = ev.body.at("reviews").as_array();
  REQUIRE(list.size() == 2);
  CHECK(list[0].at("by") == "c1");
  CHECK(list[0].at("role") == "client");
  CHECK(list[0].at("seq") == 3);
  CHECK(list[0].at("ratings") == ratings(5, 4, 3));
  CHECK(list[0].at("salt") == boost::json::value(salt_a));
  CHECK(list[1].at("by") == "e1");
  CHECK(list[1].at("text") == "Precise requirements, quick answers.");
  // Anyone can check each commitment from what is revealed.
  for (const auto& r : list) {
    const auto& o = r.as_object();
    auto again = sealed_review_json(o.at("ratings").as_object(), o.at("text").as_string(), o.at("salt").as_string());
    auto committed = r.at("seq") == 3 ? first->events[0].body.at("commitment") : second->events[0].body.at("commitment");
    CHECK(review_commitment(again) == committed.as_string());
  }
  CHECK(pl->record.fields.at("topic") == "reviews");
  CHECK(pl->record.fields.at("terms") == ev.body.at("reviews"));
  CHECK(pl->record.fields.at("accepted_by") == boost::json::array{"system"});

  h.commit(pl->events);
  CHECK_FALSE(reveal_due(h.state, period, h.now + 100 * day));
  CHECK_FALSE(next_reveal_due(h.state, period));
  // Nobody reviews after the reveal.
  harness late;
  late.close();
  late.reveal();
  auto r = late.review(client, review_body());
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::conflict);
}

TEST_CASE("the reveal is due at the end of the period with one review or none", "[protocol]") {
  harness h;
  h.close();
  SECTION("one review") {
    REQUIRE(h.review(expert, review_body()));
    CHECK_FALSE(reveal_due(h.state, period, t0 + period - 1));
    CHECK(reveal_due(h.state, period, t0 + period));
    auto pl = plan_reveal(h.state, h.sealed);
    REQUIRE(pl);
    CHECK(pl->events[0].body.at("reviews").as_array().size() == 1);
  }
  SECTION("none: an empty list, so that the state says revealed") {
    CHECK(reveal_due(h.state, period, t0 + period));
    auto pl = plan_reveal(h.state, h.sealed);
    REQUIRE(pl);
    CHECK(pl->events[0].body.at("reviews").as_array().empty());
    h.commit(pl->events);
    CHECK(reviews_state_json(h.state, period)->at("revealed") == true);
  }
}

TEST_CASE("a sealed payload that is missing or does not match its commitment reveals nothing", "[protocol]") {
  harness h;
  h.close();
  REQUIRE(h.review(client, review_body()));
  auto seq = review_seqs(h.state).front();
  SECTION("missing") { h.sealed.clear(); }
  SECTION("changed") { h.sealed[seq] = sealed_review_json(ratings(1, 1, 1), "Clear, careful and on time.", salt_a); }
  auto pl = plan_reveal(h.state, h.sealed);
  REQUIRE_FALSE(pl);
  CHECK(pl.err().code == errc::internal);
}

TEST_CASE("can lists review for a party who may review now, and for nobody else", "[protocol]") {
  harness h;
  CHECK_FALSE(lists(h.can_of(client), "review"));
  h.close();
  CHECK(lists(h.can_of(client), "review"));
  CHECK(lists(h.can_of(expert), "review"));
  CHECK_FALSE(lists(h.can_of(support_user), "review"));
  CHECK_FALSE(lists(h.can_of(bot), "review"));
  CHECK_FALSE(lists(h.can_of(service), "review"));
  REQUIRE(h.review(client, review_body()));
  CHECK_FALSE(lists(h.can_of(client), "review"));
  CHECK(lists(h.can_of(expert), "review"));
  h.reveal();
  CHECK_FALSE(lists(h.can_of(expert), "review"));
}

TEST_CASE("state.reviews appears once closed with due, who submitted and whether revealed", "[protocol]") {
  harness h;
  phase_limits limits;
  limits.review_period_ms = period;
  CHECK_FALSE(shared_state_json(h.state, limits).contains("reviews"));
  h.now = t0 + day;
  h.close();
  auto s = shared_state_json(h.state, limits);
  REQUIRE(s.contains("reviews"));
  CHECK(s.at("reviews") == boost::json::object{{"due", t0 + day + period},
                                                {"submitted_by", boost::json::array()},
                                                {"revealed", false}});
  REQUIRE(h.review(expert, review_body()));
  CHECK(shared_state_json(h.state, limits).at("reviews").at("submitted_by") == boost::json::array{"e1"});
  h.reveal();
  CHECK(shared_state_json(h.state, limits).at("reviews").at("revealed") == true);
}

TEST_CASE("before the reveal support sees every review, a party its own, others none, after it everyone all",
          "[protocol]") {
  harness h;
  h.close();
  REQUIRE(h.review(client, review_body()));
  REQUIRE(h.review(expert, review_body("Precise requirements, quick answers."), salt_b));
  auto view = [&](const user& u) {
    auto c = reader(u);
    std::map<std::int64_t, std::string> given;
    for (auto seq : sealed_seqs_for(h.state, c)) given[seq] = h.sealed.at(seq);
    return reviews_for_reader(h.state, c, given, period);
  };

  auto support_view = view(support_user);
  CHECK(support_view.at("revealed") == false);
  CHECK(support_view.at("due") == t0 + period);
  REQUIRE(support_view.at("reviews").as_array().size() == 2);
  for (const auto& r : support_view.at("reviews").as_array()) CHECK(r.as_object().contains("text"));

  auto client_view = view(client);
  const auto& mine = client_view.at("reviews").as_array();
  REQUIRE(mine.size() == 2);
  CHECK(mine[0].at("by") == "c1");
  CHECK(mine[0].at("text") == "Clear, careful and on time.");
  CHECK(mine[1].at("by") == "e1");
  CHECK_FALSE(mine[1].as_object().contains("text"));
  CHECK_FALSE(mine[1].as_object().contains("ratings"));
  CHECK(mine[1].at("sealed") == true);
  CHECK(sealed_seqs_for(h.state, reader(client)) == std::vector<std::int64_t>{3});

  CHECK(view(bot).at("reviews").as_array().empty());
  CHECK(sealed_seqs_for(h.state, reader(bot)).empty());

  h.reveal();
  for (const auto* u : {&bot, &client, &expert, &support_user}) {
    auto after = view(*u);
    CHECK(after.at("revealed") == true);
    REQUIRE(after.at("reviews").as_array().size() == 2);
    CHECK(after.at("reviews").as_array()[1].at("text") == "Precise requirements, quick answers.");
  }
}

// ---- The sealed payload in both engines: stored beside its event in the same
// atomic step, read back by (channel, seq), and never stored alone.

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Each test's own directory.
struct temp_dir : parley::testing::temp_dir {
  temp_dir() : parley::testing::temp_dir("parley-reviews-") {}
};

result<sealed_payloads> sealed_sync(engine& e, std::string ch, std::vector<std::int64_t> seqs) {
  std::promise<result<sealed_payloads>> p;
  auto f = p.get_future();
  e.sealed(std::move(ch), std::move(seqs), [&p](result<sealed_payloads> out) { p.set_value(std::move(out)); });
  return f.get();
}

append_request sealed_request(std::string ch, std::string payload, std::string cid = {}) {
  auto req = testing::one(testing::make_event(std::move(ch), "c1", "sealed", std::move(cid)));
  req.sealed = std::move(payload);
  return req;
}

// The round trip every engine keeps: stored with the event's seq, read back
// for that channel only, once for a repeated cid, and not at all when the
// append fails.
void check_sealed_round_trip(engine& e) {
  using testing::append_sync;
  REQUIRE(append_sync(e, testing::one(testing::make_event("eng:r", "c1", "before"))));
  auto first = append_sync(e, sealed_request("eng:r", "{\"text\":\"one\"}", "review-1"));
  REQUIRE(first);
  CHECK(first->committed[0].seq == 2);
  // The stored event itself holds nothing of the payload.
  CHECK(first->committed[0].json->find("one") == std::string::npos);
  auto again = append_sync(e, sealed_request("eng:r", "{\"text\":\"other\"}", "review-1"));
  REQUIRE(again);
  CHECK(again->duplicate);
  REQUIRE(append_sync(e, sealed_request("eng:r:mediation", "{\"text\":\"elsewhere\"}")));
  REQUIRE(append_sync(e, sealed_request("eng:r", "{\"text\":\"two\"}")));

  auto read = sealed_sync(e, "eng:r", {1, 2, 3, 99});
  REQUIRE(read);
  CHECK(*read == sealed_payloads{{2, "{\"text\":\"one\"}"}, {3, "{\"text\":\"two\"}"}});
  auto none = sealed_sync(e, "eng:other", {2, 3});
  REQUIRE(none);
  CHECK(none->empty());

  // A failed append (the expected head no longer holds) stores neither the event nor its payload.
  auto stale = sealed_request("eng:r", "{\"text\":\"lost\"}");
  stale.expect_heads.emplace_back("eng:r", 1);
  auto refused = append_sync(e, std::move(stale));
  REQUIRE_FALSE(refused);
  CHECK(testing::head_of(e, "eng:r")->head == 3);
  auto after = sealed_sync(e, "eng:r", {4});
  REQUIRE(after);
  CHECK(after->empty());
}

}  // namespace

TEST_CASE("the embedded engine stores a sealed payload beside its event and reads it back", "[storage]") {
  temp_dir dir;
  local_engine_options options;
  options.db_path = dir.path / "parley.db";
  auto e = make_local_engine(options);
  check_sealed_round_trip(*e);
}

TEST_CASE("the embedded engine stores an event with its sealed payload or neither", "[storage]") {
  temp_dir dir;
  local_engine_options options;
  options.db_path = dir.path / "parley.db";
  auto e = make_local_engine(options);
  REQUIRE(testing::append_sync(*e, testing::one(testing::make_event("eng:r", "c1", "first"))));
  // A payload already stored under seq 2 (written behind the engine's back)
  // makes storing the next one fail: the event that would be seq 2 is not kept either.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(options.db_path.string().c_str(), &db) == SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  REQUIRE(sqlite3_exec(db, "INSERT INTO sealed (ch, seq, payload) VALUES ('eng:r', 2, 'planted')", nullptr, nullptr,
                       nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto out = testing::append_sync(*e, sealed_request("eng:r", "{}"));
  REQUIRE_FALSE(out);
  CHECK(testing::head_of(*e, "eng:r")->head == 1);
  CHECK(testing::append_sync(*e, testing::one(testing::make_event("eng:r", "c1", "next")))->committed[0].seq == 2);
}

TEST_CASE("redis: a sealed payload is stored beside its event in the append script and read back", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  testing::redis_server redis;
  redis_engine_options options;
  options.url = redis.url();
  options.instance = "test";
  auto e = make_redis_engine(options);
  for (int i = 0; i < 500 && !e->ready(); ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(e->ready());
  check_sealed_round_trip(*e);
  // In the engagement's hash slot, beside its other keys.
  CHECK(redis.command({"HGET", "parley:{eng:r}:sealed:eng:r", "2"}) == "{\"text\":\"one\"}");

  SECTION("a sealed key Redis cannot write makes the script refuse before it writes anything") {
    redis.command({"SET", "parley:{eng:r}:sealed:eng:r", "not a hash"});
    auto out = testing::append_sync(*e, sealed_request("eng:r", "{}"));
    REQUIRE_FALSE(out);
    CHECK(testing::head_of(*e, "eng:r")->head == 3);
  }
}
