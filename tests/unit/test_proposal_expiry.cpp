// Proposals expire and agreed dates move the phase's due (protocol §9.4), with
// a fake clock: when an expiry is due, its events, once only, the invitation
// lapsing into `declined`, deciding an expired proposal, and `due` in the state
// and the phase miss.
#include "protocol/proposal_expiry.hpp"

#include "protocol/can.hpp"
#include "protocol/frame.hpp"
#include "protocol/invitation.hpp"
#include "protocol/service_levels.hpp"

#include <boost/json/serialize.hpp>
#include "test_users.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>

using namespace parley;
using namespace parley::test_users;

namespace {

constexpr std::int64_t minute = 60'000;
constexpr std::int64_t hour = 60 * minute;
constexpr std::int64_t ttl = 72 * hour;

const user support_staff = support_user;

// Plays the server: every checked post's plan and every system event is
// stored with a seq per channel and the clock's ts, then applied.
struct harness {
  engagement_state state = new_engagement("42", t0);
  std::map<std::string, std::int64_t> heads;
  std::int64_t now = t0;

  harness() { commit({opening_event("42", t0)}); }

  // Stores and applies events; the seq of the first.
  std::int64_t commit(std::vector<event> events) {
    std::int64_t first = 0;
    for (auto& ev : events) {
      ev.seq = ++heads[ev.ch];
      if (first == 0) first = ev.seq;
      ev.ts = now;
      apply(state, ev);
    }
    return first;
  }
  result<plan> post(const user& who, std::string kind, boost::json::object body,
                    channel_type where = channel_type::engagement) {
    auto valid = validate_body(kind, body);
    if (!valid) return valid.err();
    post_request p{channel{where, "42"}, std::move(kind), std::move(*valid), "", std::nullopt};
    auto r = check(state, who, p);
    if (r) last_seq = commit(r->events);
    return r;
  }
  std::int64_t last_seq = 0;
  // Posts and expects success; the seq of the actor's event.
  std::int64_t ok(const user& who, std::string kind, boost::json::object body,
                  channel_type where = channel_type::engagement) {
    auto r = post(who, std::move(kind), std::move(body), where);
    INFO((r ? std::string() : r.err().message));
    REQUIRE(r);
    return last_seq;
  }
  std::int64_t propose(const user& who, std::string topic, boost::json::object terms) {
    return ok(who, "proposal", {{"topic", topic}, {"text", topic}, {"terms", std::move(terms)}});
  }
  void decide(const user& who, std::int64_t seq, std::string verdict = "accepted") {
    ok(who, "decision", {{"proposal", seq}, {"verdict", verdict}});
  }
  // Stores every expiry due now, as the watcher does.
  std::size_t expire_due() {
    auto due = due_expiries(state, ttl, now);
    for (auto& x : due) commit(std::move(x.events));
    return due.size();
  }
  void to_active() {
    decide(expert, propose(client, "phase", {{"to", "agreement"}}));
    decide(expert, propose(client, "agreement", {{"scope", "all"}}));
    decide(expert, propose(client, "phase", {{"to", "active"}}));
    REQUIRE(state.phase == engagement_phase::active);
  }
};

std::string outcome(const result<plan>& r) { return r ? "ok" : std::string(code_name(r.err().code)); }

claims reader(const user& u) { return claims{u, {"42"}, t0 / 1000 + 3600, std::nullopt}; }

bool lists(const std::vector<std::string>& actions, const std::string& a) {
  return std::find(actions.begin(), actions.end(), a) != actions.end();
}

}  // namespace

TEST_CASE("an open proposal is due to expire exactly at its ts + the TTL", "[rules][expiry]") {
  harness h;
  h.now = t0 + 10 * minute;
  auto seq = h.propose(client, "scope_change", {{"scope", "more"}});
  REQUIRE(next_expiry(h.state, ttl) == t0 + 10 * minute + ttl);
  CHECK(due_expiries(h.state, ttl, t0 + 10 * minute + ttl - 1).empty());

  auto due = due_expiries(h.state, ttl, t0 + 10 * minute + ttl);
  REQUIRE(due.size() == 1);
  REQUIRE(due[0].events.size() == 1);
  const auto& ev = due[0].events[0];
  CHECK(ev.ch == "eng:42");
  CHECK(ev.kind == "proposal_expired");
  CHECK(ev.from.role == user_role::system);
  CHECK(ev.body == boost::json::object{{"proposal", seq}});
  CHECK(ev.cid == "proposal_expired:" + std::to_string(seq));
  // The service-level watcher wakes for it.
  CHECK(next_due(h.state, sla_windows{.reply_ms = 1000 * ttl, .status_ms = 1000 * ttl, .phases = {},
                                      .proposal_ttl_ms = ttl}) <= t0 + 10 * minute + ttl);
}

TEST_CASE("every topic expires, once", "[rules][expiry]") {
  auto topic = GENERATE(as<std::string>{}, "agreement", "scope_change", "timeline", "compensation", "phase");
  CAPTURE(topic);
  harness h;
  auto seq = h.propose(client, topic, topic == "phase" ? boost::json::object{{"to", "agreement"}}
                                                        : boost::json::object{{"x", 1}});
  h.now = t0 + ttl;
  REQUIRE(h.expire_due() == 1);
  CHECK(h.state.proposals.empty());
  CHECK(is_expired(h.state, "eng:42", seq));
  // After apply the same proposal is never due again.
  CHECK(due_expiries(h.state, ttl, t0 + 10 * ttl).empty());
  CHECK_FALSE(next_expiry(h.state, ttl).has_value());

  // Deciding it afterwards says why it is refused.
  auto r = h.post(expert, "decision", {{"proposal", seq}, {"verdict", "accepted"}});
  REQUIRE(outcome(r) == "conflict");
  CHECK(r.err().message == "proposal " + std::to_string(seq) + " expired");
  CHECK_FALSE(lists(can(h.state, reader(expert)), "decide:" + std::to_string(seq)));
}

TEST_CASE("a proposal decided before its TTL never expires", "[rules][expiry]") {
  auto verdict = GENERATE(as<std::string>{}, "accepted", "rejected");
  harness h;
  auto seq = h.propose(client, "scope_change", {{"scope", "more"}});
  h.now = t0 + ttl - 1;
  h.decide(expert, seq, verdict);
  CHECK_FALSE(next_expiry(h.state, ttl).has_value());
  CHECK(due_expiries(h.state, ttl, t0 + 10 * ttl).empty());
  // An expiry that lost the race to the decision changes nothing when applied.
  event late;
  late.ch = "eng:42";
  late.kind = "proposal_expired";
  late.from = system_user();
  late.body = {{"proposal", seq}};
  h.commit({late});
  CHECK_FALSE(is_expired(h.state, "eng:42", seq));
}

TEST_CASE("proposals expire one by one, oldest first, and only those due", "[rules][expiry]") {
  harness h;
  auto first = h.propose(client, "scope_change", {{"a", 1}});
  h.now = t0 + hour;
  auto second = h.propose(expert, "timeline", {{"b", 2}});
  h.now = t0 + 2 * hour;
  h.propose(client, "compensation", {{"c", 3}});
  auto due = due_expiries(h.state, ttl, t0 + hour + ttl);
  REQUIRE(due.size() == 2);
  CHECK(due[0].events[0].body.at("proposal") == first);
  CHECK(due[1].events[0].body.at("proposal") == second);
  CHECK(next_expiry(h.state, ttl) == t0 + ttl);
}

TEST_CASE("only the server's proposal_expired counts, and clients cannot post one", "[rules][expiry]") {
  harness h;
  auto seq = h.propose(client, "scope_change", {{"a", 1}});
  event forged;
  forged.ch = "eng:42";
  forged.kind = "proposal_expired";
  forged.from = client;
  forged.body = {{"proposal", seq}};
  h.commit({forged});
  CHECK(h.state.proposals.size() == 1);
  auto r = validate_body("proposal_expired", {{"proposal", seq}});
  REQUIRE_FALSE(r);
  CHECK(r.err().message == "kind proposal_expired is made by the server and may not be posted");
}

TEST_CASE("a resolution expires in the mediation channel", "[rules][expiry]") {
  harness h;
  h.to_active();
  auto flag = h.ok(client, "flag", {{"type", "dispute"}, {"text", "late"}});
  h.now = t0 + hour;
  auto seq = h.ok(support_staff, "proposal",
                  {{"topic", "resolution"}, {"text", "split"}, {"terms", {{"flag", flag}}}},
                  channel_type::mediation);
  // One side accepted: still open, still expires.
  h.ok(client, "decision", {{"proposal", seq}, {"verdict", "accepted"}}, channel_type::mediation);
  auto due = due_expiries(h.state, ttl, t0 + hour + ttl);
  REQUIRE(due.size() == 1);
  CHECK(due[0].events[0].ch == "eng:42:mediation");
  h.now = t0 + hour + ttl;
  REQUIRE(h.expire_due() == 1);
  CHECK(is_expired(h.state, "eng:42:mediation", seq));
  CHECK_FALSE(is_expired(h.state, "eng:42", seq));
  auto r = h.post(expert, "decision", {{"proposal", seq}, {"verdict", "accepted"}}, channel_type::mediation);
  REQUIRE(outcome(r) == "conflict");
  CHECK(r.err().message == "proposal " + std::to_string(seq) + " expired");
  // The dispute stays open: a new resolution can be proposed.
  CHECK(h.state.flags.count(flag) == 1);
  CHECK(lists(can(h.state, reader(support_staff)), "propose:resolution"));
}

TEST_CASE("an invitation that expires declines the engagement", "[rules][expiry][invitation]") {
  constexpr std::string_view body = R"({"title":"T","client":{"id":"c1"},"expert":{"id":"e1"}})";
  engagement_state s = new_engagement("42", t0);
  std::map<std::string, std::int64_t> heads;
  auto commit = [&](std::vector<event> events, std::int64_t ts) {
    for (auto& ev : events) {
      ev.seq = ++heads[ev.ch];
      ev.ts = ts;
      apply(s, ev);
    }
  };
  commit(invitation_events("42", parse_invitation(body).value(), t0), t0);
  REQUIRE(s.phase == engagement_phase::invited);
  CHECK(due_expiries(s, ttl, t0 + ttl - 1).empty());
  auto due = due_expiries(s, ttl, t0 + ttl);
  REQUIRE(due.size() == 1);
  REQUIRE(due[0].events.size() == 2);
  CHECK(due[0].events[0].kind == "proposal_expired");
  CHECK(due[0].events[1].kind == "phase");
  CHECK(due[0].events[1].body == boost::json::object{{"from", "invited"}, {"to", "declined"}});
  commit(std::move(due[0].events), t0 + ttl);
  CHECK(s.phase == engagement_phase::declined);
  CHECK(s.proposals.empty());
  CHECK(due_expiries(s, ttl, t0 + 10 * ttl).empty());
  CHECK(can(s, claims{expert, {"42"}, t0 / 1000 + 3600, std::nullopt}).empty());
}

TEST_CASE("expired proposals are remembered up to a bound", "[rules][expiry]") {
  harness h;
  std::int64_t first = 0;
  for (std::size_t i = 0; i < max_expired_remembered + 10; ++i) {
    auto seq = h.propose(client, "scope_change", {{"i", static_cast<std::int64_t>(i)}});
    if (i == 0) first = seq;
    h.now += ttl;
    REQUIRE(h.expire_due() == 1);
  }
  CHECK(h.state.expired_proposals->size() == max_expired_remembered);
  // A forgotten one is still refused, only less precisely.
  auto r = h.post(expert, "decision", {{"proposal", first}, {"verdict", "accepted"}});
  CHECK(outcome(r) == "conflict");
}

TEST_CASE("50 open proposals expiring at once make 50 expiries", "[rules][expiry][abuse]") {
  harness h;
  for (std::size_t i = 0; i < max_open_proposals; ++i) h.propose(client, "scope_change", {{"i", static_cast<std::int64_t>(i)}});
  REQUIRE(outcome(h.post(client, "proposal", {{"topic", "timeline"}, {"text", "t"}, {"terms", boost::json::object{}}})) ==
          "conflict");
  h.now = t0 + ttl;
  CHECK(h.expire_due() == max_open_proposals);
  CHECK(h.state.proposals.empty());
  CHECK(h.expire_due() == 0);
  // Room again for new proposals.
  CHECK(outcome(h.post(client, "proposal", {{"topic", "timeline"}, {"text", "t"}, {"terms", boost::json::object{}}})) ==
        "ok");
}

TEST_CASE("terms.due is an integer of milliseconds", "[protocol][expiry]") {
  struct row {
    std::string topic;
    boost::json::value due;
    std::string expected;
  };
  auto r = GENERATE(values<row>({
      {"agreement", t0 + 10 * hour, "ok"},
      {"timeline", 1'000'000'000'000, "ok"},
      {"timeline", 999'999'999'999, "bad_request"},  // seconds by mistake, or 1970
      {"timeline", 1'764'000'000, "bad_request"},
      {"timeline", 0, "bad_request"},
      {"timeline", -5, "bad_request"},
      {"timeline", 1.7e12, "bad_request"},
      {"timeline", "1764000000000", "bad_request"},
      {"scope_change", boost::json::array{1}, "bad_request"},
      {"compensation", t0, "ok"},
  }));
  CAPTURE(r.topic, boost::json::serialize(r.due));
  boost::json::object body{{"topic", r.topic}, {"text", "t"}, {"terms", {{"due", r.due}}}};
  auto v = validate_body("proposal", body);
  CHECK((v ? std::string("ok") : std::string(code_name(v.err().code))) == r.expected);
  // A phase proposal's terms are exactly {to}.
  CHECK_FALSE(validate_body("proposal", {{"topic", "phase"}, {"text", "t"}, {"terms", {{"to", "agreement"}, {"due", t0}}}}));
}

TEST_CASE("an agreed due sets phase_due while active only", "[rules][expiry][due]") {
  harness h;
  const std::int64_t agreed = t0 + 5 * 24 * hour;
  h.decide(expert, h.propose(client, "phase", {{"to", "agreement"}}));
  h.decide(expert, h.propose(client, "agreement", {{"scope", "all"}, {"due", agreed}}));
  CHECK(h.state.agreed_due == agreed);
  phase_limits limits;
  // Still in agreement: the phase's own bound.
  CHECK(phase_due(h.state, limits) == h.state.phase_since_ms + limits.agreement_ms);
  auto shared = shared_state_json(h.state, limits);
  CHECK(shared.at("due") == agreed);
  h.decide(expert, h.propose(client, "phase", {{"to", "active"}}));
  CHECK(phase_due(h.state, limits) == agreed);
  CHECK(shared_state_json(h.state, limits).at("phase_due") == agreed);
  // A later accepted timeline moves it; a rejected one does not.
  h.decide(client, h.propose(expert, "timeline", {{"due", agreed + hour}}), "rejected");
  CHECK(phase_due(h.state, limits) == agreed);
  h.decide(client, h.propose(expert, "timeline", {{"due", agreed + 2 * hour}}));
  CHECK(phase_due(h.state, limits) == agreed + 2 * hour);
  h.decide(expert, h.propose(client, "phase", {{"to", "completion"}}));
  CHECK(phase_due(h.state, limits) == h.state.phase_since_ms + limits.completion_ms);
}

TEST_CASE("a first-use engagement without an agreed due has due null", "[rules][expiry][due]") {
  harness h;
  CHECK(shared_state_json(h.state, {}).at("due").is_null());
}

TEST_CASE("phase_overdue follows the agreed due, once per date", "[rules][expiry][due]") {
  harness h;
  h.to_active();
  sla_windows w;
  w.reply_ms = w.status_ms = 1000 * ttl;  // only the phase miss is of interest
  w.proposal_ttl_ms = 1000 * ttl;
  const std::int64_t since = h.state.phase_since_ms;
  // Before any agreed due: the active bound.
  CHECK(next_due(h.state, w) == since + w.phases.active_ms);

  const std::int64_t agreed = t0 + 3 * 24 * hour;
  h.decide(client, h.propose(expert, "timeline", {{"due", agreed}}));
  CHECK(next_due(h.state, w) == agreed);
  CHECK(due_misses(h.state, w, agreed - 1).empty());
  auto misses = due_misses(h.state, w, agreed);
  REQUIRE(misses.size() == 1);
  CHECK(misses[0].sla.body.at("due") == agreed);
  CHECK(misses[0].sla.body.at("phase") == "active");
  CHECK(misses[0].sla.cid == "sla:phase_overdue:active:" + std::to_string(since) + ":" + std::to_string(agreed));
  REQUIRE(misses[0].notice);
  CHECK(misses[0].notice->cid == "notice:phase_overdue:42:active:" + std::to_string(since) + ":" +
                                     std::to_string(agreed));
  h.now = agreed;
  h.commit({misses[0].sla});
  // Posted: silent for that date.
  CHECK(due_misses(h.state, w, agreed + 10 * ttl).empty());
  CHECK(next_due(h.state, w) > agreed + 10 * ttl);  // only the far status window is left

  // A later agreement moves the date: the new date can be missed again, once.
  const std::int64_t moved = agreed + 2 * 24 * hour;
  h.decide(client, h.propose(expert, "timeline", {{"due", moved}}));
  CHECK(next_due(h.state, w) == moved);
  CHECK(due_misses(h.state, w, moved - 1).empty());
  auto again = due_misses(h.state, w, moved);
  REQUIRE(again.size() == 1);
  CHECK(again[0].sla.body.at("due") == moved);
  CHECK(again[0].sla.cid != misses[0].sla.cid);
  h.commit({again[0].sla});
  CHECK(due_misses(h.state, w, moved + 10 * ttl).empty());
}

TEST_CASE("without an agreed due the phase miss keeps its v1 key", "[rules][expiry][due]") {
  harness h;
  sla_windows w;
  w.reply_ms = w.status_ms = w.proposal_ttl_ms = 1000 * ttl;
  auto misses = due_misses(h.state, w, t0 + w.phases.discovery_ms);
  REQUIRE(misses.size() == 1);
  CHECK(misses[0].sla.cid == "sla:phase_overdue:discovery:" + std::to_string(t0));
  h.commit({misses[0].sla});
  CHECK(due_misses(h.state, w, t0 + 10 * ttl).empty());
}
