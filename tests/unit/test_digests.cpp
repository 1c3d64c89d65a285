// Offline digests (protocol §9.8 notify.digest) with a fake clock: who gets
// one, when, what it says, and when none is sent.
#include "protocol/digests.hpp"

#include <boost/json/serialize.hpp>
#include "test_users.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <string>

using namespace parley;

namespace {

using namespace test_users;

constexpr std::int64_t minute = 60'000;
constexpr std::int64_t hour = 60 * minute;

// eng:7 as stored: each event applied to the state and kept in the tail.
struct channel_log {
  engagement_state state = new_engagement("7", t0);
  channel_tail tail;

  std::int64_t add(const user& who, std::string kind, boost::json::object body, std::int64_t ts) {
    event ev;
    ev.ch = "eng:7";
    ev.seq = ++tail.head;
    ev.ts = ts;
    ev.kind = std::move(kind);
    ev.from = who;
    ev.body = std::move(body);
    apply(state, ev);
    tail.events.push_back({ev.seq, ts, who.id});
    return ev.seq;
  }
  std::int64_t say(const user& who, std::int64_t ts) { return add(who, "message", {{"text", "hello"}}, ts); }
};

party_reading reading(const user& who, std::int64_t read_seq = 0) {
  return {{who.id, who.role == user_role::client ? side::client : side::expert}, read_seq, false, {}};
}

const digest_settings settings{};
const sla_windows windows{};

digest_decision decide(const channel_log& log, const party_reading& p, std::int64_t now) {
  return decide_digest(log.state, p, log.tail, settings, windows, now);
}

}  // namespace

TEST_CASE("a party away with an unread message gets a digest after 15 minutes", "[digests]") {
  channel_log log;
  log.say(expert, t0);
  auto asked = log.say(client, t0 + minute);

  auto early = decide(log, reading(expert, 1), t0 + 10 * minute);
  CHECK_FALSE(early.send);
  REQUIRE(early.look_again);
  CHECK(*early.look_again == t0 + 16 * minute);

  auto due = decide(log, reading(expert, 1), t0 + 16 * minute);
  REQUIRE(due.send);
  CHECK(due.send->user == "e1");
  CHECK(due.send->first == asked);
  CHECK(due.send->through == asked);
  CHECK(due.send->unread == 1);
  CHECK(due.send->owed_reply);
  REQUIRE(due.send->next_due);
  CHECK(*due.send->next_due == t0 + minute + windows.reply_ms);
  CHECK(boost::json::serialize(digest_data(*due.send)) ==
        R"({"user":"e1","unread":1,"owed_reply":true,"next_due":)" + std::to_string(t0 + minute + windows.reply_ms) +
            "}");
}

TEST_CASE("no digest for a party who read in time, or whose own post is the latest", "[digests]") {
  channel_log log;
  log.say(client, t0);
  auto answer = log.say(expert, t0 + minute);

  // The expert read the client's message before answering; the client read the answer.
  CHECK_FALSE(decide(log, reading(expert, 1), t0 + 2 * hour).send);
  CHECK_FALSE(decide(log, reading(expert, 1), t0 + 2 * hour).look_again);
  CHECK_FALSE(decide(log, reading(client, answer), t0 + 2 * hour).send);

  // Posting counts as having read what came before, even with no marker.
  CHECK_FALSE(decide(log, reading(expert, 0), t0 + 2 * hour).send);
  // The client never marked the answer read: it is unread.
  auto unread = decide(log, reading(client, 0), t0 + 2 * hour);
  REQUIRE(unread.send);
  CHECK(unread.send->unread == 1);
  CHECK(unread.send->first == answer);
}

TEST_CASE("no digest while the party is present, looked at again later", "[digests]") {
  channel_log log;
  log.say(client, t0);
  auto p = reading(expert);
  p.present = true;
  auto now = t0 + hour;
  auto d = decide(log, p, now);
  CHECK_FALSE(d.send);
  REQUIRE(d.look_again);
  CHECK(*d.look_again == now + settings.after_ms);
}

TEST_CASE("at most one digest an hour, and none again for what a digest told", "[digests]") {
  channel_log log;
  auto first = log.say(client, t0);
  auto sent = decide(log, reading(expert), t0 + 15 * minute);
  REQUIRE(sent.send);

  auto p = reading(expert);
  p.last = {t0 + 15 * minute, sent.send->through};
  // Still unread, nothing new: nothing to tell.
  CHECK_FALSE(decide(log, p, t0 + 3 * hour).send);
  CHECK_FALSE(decide(log, p, t0 + 3 * hour).look_again);

  // Something new 5 minutes later: due 20 minutes after it, but not within the hour.
  auto later = log.say(client, t0 + 20 * minute);
  auto held = decide(log, p, t0 + 40 * minute);
  CHECK_FALSE(held.send);
  REQUIRE(held.look_again);
  CHECK(*held.look_again == t0 + 75 * minute);

  auto next = decide(log, p, t0 + 75 * minute);
  REQUIRE(next.send);
  CHECK(next.send->first == later);
  // Unread counts everything after the read point, the digested stretch too.
  CHECK(next.send->unread == later - first + 1);
  CHECK(digest_id("7", *next.send) != digest_id("7", *sent.send));
}

TEST_CASE("support staff and bots are no parties, what they post is unread for the parties", "[digests]") {
  channel_log log;
  log.say(client, t0);
  log.say(expert, t0);
  log.say(support_user, t0 + minute);
  log.add(user{"b1", "", user_role::bot}, "status", {{"text", "build green"}}, t0 + minute);

  auto parties = digest_parties(log.state);
  REQUIRE(parties.size() == 2);
  CHECK(parties[0].user == "c1");
  CHECK(parties[0].party == side::client);
  CHECK(parties[1].user == "e1");
  CHECK(parties[1].party == side::expert);

  auto d = decide(log, reading(client, 1), t0 + hour);
  REQUIRE(d.send);
  CHECK(d.send->unread == 3);
}

TEST_CASE("the parties of an invited engagement are the users it names", "[digests]") {
  channel_log log;
  log.state.invitation = std::make_shared<const boost::json::object>(boost::json::object{
      {"client", {{"id", "c9"}, {"name", "Cleo"}}}, {"expert", {{"id", "e9"}, {"name", "Ezra"}}}});
  log.say(client, t0);  // a first-use speaker is no party here
  auto parties = digest_parties(log.state);
  REQUIRE(parties.size() == 2);
  CHECK(parties[0].user == "c9");
  CHECK(parties[1].user == "e9");
  // No one has spoken in a fresh first-use engagement: no party yet.
  CHECK(digest_parties(new_engagement("8", t0)).empty());
}

TEST_CASE("closed and declined engagements send no digests", "[digests]") {
  for (auto phase : {engagement_phase::closed, engagement_phase::declined}) {
    channel_log log;
    log.say(client, t0);
    log.state.phase = phase;
    auto d = decide(log, reading(expert), t0 + 2 * hour);
    CHECK_FALSE(d.send);
    CHECK_FALSE(d.look_again);
  }
}

TEST_CASE("next_due is the earliest of what the party owes", "[digests]") {
  channel_log log;
  log.say(client, t0);
  log.say(expert, t0);
  log.state.phase = engagement_phase::active;
  auto del = std::make_shared<deliverable>();
  del->key = "report";
  del->status = "submitted";
  del->review_due = t0 + 2 * hour;
  log.state.deliverables["report"] = del;

  // The client owes the expert a reply (24 h) and the review of the delivery (2 h).
  digest_party carla{"c1", side::client};
  digest_party eve{"e1", side::expert};
  CHECK(owed_next_due(log.state, carla, windows) == t0 + 2 * hour);
  // The expert owes nothing.
  CHECK_FALSE(owed_next_due(log.state, eve, windows));

  // A proposal of the client awaits the expert's decision until it expires.
  auto prop = std::make_shared<engagement_proposal>();
  prop->seq = 9;
  prop->ch = "eng:7";
  prop->topic = "timeline";
  prop->by = "c1";
  prop->by_side = side::client;
  prop->ts = t0 + hour;
  log.state.proposals[{"eng:7", 9}] = prop;
  CHECK(owed_next_due(log.state, eve, windows) == t0 + hour + windows.proposal_ttl_ms);
  CHECK(owed_next_due(log.state, carla, windows) == t0 + 2 * hour);

  auto d = decide(log, reading(client), t0 + hour);
  REQUIRE(d.send);
  CHECK(d.send->owed_reply);
  CHECK(boost::json::serialize(digest_data(*d.send)).find("\"next_due\":" + std::to_string(t0 + 2 * hour)) !=
        std::string::npos);
}

TEST_CASE("a digest's id is the same wherever it is made, and URL-safe", "[digests]") {
  digest d{"e1", 5, 9, 4, false, std::nullopt};
  auto id = digest_id("7", d);
  CHECK(id == digest_id("7", d));
  CHECK(id.size() == 3 + 32);
  CHECK(id.rfind("wh_", 0) == 0);
  CHECK(id.find_first_not_of("wh_0123456789abcdef") == std::string::npos);
  auto other = d;
  other.first = 6;
  CHECK(digest_id("7", other) != id);
  CHECK(digest_id("70", d) != id);
  other = d;
  other.user = "c1";
  CHECK(digest_id("7", other) != id);
  CHECK(boost::json::serialize(digest_data(d)) == R"({"user":"e1","unread":4,"owed_reply":false,"next_due":null})");
}

TEST_CASE("unread stops counting at its cap, a stretch older than the tail is timed by the tail", "[digests]") {
  channel_log log;
  log.say(expert, t0);
  for (int i = 0; i < 1200; ++i) log.say(client, t0 + hour);
  // The watcher reads only the latest events.
  log.tail.events.erase(log.tail.events.begin(), log.tail.events.end() - digest_tail_events);
  auto d = decide(log, reading(expert, 1), t0 + hour + 15 * minute);
  REQUIRE(d.send);
  CHECK(d.send->unread == max_digest_unread);
  CHECK(d.send->first == 2);
  CHECK_FALSE(decide(log, reading(expert, 1), t0 + hour + 14 * minute).send);
}

TEST_CASE("a tail that does not reach the head is looked at again", "[digests]") {
  channel_log log;
  log.say(client, t0);
  log.tail.head = 3;  // appended after the read
  log.tail.events.clear();
  auto d = decide(log, reading(expert, 1), t0 + hour);
  CHECK_FALSE(d.send);
  REQUIRE(d.look_again);
  CHECK(*d.look_again == t0 + hour + settings.after_ms);
}
