// The engagement rules and state (protocol §1, §3 kinds, §4), without a socket:
// a small harness plays the server (check, then assign seq/ts and apply).
#include "protocol/engagement.hpp"

#include "protocol/can.hpp"

#include <boost/json/serialize.hpp>
#include "test_users.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

using namespace parley;

namespace {

using namespace test_users;
constexpr std::int64_t hour = 3'600'000;

boost::json::object message_body(std::string text) { return {{"text", text}}; }
boost::json::object flag_body(std::string type) { return {{"type", type}, {"text", type + " raised"}}; }
boost::json::object proposal_body(std::string topic, boost::json::object terms) {
  return {{"topic", topic}, {"text", topic + " proposed"}, {"terms", std::move(terms)}};
}
boost::json::object phase_body(std::string to) { return proposal_body("phase", {{"to", to}}); }
boost::json::object decision_body(std::int64_t seq, std::string verdict) {
  return {{"proposal", seq}, {"verdict", verdict}};
}

// Plays the server: check, then commit the plan's events (seq per channel, ts = clock) and apply them.
struct harness {
  engagement_state state = new_engagement("42", t0);
  std::map<std::string, std::int64_t> heads;
  std::vector<event> log;
  std::int64_t now = t0;
  std::optional<plan> last_plan;

  result<plan> post(const user& who, channel_type ct, std::string kind, boost::json::object body) {
    post_request p{channel{ct, ct == channel_type::support ? "" : "42"}, std::move(kind), std::move(body), "cid-1", std::nullopt};
    auto r = check(state, who, p);
    if (r) {
      last_plan = *r;
      commit(r->events);
    }
    return r;
  }
  result<plan> post(const user& who, std::string kind, boost::json::object body) {
    return post(who, channel_type::engagement, std::move(kind), std::move(body));
  }
  // Posts and requires success; returns the actor event's seq.
  std::int64_t must(const user& who, channel_type ct, std::string kind, boost::json::object body) {
    auto r = post(who, ct, kind, std::move(body));
    INFO(kind << " by " << who.id << ": " << (r ? std::string("ok") : r.err().message));
    REQUIRE(r.ok());
    return committed_seq;
  }
  std::int64_t must(const user& who, std::string kind, boost::json::object body) {
    return must(who, channel_type::engagement, std::move(kind), std::move(body));
  }
  void commit(std::vector<event> events) {
    for (std::size_t i = 0; i < events.size(); ++i) {
      auto& ev = events[i];
      ev.seq = ++heads[ev.ch];
      ev.ts = now;
      if (i == 0) committed_seq = ev.seq;
      apply(state, ev);
      log.push_back(ev);
    }
  }
  // Drives the engagement forward with real proposals and decisions.
  void advance_to(engagement_phase target) {
    while (state.phase < target) {
      auto next = static_cast<engagement_phase>(static_cast<int>(state.phase) + 1);
      if (next == engagement_phase::active && !state.agreement_accepted) {
        auto a = must(expert, "proposal", proposal_body("agreement", {{"scope", "site"}, {"price", 1000}}));
        must(client, "decision", decision_body(a, "accepted"));
      }
      now += hour;
      auto p = must(expert, "proposal", phase_body(std::string(phase_name(next))));
      must(client, "decision", decision_body(p, "accepted"));
    }
  }
  std::int64_t committed_seq = 0;
};

std::string outcome(const result<plan>& r) { return r ? "ok" : std::string(code_name(r.err().code)); }

// The reader of state_json: a party of the engagement.
const claims reader{client, {"42"}, 0, std::nullopt};

}  // namespace

TEST_CASE("each role may post the kinds of the protocol's kinds table", "[rules]") {
  struct row {
    const user* who;
    std::string kind;
    boost::json::object body;
    std::string expected;
  };
  auto r = GENERATE(values<row>({
      {&client, "message", message_body("hi"), "ok"},
      {&expert, "message", message_body("hi"), "ok"},
      {&support_user, "message", message_body("hi"), "ok"},
      {&bot, "message", message_body("hi"), "forbidden"},
      {&service, "message", message_body("hi"), "forbidden"},
      {&client, "status", message_body("on it"), "ok"},
      {&expert, "status", message_body("on it"), "ok"},
      {&bot, "status", message_body("build green"), "ok"},
      {&service, "status", message_body("invoice paid"), "ok"},
      {&support_user, "status", message_body("x"), "forbidden"},
      {&client, "flag", flag_body("risk"), "ok"},
      {&expert, "flag", flag_body("scope_change"), "ok"},
      {&support_user, "flag", flag_body("dispute"), "ok"},
      {&bot, "flag", flag_body("blocker"), "ok"},
      {&service, "flag", flag_body("delay"), "forbidden"},
      {&client, "proposal", proposal_body("agreement", {{"price", 1}}), "ok"},
      {&expert, "proposal", proposal_body("timeline", {{"weeks", 3}}), "ok"},
      {&support_user, "proposal", proposal_body("agreement", {{"price", 1}}), "forbidden"},
      {&bot, "proposal", proposal_body("agreement", {{"price", 1}}), "forbidden"},
      {&service, "proposal", proposal_body("compensation", {{"price", 1}}), "forbidden"},
      {&client, "proposal", proposal_body("resolution", {{"flag", 1}}), "forbidden"},
      {&client, "phase", {{"from", "discovery"}, {"to", "agreement"}}, "bad_request"},
      {&client, "sla", {{"type", "reply_overdue"}}, "bad_request"},
  }));
  CAPTURE(r.who->id, r.kind, boost::json::serialize(r.body));
  harness h;
  CHECK(outcome(h.post(*r.who, r.kind, r.body)) == r.expected);
}

TEST_CASE("bots may raise only delay, risk and blocker flags", "[rules]") {
  struct row {
    std::string type;
    std::string expected;
  };
  auto r = GENERATE(values<row>({
      {"delay", "ok"}, {"risk", "ok"}, {"blocker", "ok"}, {"scope_change", "forbidden"}, {"dispute", "forbidden"}}));
  CAPTURE(r.type);
  harness h;
  CHECK(outcome(h.post(bot, "flag", flag_body(r.type))) == r.expected);
}

TEST_CASE("a phase proposal must name exactly the next phase", "[rules]") {
  struct row {
    engagement_phase from;
    std::string to;
    const user* who;
    std::string expected;
  };
  using P = engagement_phase;
  auto r = GENERATE(values<row>({
      {P::discovery, "agreement", &client, "ok"},
      {P::discovery, "agreement", &expert, "ok"},
      {P::discovery, "discovery", &client, "conflict"},
      {P::discovery, "active", &client, "conflict"},
      {P::discovery, "completion", &expert, "conflict"},
      {P::discovery, "closed", &expert, "conflict"},
      {P::agreement, "discovery", &client, "conflict"},
      {P::agreement, "completion", &expert, "conflict"},
      {P::active, "completion", &expert, "ok"},
      {P::active, "completion", &client, "ok"},
      {P::active, "agreement", &expert, "conflict"},
      {P::active, "closed", &expert, "conflict"},
      {P::completion, "closed", &expert, "ok"},
      {P::completion, "closed", &client, "forbidden"},
      {P::completion, "active", &expert, "conflict"},
      {P::closed, "closed", &expert, "conflict"},
      {P::closed, "discovery", &client, "conflict"},
      {P::discovery, "finished", &client, "bad_request"},
  }));
  CAPTURE(phase_name(r.from), r.to, r.who->id);
  harness h;
  h.advance_to(r.from);
  REQUIRE(h.state.phase == r.from);
  CHECK(outcome(h.post(*r.who, "proposal", phase_body(r.to))) == r.expected);
}

TEST_CASE("entering active needs an accepted agreement proposal", "[rules]") {
  harness h;
  h.advance_to(engagement_phase::agreement);
  CHECK(outcome(h.post(expert, "proposal", phase_body("active"))) == "conflict");

  // Other agreement-type topics fill the agreement but are not the agreement itself.
  auto t = h.must(expert, "proposal", proposal_body("timeline", {{"weeks", 4}}));
  h.must(client, "decision", decision_body(t, "accepted"));
  REQUIRE(h.state.agreement != nullptr);
  CHECK(outcome(h.post(expert, "proposal", phase_body("active"))) == "conflict");

  auto a = h.must(expert, "proposal", proposal_body("agreement", {{"price", 900}}));
  h.must(client, "decision", decision_body(a, "accepted"));
  auto p = h.must(expert, "proposal", phase_body("active"));
  auto accepted = h.post(client, "decision", decision_body(p, "accepted"));
  REQUIRE(accepted.ok());
  CHECK(h.state.phase == engagement_phase::active);
}

TEST_CASE("an accepted phase proposal appends a phase event and one decision record", "[rules]") {
  harness h;
  auto p = h.must(client, "proposal", phase_body("agreement"));
  h.now = t0 + 5 * hour;
  auto r = h.post(expert, "decision", decision_body(p, "accepted"));
  REQUIRE(r.ok());
  REQUIRE(r->events.size() == 2);
  CHECK(r->events[0].kind == "decision");
  CHECK(r->events[0].from.id == "e1");
  CHECK(r->events[0].cid == "cid-1");
  CHECK(r->events[1].kind == "phase");
  CHECK(r->events[1].ch == "eng:42");
  CHECK(r->events[1].from.role == user_role::system);
  CHECK(r->events[1].body == boost::json::object{{"from", "discovery"}, {"to", "agreement"}});
  REQUIRE(r->record.has_value());
  CHECK(r->record->attach_to == 0);
  CHECK(r->record->fields == boost::json::object{{"eng", "42"},
                                                 {"ch", "eng:42"},
                                                 {"topic", "phase"},
                                                 {"terms", {{"to", "agreement"}}},
                                                 {"text", "phase proposed"},
                                                 {"proposed_by", "c1"},
                                                 {"accepted_by", boost::json::array{"e1"}},
                                                 {"proposal_seq", p}});
  CHECK(notices_for(r->events[0]).empty());
  CHECK(h.state.phase == engagement_phase::agreement);
  CHECK(h.state.phase_since_ms == t0 + 5 * hour);
}

TEST_CASE("a rejected proposal changes nothing and writes no record", "[rules]") {
  harness h;
  auto p = h.must(client, "proposal", phase_body("agreement"));
  auto r = h.post(expert, "decision", decision_body(p, "rejected"));
  REQUIRE(r.ok());
  CHECK(r->events.size() == 1);
  CHECK_FALSE(r->record.has_value());
  CHECK(h.state.phase == engagement_phase::discovery);
  CHECK(outcome(h.post(expert, "decision", decision_body(p, "accepted"))) == "conflict");
}

TEST_CASE("a proposal is decided once, by the other party only", "[rules]") {
  struct row {
    std::string what;
    const user* decider;
    std::int64_t proposal_offset;  // 0: the proposal; otherwise a seq that does not exist
    channel_type where;
    bool decide_first;  // the client has already accepted it
    std::string expected;
  };
  auto r = GENERATE(values<row>({
      {"the other party accepts", &client, 0, channel_type::engagement, false, "ok"},
      {"its proposer", &expert, 0, channel_type::engagement, false, "conflict"},
      {"support", &support_user, 0, channel_type::engagement, false, "forbidden"},
      {"a bot", &bot, 0, channel_type::engagement, false, "forbidden"},
      {"the platform", &service, 0, channel_type::engagement, false, "forbidden"},
      {"an unknown proposal", &client, 100, channel_type::engagement, false, "not_found"},
      {"twice", &client, 0, channel_type::engagement, true, "conflict"},
      {"by another user on the other side, after acceptance", &client2, 0, channel_type::engagement, true,
       "conflict"},
      {"in the wrong channel", &client, 0, channel_type::mediation, false, "not_found"},
  }));
  CAPTURE(r.what);
  harness h;
  h.must(client, "flag", flag_body("dispute"));  // so that the mediation channel exists
  auto p = h.must(expert, "proposal", proposal_body("timeline", {{"weeks", 2}}));
  if (r.decide_first) h.must(client, "decision", decision_body(p, "accepted"));
  CHECK(outcome(h.post(*r.decider, r.where, "decision", decision_body(p + r.proposal_offset, "accepted"))) ==
        r.expected);
}

TEST_CASE("a proposal is not decided by another user of the proposer's side", "[rules]") {
  harness h;
  auto p = h.must(client, "proposal", proposal_body("compensation", {{"bonus", 100}}));
  CHECK(outcome(h.post(client2, "decision", decision_body(p, "accepted"))) == "forbidden");
  CHECK(outcome(h.post(expert, "decision", decision_body(p, "accepted"))) == "ok");
}

TEST_CASE("accepted agreement-type proposals merge terms key by key and raise the version", "[rules]") {
  harness h;
  auto a = h.must(expert, "proposal", proposal_body("agreement", {{"scope", "site"}, {"price", 1000}}));
  h.must(client, "decision", decision_body(a, "accepted"));
  REQUIRE(h.state.agreement != nullptr);
  CHECK(h.state.agreement->version == 1);

  auto s = h.must(client, "proposal", proposal_body("scope_change", {{"scope", "site+app"}}));
  h.must(expert, "decision", decision_body(s, "accepted"));
  auto rejected = h.must(client, "proposal", proposal_body("compensation", {{"price", 10}}));
  h.must(expert, "decision", decision_body(rejected, "rejected"));
  auto c = h.must(expert, "proposal", proposal_body("compensation", {{"price", 1500}, {"currency", "EUR"}}));
  h.must(client, "decision", decision_body(c, "accepted"));
  auto t = h.must(expert, "proposal", proposal_body("timeline", {{"weeks", 6}}));
  auto r = h.post(client, "decision", decision_body(t, "accepted"));
  REQUIRE(r.ok());
  REQUIRE(r->record.has_value());
  CHECK(r->record->fields.at("topic") == "timeline");

  CHECK(h.state.agreement->version == 4);
  CHECK(h.state.agreement->terms ==
        boost::json::object{{"scope", "site+app"}, {"price", 1500}, {"currency", "EUR"}, {"weeks", 6}});
}

TEST_CASE("closing is the expert's proposal accepted by the client", "[rules]") {
  harness h;
  h.advance_to(engagement_phase::completion);
  CHECK(outcome(h.post(client, "proposal", phase_body("closed"))) == "forbidden");
  auto p = h.must(expert, "proposal", phase_body("closed"));
  CHECK(outcome(h.post(expert, "decision", decision_body(p, "accepted"))) == "conflict");
  auto r = h.post(client, "decision", decision_body(p, "accepted"));
  REQUIRE(r.ok());
  CHECK(r->events.back().body == boost::json::object{{"from", "completion"}, {"to", "closed"}});
  CHECK(h.state.phase == engagement_phase::closed);
  CHECK(state_json(h.state, phase_limits{}, reader).at("phase_due").is_null());
}

TEST_CASE("a phase proposal is checked again when it is accepted", "[rules]") {
  harness h;
  auto first = h.must(client, "proposal", phase_body("agreement"));
  auto second = h.must(expert, "proposal", phase_body("agreement"));
  h.must(expert, "decision", decision_body(first, "accepted"));
  CHECK(outcome(h.post(client, "decision", decision_body(second, "accepted"))) == "conflict");
  // Turning it down is still possible.
  CHECK(outcome(h.post(client, "decision", decision_body(second, "rejected"))) == "ok");
}

TEST_CASE("once closed only messages are allowed and open proposals lapse", "[rules]") {
  harness h;
  h.advance_to(engagement_phase::completion);
  auto pending = h.must(client, "proposal", proposal_body("compensation", {{"bonus", 50}}));
  auto p = h.must(expert, "proposal", phase_body("closed"));
  h.must(client, "decision", decision_body(p, "accepted"));
  REQUIRE(h.state.phase == engagement_phase::closed);

  struct row {
    const user* who;
    std::string kind;
    boost::json::object body;
    std::string expected;
  };
  const std::vector<row> rows = {
      {&client, "message", message_body("thanks!"), "ok"},
      {&support_user, "message", message_body("closing note"), "ok"},
      {&expert, "status", message_body("done"), "conflict"},
      {&client, "flag", flag_body("dispute"), "conflict"},
      {&expert, "proposal", proposal_body("timeline", {{"weeks", 1}}), "conflict"},
      {&expert, "decision", decision_body(pending, "accepted"), "conflict"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.who->id, r.kind);
    CHECK(outcome(h.post(*r.who, r.kind, r.body)) == r.expected);
  }
  CHECK(state_json(h.state, phase_limits{}, reader).at("open_proposals").as_array().empty());
}

TEST_CASE("flag updates follow the flag rules", "[rules]") {
  struct row {
    std::string what;
    std::string flag_type;
    const user* who;
    std::int64_t seq_offset;
    std::string state;
    std::string expected;
  };
  auto r = GENERATE(values<row>({
      {"acknowledge a delay", "delay", &expert, 0, "acknowledged", "ok"},
      {"resolve a risk", "risk", &client, 0, "resolved", "ok"},
      {"support resolves a blocker", "blocker", &support_user, 0, "resolved", "ok"},
      {"a bot updates", "delay", &bot, 0, "resolved", "forbidden"},
      {"an unknown flag", "delay", &client, 50, "resolved", "not_found"},
      {"acknowledge a dispute", "dispute", &expert, 0, "acknowledged", "ok"},
      {"resolve a dispute by update", "dispute", &client, 0, "resolved", "conflict"},
  }));
  CAPTURE(r.what);
  harness h;
  auto f = h.must(client, "flag", flag_body(r.flag_type));
  CHECK(outcome(h.post(*r.who, "flag_update", {{"flag", f + r.seq_offset}, {"state", r.state}, {"text", "x"}})) ==
        r.expected);
}

TEST_CASE("a resolved flag cannot be updated again and leaves the open list", "[rules]") {
  harness h;
  auto f = h.must(client, "flag", flag_body("delay"));
  h.must(expert, "flag_update", {{"flag", f}, {"state", "acknowledged"}, {"text", "seen"}});
  CHECK(state_json(h.state, phase_limits{}, reader).at("open_flags").as_array().at(0).at("state") == "acknowledged");
  h.must(expert, "flag_update", {{"flag", f}, {"state", "resolved"}, {"text", "done"}});
  CHECK(state_json(h.state, phase_limits{}, reader).at("open_flags").as_array().empty());
  CHECK(outcome(h.post(client, "flag_update", {{"flag", f}, {"state", "acknowledged"}, {"text", "x"}})) ==
        "conflict");
}

TEST_CASE("a dispute flag opens mediation and notifies support", "[rules]") {
  harness h;
  CHECK(outcome(h.post(client, channel_type::mediation, "message", message_body("hello?"))) == "not_found");
  auto r = h.post(client, "flag", flag_body("dispute"));
  REQUIRE(r.ok());
  REQUIRE(r->events.size() == 2);
  CHECK(r->events[1].kind == "mediation");
  CHECK(r->events[1].ch == "eng:42");
  CHECK(r->events[1].from.role == user_role::system);
  CHECK(r->events[1].body == boost::json::object{{"state", "opened"}, {"ch", "eng:42:mediation"}});
  CHECK(h.state.mediation_open);
  CHECK(h.state.mediation_exists);

  auto flag = r->events[0];
  flag.seq = h.committed_seq;
  auto notices = notices_for(flag);
  REQUIRE(notices.size() == 1);
  CHECK(notices[0].ch == "support");
  CHECK(notices[0].kind == "notice");
  CHECK(notices[0].from.role == user_role::system);
  CHECK(notices[0].body == boost::json::object{{"type", "dispute"},
                                               {"eng", "42"},
                                               {"flag", h.committed_seq},
                                               {"text", "dispute raised"}});
  CHECK(notices[0].cid == "notice:dispute:42:" + std::to_string(h.committed_seq));

  CHECK(outcome(h.post(client, channel_type::mediation, "message", message_body("hello"))) == "ok");
  // A second dispute while mediation is open notifies support but opens nothing.
  auto again = h.post(expert, "flag", flag_body("dispute"));
  REQUIRE(again.ok());
  CHECK(again->events.size() == 1);
  CHECK(notices_for(again->events[0]).size() == 1);
}

TEST_CASE("a scope_change flag notifies support, other flags do not", "[rules]") {
  struct row {
    std::string type;
    std::size_t notices;
  };
  auto r = GENERATE(values<row>({{"scope_change", 1}, {"delay", 0}, {"risk", 0}, {"blocker", 0}}));
  harness h;
  auto p = h.post(expert, "flag", flag_body(r.type));
  REQUIRE(p.ok());
  CHECK(p->events.size() == 1);
  auto flag = p->events[0];
  flag.seq = 9;
  auto notices = notices_for(flag);
  REQUIRE(notices.size() == r.notices);
  if (r.notices) CHECK(notices[0].body.at("type") == "scope_change");
}

TEST_CASE("resolutions are proposed by support in mediation, naming an open dispute", "[rules]") {
  struct row {
    std::string what;
    const user* who;
    channel_type where;
    int flag;  // 0: the dispute, 1: a delay flag, 2: no such flag
    std::string expected;
  };
  auto r = GENERATE(values<row>({
      {"support in mediation", &support_user, channel_type::mediation, 0, "ok"},
      {"support in the main channel", &support_user, channel_type::engagement, 0, "forbidden"},
      {"a party", &client, channel_type::mediation, 0, "forbidden"},
      {"a bot", &bot, channel_type::mediation, 0, "forbidden"},
      {"naming a flag that is no dispute", &support_user, channel_type::mediation, 1, "conflict"},
      {"naming no flag", &support_user, channel_type::mediation, 2, "not_found"},
      {"other topics in mediation", &client, channel_type::mediation, -1, "forbidden"},
  }));
  CAPTURE(r.what);
  harness h;
  auto dispute = h.must(client, "flag", flag_body("dispute"));
  auto delay = h.must(client, "flag", flag_body("delay"));
  const std::int64_t flags[] = {dispute, delay, 999};
  auto body = r.flag < 0 ? proposal_body("timeline", {{"weeks", 1}})
                         : proposal_body("resolution", {{"flag", flags[r.flag]}, {"refund", 200}});
  CHECK(outcome(h.post(*r.who, r.where, "proposal", body)) == r.expected);
}

TEST_CASE("a resolution is accepted when both parties accept, and closes mediation", "[rules]") {
  harness h;
  auto dispute = h.must(client, "flag", flag_body("dispute"));
  auto res = h.must(support_user, channel_type::mediation, "proposal",
                    proposal_body("resolution", {{"flag", dispute}, {"refund", 200}}));

  CHECK(outcome(h.post(support_user, channel_type::mediation, "decision", decision_body(res, "accepted"))) ==
        "forbidden");
  auto first = h.post(client, channel_type::mediation, "decision", decision_body(res, "accepted"));
  REQUIRE(first.ok());
  CHECK(first->events.size() == 1);
  CHECK_FALSE(first->record.has_value());
  auto open = state_json(h.state, phase_limits{}, reader).at("open_proposals").as_array();
  REQUIRE(open.size() == 1);
  CHECK(open[0].at("accepted_by") == boost::json::array{"c1"});
  CHECK(open[0].at("ch") == "eng:42:mediation");

  // Each party decides once; another client-side user is the same party.
  CHECK(outcome(h.post(client, channel_type::mediation, "decision", decision_body(res, "accepted"))) ==
        "conflict");
  CHECK(outcome(h.post(client2, channel_type::mediation, "decision", decision_body(res, "rejected"))) ==
        "conflict");

  auto second = h.post(expert, channel_type::mediation, "decision", decision_body(res, "accepted"));
  REQUIRE(second.ok());
  REQUIRE(second->record.has_value());
  CHECK(second->record->fields.at("accepted_by") == boost::json::array{"c1", "e1"});
  CHECK(second->record->fields.at("proposed_by") == "s1");
  CHECK(second->record->fields.at("ch") == "eng:42:mediation");
  REQUIRE(second->events.size() == 2);
  CHECK(second->events[1].ch == "eng:42");
  CHECK(second->events[1].body == boost::json::object{{"state", "closed"}, {"ch", "eng:42:mediation"}});
  CHECK_FALSE(h.state.mediation_open);
  CHECK(h.state.flags.count(dispute) == 0);  // a resolved flag leaves the state
  CHECK(state_json(h.state, phase_limits{}, reader).at("open_flags").as_array().empty());
  CHECK(outcome(h.post(expert, channel_type::mediation, "decision", decision_body(res, "accepted"))) ==
        "conflict");
  // The channel stays readable and writable after mediation closed.
  CHECK(outcome(h.post(client, channel_type::mediation, "message", message_body("thanks"))) == "ok");
}

TEST_CASE("a resolution rejected by either party is rejected", "[rules]") {
  struct row {
    const user* first;
    std::string first_verdict;
    const user* second;
  };
  auto r = GENERATE(values<row>({{&client, "rejected", &expert},
                                 {&expert, "rejected", &client},
                                 {&client, "accepted", &expert}}));
  harness h;
  auto dispute = h.must(client, "flag", flag_body("dispute"));
  auto res = h.must(support_user, channel_type::mediation, "proposal",
                    proposal_body("resolution", {{"flag", dispute}}));
  h.must(*r.first, channel_type::mediation, "decision", decision_body(res, r.first_verdict));
  if (r.first_verdict == "accepted") {
    auto rej = h.post(*r.second, channel_type::mediation, "decision", decision_body(res, "rejected"));
    REQUIRE(rej.ok());
    CHECK_FALSE(rej->record.has_value());
  } else {
    CHECK(outcome(h.post(*r.second, channel_type::mediation, "decision", decision_body(res, "accepted"))) ==
          "conflict");
  }
  CHECK(h.state.mediation_open);
  CHECK(h.state.flags.at(dispute)->state == "open");
  CHECK(state_json(h.state, phase_limits{}, reader).at("open_proposals").as_array().empty());
}

TEST_CASE("mediation stays open while another dispute is open", "[rules]") {
  harness h;
  auto d1 = h.must(client, "flag", flag_body("dispute"));
  h.must(expert, "flag", flag_body("dispute"));
  auto res = h.must(support_user, channel_type::mediation, "proposal", proposal_body("resolution", {{"flag", d1}}));
  h.must(client, channel_type::mediation, "decision", decision_body(res, "accepted"));
  auto done = h.post(expert, channel_type::mediation, "decision", decision_body(res, "accepted"));
  REQUIRE(done.ok());
  CHECK(done->events.size() == 1);
  CHECK(h.state.mediation_open);
}

TEST_CASE("a second resolution of an already resolved dispute cannot be accepted", "[rules]") {
  harness h;
  auto d = h.must(client, "flag", flag_body("dispute"));
  auto a = h.must(support_user, channel_type::mediation, "proposal", proposal_body("resolution", {{"flag", d}}));
  auto b = h.must(support_user, channel_type::mediation, "proposal", proposal_body("resolution", {{"flag", d}}));
  h.must(client, channel_type::mediation, "decision", decision_body(a, "accepted"));
  h.must(client, channel_type::mediation, "decision", decision_body(b, "accepted"));
  h.must(expert, channel_type::mediation, "decision", decision_body(a, "accepted"));
  CHECK(outcome(h.post(expert, channel_type::mediation, "decision", decision_body(b, "accepted"))) == "conflict");
}

TEST_CASE("the support channel takes messages from support staff only", "[rules]") {
  struct row {
    const user* who;
    std::string kind;
    std::string expected;
  };
  auto r = GENERATE(values<row>({{&support_user, "message", "ok"},
                                 {&client, "message", "forbidden"},
                                 {&support_user, "flag", "forbidden"}}));
  harness h;
  CHECK(outcome(h.post(*r.who, channel_type::support, r.kind, message_body("note"))) == r.expected);
}

TEST_CASE("a party's message makes the other side owe a reply until it answers", "[rules]") {
  struct step {
    const user* who;
    std::string expect_side;  // empty: no reply owed afterwards
    std::int64_t expect_since;  // seq of the first unanswered message
  };
  // seqs: 1 client, 2 client, 3 support, 4 expert, 5 expert, 6 client
  const std::vector<step> steps = {
      {&client, "expert", 1}, {&client, "expert", 1},  // the earliest unanswered message counts
      {&support_user, "expert", 1},                    // support does not answer for a party
      {&expert, "client", 4},  {&expert, "client", 4}, {&client, "expert", 6},
  };
  harness h;
  for (const auto& s : steps) {
    h.now += hour;
    h.must(*s.who, "message", message_body("text"));
    auto owed = state_json(h.state, phase_limits{}, reader).at("owed_reply");
    CAPTURE(h.committed_seq);
    REQUIRE(owed.is_object());
    CHECK(owed.at("side") == s.expect_side.c_str());
    CHECK(owed.at("since_seq") == s.expect_since);
  }
  CHECK(h.state.owed_reply->since_ts == t0 + 6 * hour);
}

TEST_CASE("state_json has the protocol's shape", "[rules]") {
  harness h;
  auto fresh = state_json(h.state, phase_limits{}, reader);
  CHECK(boost::json::serialize(fresh) ==
        R"({"revision":0,"phase":"discovery","phase_since":1764000000000,"phase_due":1764172800000,"agreement":null,)"
        R"("open_flags":[],"open_proposals":[],"owed_reply":null,"last_status_ts":null,"due":null,)"
        R"("title":null,"details":null,"parties":null,"requirements":[],)"
        R"("settings":{"revisions":2,"review_days":3},"calls":[],"deliverables":{},)"
        R"("can":["flag","message","propose:agreement","propose:call","propose:compensation","propose:phase",)"
        R"("propose:scope_change","propose:timeline","status"]})");

  h.now += hour;
  h.must(client, "message", message_body("hi"));
  auto f = h.must(bot, "flag", flag_body("risk"));
  h.must(bot, "status", message_body("build ok"));
  auto p = h.must(expert, "proposal", proposal_body("agreement", {{"price", 10}}));
  auto s = state_json(h.state, phase_limits{}, reader);
  CHECK(s.at("open_flags") ==
        boost::json::array{{{"seq", f}, {"type", "risk"}, {"state", "open"}, {"text", "risk raised"}, {"by", "b1"}}});
  CHECK(s.at("open_proposals") == boost::json::array{{{"seq", p},
                                                      {"ch", "eng:42"},
                                                      {"topic", "agreement"},
                                                      {"text", "agreement proposed"},
                                                      {"terms", {{"price", 10}}},
                                                      {"by", "e1"},
                                                      {"accepted_by", boost::json::array{}}}});
  CHECK(s.at("owed_reply") ==
        boost::json::object{{"side", "expert"}, {"since_seq", 1}, {"since_ts", t0 + hour}});
  CHECK(s.at("last_status_ts") == t0 + hour);
  h.must(client, "decision", decision_body(p, "accepted"));
  CHECK(state_json(h.state, phase_limits{}, reader).at("agreement") ==
        boost::json::object{{"terms", {{"price", 10}}}, {"version", 1}});
  // One more for each event the state reflects.
  CHECK(state_json(h.state, phase_limits{}, reader).at("revision") == static_cast<std::int64_t>(h.log.size()));
}

TEST_CASE("replaying the stored events rebuilds the same state, and replaying twice changes nothing",
          "[rules]") {
  harness h;
  h.must(client, "message", message_body("hi"));
  h.advance_to(engagement_phase::active);
  auto d = h.must(client, "flag", flag_body("dispute"));
  h.must(expert, "message", message_body("let us talk"));
  auto res = h.must(support_user, channel_type::mediation, "proposal", proposal_body("resolution", {{"flag", d}}));
  h.must(client, channel_type::mediation, "decision", decision_body(res, "accepted"));
  h.must(expert, channel_type::mediation, "decision", decision_body(res, "accepted"));
  h.must(bot, "status", message_body("deployed"));
  const auto live = boost::json::serialize(state_json(h.state, phase_limits{}, reader));

  // Each channel in seq order; the channels one after the other rather than interleaved.
  auto rebuilt = new_engagement("42", t0);
  for (const auto* ch : {"eng:42", "eng:42:mediation"}) {
    for (const auto& ev : h.log) {
      if (ev.ch == ch) apply(rebuilt, ev);
    }
  }
  CHECK(boost::json::serialize(state_json(rebuilt, phase_limits{}, reader)) == live);
  CHECK(rebuilt.mediation_exists);
  CHECK_FALSE(rebuilt.mediation_open);

  for (const auto& ev : h.log) CHECK_FALSE(apply(rebuilt, ev));
  CHECK(boost::json::serialize(state_json(rebuilt, phase_limits{}, reader)) == live);
}

TEST_CASE("apply ignores events of other engagements", "[rules]") {
  auto s = new_engagement("42", t0);
  event ev;
  ev.ch = "eng:43";
  ev.seq = 1;
  ev.kind = "phase";
  ev.from = system_user();
  ev.body = {{"from", "discovery"}, {"to", "agreement"}};
  CHECK_FALSE(apply(s, ev));
  CHECK(s.phase == engagement_phase::discovery);
}

TEST_CASE("an engagement holds at most 50 open proposals: the 51st is a conflict", "[rules]") {
  harness h;
  std::vector<std::int64_t> open;
  for (std::size_t i = 0; i < max_open_proposals; ++i)
    open.push_back(h.must(i % 2 ? client : expert, "proposal", proposal_body("timeline", {{"weeks", 1}})));
  auto refused = h.post(client, "proposal", proposal_body("timeline", {{"weeks", 2}}));
  CHECK(outcome(refused) == "conflict");
  CHECK(h.state.proposals.size() == max_open_proposals);
  // Deciding one makes room again.
  h.must(client, "decision", decision_body(open.front(), "rejected"));
  CHECK(outcome(h.post(client, "proposal", proposal_body("timeline", {{"weeks", 2}}))) == "ok");
  CHECK(outcome(h.post(expert, "proposal", proposal_body("timeline", {{"weeks", 3}}))) == "conflict");
}

TEST_CASE("an engagement holds at most 50 open flags: the 51st is a conflict", "[rules]") {
  harness h;
  std::vector<std::int64_t> flags;
  for (std::size_t i = 0; i < max_open_flags; ++i) flags.push_back(h.must(client, "flag", flag_body("risk")));
  CHECK(outcome(h.post(expert, "flag", flag_body("delay"))) == "conflict");
  // An acknowledged flag is still open; a resolved one makes room.
  h.must(expert, "flag_update", {{"flag", flags[0]}, {"state", "acknowledged"}, {"text", "seen"}});
  CHECK(outcome(h.post(expert, "flag", flag_body("delay"))) == "conflict");
  h.must(expert, "flag_update", {{"flag", flags[0]}, {"state", "resolved"}, {"text", "done"}});
  CHECK(outcome(h.post(expert, "flag", flag_body("delay"))) == "ok");
}

TEST_CASE("decided proposals and resolved flags leave the state, and are still told from unknown seqs",
          "[rules]") {
  harness h;
  auto m = h.must(client, "message", message_body("hi"));
  auto f = h.must(client, "flag", flag_body("risk"));
  auto p = h.must(expert, "proposal", proposal_body("timeline", {{"weeks", 2}}));
  h.must(client, "decision", decision_body(p, "accepted"));
  h.must(expert, "flag_update", {{"flag", f}, {"state", "resolved"}, {"text", "done"}});
  CHECK(h.state.proposals.empty());
  CHECK(h.state.flags.empty());

  // Without a lookup, a seq up to the highest seen counts as closed.
  CHECK(outcome(h.post(client, "decision", decision_body(p, "accepted"))) == "conflict");
  CHECK(outcome(h.post(client, "flag_update", {{"flag", f}, {"state", "acknowledged"}, {"text", "x"}})) ==
        "conflict");
  CHECK(outcome(h.post(client, "decision", decision_body(p + 100, "accepted"))) == "not_found");

  // The server looks up what a closed-looking seq was: a message is not_found, a proposal conflict.
  post_request q{channel{channel_type::engagement, "42"}, "decision", decision_body(m, "accepted"), "", std::nullopt};
  auto target = target_lookup(h.state, q);
  REQUIRE(target.has_value());
  CHECK(*target == std::make_pair(std::string("eng:42"), m));
  q.target_kind = "message";
  CHECK(outcome(check(h.state, client, q)) == "not_found");
  q.body = decision_body(p, "accepted");
  q.target_kind = "proposal";
  CHECK(outcome(check(h.state, client, q)) == "conflict");
  // Open ones and seqs beyond the highest need no lookup.
  auto open = h.must(expert, "proposal", proposal_body("timeline", {{"weeks", 3}}));
  q.body = decision_body(open, "accepted");
  q.target_kind.reset();
  CHECK_FALSE(target_lookup(h.state, q).has_value());
  q.body = decision_body(open + 5, "accepted");
  CHECK_FALSE(target_lookup(h.state, q).has_value());
}

TEST_CASE("apply_shared hands out snapshots that never change, and a new one only on change", "[rules]") {
  harness h;
  h.must(client, "message", message_body("hi"));
  auto p = h.must(expert, "proposal", proposal_body("timeline", {{"weeks", 2}}));
  auto before = std::make_shared<const engagement_state>(h.state);
  const auto before_json = boost::json::serialize(state_json(*before, phase_limits{}, reader));

  h.must(client, "decision", decision_body(p, "accepted"));
  const event decision = h.log.back();
  auto after = apply_shared(before, decision);
  CHECK(after != before);
  CHECK(boost::json::serialize(state_json(*before, phase_limits{}, reader)) == before_json);
  CHECK(boost::json::serialize(state_json(*after, phase_limits{}, reader)) ==
        boost::json::serialize(state_json(h.state, phase_limits{}, reader)));
  // A new snapshot shares the values an event left alone.
  auto p2 = h.must(expert, "proposal", proposal_body("timeline", {{"weeks", 3}}));
  auto with_open = std::make_shared<const engagement_state>(h.state);
  h.must(client, "message", message_body("later"));
  auto after_message = apply_shared(with_open, h.log.back());
  REQUIRE(after_message != with_open);
  CHECK(after_message->proposals.at({"eng:42", p2}) == with_open->proposals.at({"eng:42", p2}));
  CHECK(after_message->agreement == with_open->agreement);
  // Replayed or foreign events change nothing and copy nothing.
  CHECK(apply_shared(after, decision) == after);
  event other = decision;
  other.ch = "eng:43";
  other.seq = 99;
  CHECK(apply_shared(after, other) == after);
}

TEST_CASE("the opening event stores the moment an engagement came into being", "[rules]") {
  auto ev = opening_event("42", t0);
  CHECK(ev.ch == channel::main("42"));
  CHECK(ev.kind == "phase");
  CHECK(ev.from.role == user_role::system);
  CHECK(ev.cid == "engagement:opened");
  CHECK(ev.body == boost::json::object{{"from", nullptr}, {"to", "discovery"}});
  engagement_state s = new_engagement("42", 0);
  ev.seq = 1;
  CHECK(apply(s, ev));
  CHECK(s.phase == engagement_phase::discovery);
  CHECK(s.phase_since_ms == t0);
}

TEST_CASE("workflow posts are ordered and guarded by both channels of the engagement", "[rules]") {
  CHECK_FALSE(is_workflow("message"));
  CHECK_FALSE(is_workflow("status"));
  for (auto kind : {"flag", "flag_update", "proposal", "decision"}) CHECK(is_workflow(kind));
  CHECK(guarded_channels("42") == std::array<std::string, 2>{"eng:42", "eng:42:mediation"});
}

TEST_CASE("a workflow append expects each guarded channel at the last seq the state reflects", "[rules]") {
  harness h;
  using heads = std::vector<std::pair<std::string, std::int64_t>>;
  CHECK(guarded_heads(h.state) == heads{{"eng:42", 0}, {"eng:42:mediation", 0}});
  h.must(client, "flag", flag_body("risk"));
  h.must(expert, "message", {{"text", "seen"}});
  REQUIRE(h.heads["eng:42"] == 2);
  CHECK(applied_seq(h.state, "eng:42") == 2);
  CHECK(applied_seq(h.state, "eng:42:mediation") == 0);
  CHECK(applied_seq(h.state, "eng:7") == 0);
  CHECK(guarded_heads(h.state) == heads{{"eng:42", 2}, {"eng:42:mediation", 0}});
}

TEST_CASE("a mediation channel no dispute opened cannot be joined", "[rules]") {
  harness h;
  CHECK(check_join(h.state, channel{channel_type::engagement, "42"}).ok());
  auto refused = check_join(h.state, channel{channel_type::mediation, "42"});
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::not_found);
  CHECK(refused.err().message == "eng:42:mediation does not exist: no dispute has opened it");
  h.must(client, "flag", flag_body("dispute"));
  CHECK(check_join(h.state, channel{channel_type::mediation, "42"}).ok());
  CHECK(engagement_not_found("42").message == "engagement 42 does not exist");
}

TEST_CASE("a post to support is planned as the actor's event alone", "[rules]") {
  post_request p{channel{channel_type::support, ""}, "message", message_body("note"), "cid-9", std::nullopt};
  auto pl = check_support_post(support_user, p);
  REQUIRE(pl);
  REQUIRE(pl->events.size() == 1);
  CHECK(pl->events[0].ch == "support");
  CHECK(pl->events[0].kind == "message");
  CHECK(pl->events[0].from.id == support_user.id);
  CHECK(pl->events[0].cid == "cid-9");
  CHECK(pl->events[0].body == message_body("note"));
  CHECK_FALSE(pl->record);
  CHECK(outcome(check_support_post(client, p)) == "forbidden");
  CHECK(implies_notices("flag"));
  CHECK_FALSE(implies_notices("message"));
}

namespace {
// The byte totals recounted from what is open, independently of apply.
std::size_t serialised(const boost::json::value& v) { return boost::json::serialize(v).size(); }
std::pair<std::size_t, std::size_t> recount(const engagement_state& s) {
  std::size_t proposals = 0, flags = 0;
  for (const auto& [key, pr] : s.proposals) proposals += serialised(boost::json::string(pr->text)) + serialised(pr->terms);
  for (const auto& [seq, f] : s.flags) flags += serialised(boost::json::string(f->text));
  return {proposals, flags};
}
std::pair<std::size_t, std::size_t> totals(const engagement_state& s) {
  return {s.open_proposal_bytes, s.open_flag_bytes};
}
}  // namespace

TEST_CASE("open proposals hold at most their byte budget: one more is a conflict and nothing is stored",
          "[rules]") {
  harness h;
  const engagement_limits limits{50, 50, 40'000, 10'000};
  const std::string text(9'000, 'x');
  auto post = [&](const user& who, std::string kind, boost::json::object body) {
    post_request p{channel{channel_type::engagement, "42"}, std::move(kind), std::move(body), "", std::nullopt};
    auto r = check(h.state, who, p, limits);
    if (r) h.commit(r->events);
    return r;
  };
  std::vector<std::int64_t> open;
  for (int i = 0; i < 4; ++i) {
    REQUIRE(post(expert, "proposal", {{"topic", "timeline"}, {"text", text}, {"terms", {{"weeks", i}}}}).ok());
    open.push_back(h.log.back().seq);
  }
  CHECK(totals(h.state) == recount(h.state));
  CHECK(h.state.open_proposal_bytes > 36'000);
  const auto log_size = h.log.size();
  auto refused = post(expert, "proposal", {{"topic", "timeline"}, {"text", text}, {"terms", {{"weeks", 9}}}});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.err().code == errc::conflict);
  CHECK_THAT(refused.err().message, Catch::Contains("at most 40000 bytes of text and terms"));
  CHECK(h.log.size() == log_size);
  CHECK(h.state.proposals.size() == 4);
  // A small one still fits, and `can` says so; the flags' budget is apart.
  const claims expert_reader{expert, {"42"}, 0, std::nullopt};
  auto actions = can(h.state, expert_reader, limits);
  CHECK(std::count(actions.begin(), actions.end(), "propose:timeline") == 1);
  // 9998 characters and their quotes: exactly the flags' budget.
  REQUIRE(post(expert, "flag", {{"type", "risk"}, {"text", std::string(9'998, 'f')}}).ok());
  CHECK(h.state.open_flag_bytes == 10'000);
  CHECK_FALSE(post(expert, "flag", {{"type", "risk"}, {"text", "y"}}).ok());
  actions = can(h.state, expert_reader, limits);
  CHECK(std::count(actions.begin(), actions.end(), "flag") == 0);
  CHECK(std::count(actions.begin(), actions.end(), "propose:timeline") == 1);
  // Deciding one makes room again.
  REQUIRE(post(client, "decision", decision_body(open.front(), "rejected")).ok());
  CHECK(totals(h.state) == recount(h.state));
  CHECK(post(expert, "proposal", {{"topic", "timeline"}, {"text", text}, {"terms", {{"weeks", 9}}}}).ok());
}

TEST_CASE("the open byte totals follow every way a proposal or flag closes, and a replay gives the same",
          "[rules]") {
  harness h;
  const auto big = [](std::string topic, std::string to) {
    return boost::json::object{{"topic", topic}, {"text", std::string(500, 'p') + "\"\n\u0001"},
                               {"terms", {{"to", to}, {"note", std::string(300, 'n')}}}};
  };
  auto risk = h.must(client, "flag", {{"type", "risk"}, {"text", std::string(700, 'r')}});
  auto dispute = h.must(client, "flag", {{"type", "dispute"}, {"text", "\t" + std::string(400, 'd')}});
  auto resolution = h.must(support_user, channel_type::mediation, "proposal",
                           {{"topic", "resolution"}, {"text", "split"}, {"terms", {{"flag", dispute}}}});
  h.must(expert, "proposal", big("scope_change", "x"));
  auto rejected = h.must(expert, "proposal", big("timeline", "y"));
  CHECK(totals(h.state) == recount(h.state));
  h.must(expert, "flag_update", {{"flag", risk}, {"state", "acknowledged"}, {"text", "seen"}});
  CHECK(totals(h.state) == recount(h.state));
  h.must(expert, "flag_update", {{"flag", risk}, {"state", "resolved"}, {"text", "done"}});
  h.must(client, "decision", decision_body(rejected, "rejected"));
  CHECK(totals(h.state) == recount(h.state));
  h.must(client, channel_type::mediation, "decision", decision_body(resolution, "accepted"));
  h.must(expert, channel_type::mediation, "decision", decision_body(resolution, "accepted"));
  CHECK(h.state.flags.empty());
  CHECK(totals(h.state) == recount(h.state));
  CHECK(h.state.open_flag_bytes == 0);
  // Closing lapses the open proposals.
  h.advance_to(engagement_phase::completion);
  h.must(expert, "proposal", big("timeline", "z"));
  CHECK(h.state.open_proposal_bytes > 0);
  auto close = h.must(expert, "proposal", phase_body("closed"));
  h.must(client, "decision", decision_body(close, "accepted"));
  CHECK(h.state.phase == engagement_phase::closed);
  CHECK(h.state.proposals.empty());
  CHECK(totals(h.state) == std::make_pair(std::size_t{0}, std::size_t{0}));

  // A replay of the log, at any point, gives the same totals as the live state.
  engagement_state replayed = new_engagement("42", t0);
  for (const auto& ev : h.log) {
    apply(replayed, ev);
    CHECK(totals(replayed) == recount(replayed));
  }
  CHECK(totals(replayed) == totals(h.state));
}

TEST_CASE("state push frames equal the full state of each reader, byte for byte", "[rules]") {
  harness h;
  h.must(client, "flag", {{"type", "risk"}, {"text", "quote \" and \\ and é"}});
  h.must(expert, "proposal", proposal_body("timeline", {{"weeks", 2}, {"why", "\u0002"}}));
  const state_push_frames frames(h.state, phase_limits{});
  for (const claims& who : {claims{client, {"42"}, 0, std::nullopt}, claims{expert, {"42"}, 0, std::nullopt},
                            claims{support_user, {"*"}, 0, std::nullopt}}) {
    const boost::json::object whole{{"ev", "state"}, {"eng", "42"}, {"state", state_json(h.state, phase_limits{}, who)}};
    CHECK(frames.frame(can(h.state, who)) == boost::json::serialize(whole));
  }
}
