// Requirements: NDA and compliance (protocol §9.2): who acknowledges which
// requirement and when, the decision-log record each acknowledgement makes,
// the state rebuilt from the stored events, `active` blocked until every
// acknowledgement is in, and `can`. Posts go the server's whole path: token
// rules, body, engagement rules.
#include "protocol/requirements.hpp"

#include "protocol/access.hpp"
#include "protocol/can.hpp"
#include "protocol/frame.hpp"
#include "protocol/invitation.hpp"

#include <boost/json/serialize.hpp>
#include "test_users.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

using namespace parley;
using namespace parley::test_users;

namespace {

// A mutual NDA, a data-protection form for the client, a conflict-of-interest
// statement for the expert.
constexpr std::string_view invitation_body = R"({"title":"Market entry DACH","details":"Project details",
  "client":{"id":"c1","name":"Carla"},"expert":{"id":"e1","name":"Eve"},
  "requirements":[{"key":"nda","title":"Mutual NDA","by":["expert","client"]},
                  {"key":"dpa","title":"Data processing agreement","by":["client"]},
                  {"key":"coi","title":"No conflict of interest","by":["expert"]}]})";

const user intruder{"m1", "Mallory", user_role::expert};

claims token_of(const user& u) {
  const bool everything = u.role == user_role::support || u.role == user_role::service;
  return claims{u, {everything ? "*" : "42"}, 0, std::nullopt};
}

std::string outcome(const result<plan>& r) { return r ? "ok" : std::string(code_name(r.err().code)); }

// Plays the server: stored events applied in order with seqs per channel;
// each post checked as the hub checks it and, when accepted, its plan stored.
struct engagement_harness {
  engagement_state state = new_engagement("42", t0);
  std::map<std::string, std::int64_t> heads;
  std::vector<event> stored;
  std::optional<plan> last_plan;

  explicit engagement_harness(bool invited = true) {
    if (invited) {
      commit(invitation_events("42", parse_invitation(invitation_body).value(), t0));
    } else {
      commit({opening_event("42", t0)});
    }
  }

  // Stores the events, giving each its seq and ts.
  void commit(std::vector<event>& events) {
    for (auto& ev : events) {
      ev.seq = ++heads[ev.ch];
      ev.ts = t0 + static_cast<std::int64_t>(stored.size());
      apply(state, ev);
      stored.push_back(ev);
    }
  }
  void commit(std::vector<event>&& events) { commit(events); }
  result<plan> post(const user& who, const std::string& kind, const boost::json::object& body,
                    channel_type where = channel_type::engagement) {
    const channel ch{where, "42"};
    if (auto allowed = check_post(token_of(who), ch, kind); !allowed) return allowed.err();
    auto valid = validate_body(kind, body);
    if (!valid) return valid.err();
    auto r = check(state, who, post_request{ch, kind, std::move(*valid), "", std::string()});
    if (r) {
      commit(r->events);
      last_plan = *r;
    }
    return r;
  }
  result<plan> acknowledge(const user& who, const std::string& key) {
    return post(who, "acknowledgement", {{"key", key}});
  }
  // The invitation accepted: discovery.
  void accept_invitation() { REQUIRE(post(expert, "decision", {{"proposal", 2}, {"verdict", "accepted"}})); }
  // A phase reached by the server's own event, whatever the rules say (as a replay would).
  void phase(engagement_phase to) {
    commit({event{channel::main("42"), 0, "phase", system_user(), 0, "",
                  boost::json::object{{"from", phase_name(state.phase)}, {"to", phase_name(to)}}}});
  }
  std::int64_t propose(const user& by, const std::string& topic, boost::json::object terms) {
    auto r = post(by, "proposal", {{"topic", topic}, {"text", topic}, {"terms", std::move(terms)}});
    REQUIRE(r);
    return r->events.front().seq;
  }
  result<plan> decide(const user& by, std::int64_t seq) {
    return post(by, "decision", {{"proposal", seq}, {"verdict", "accepted"}});
  }
  std::string requirements() const { return boost::json::serialize(requirements_json(state)); }
};

std::set<std::string> actions(const engagement_state& s, const user& who) {
  auto listed = can(s, token_of(who));
  return {listed.begin(), listed.end()};
}

std::set<std::string> acknowledge_actions(const engagement_state& s, const user& who) {
  std::set<std::string> out;
  for (const auto& a : actions(s, who)) {
    if (a.rfind("acknowledge:", 0) == 0) out.insert(a);
  }
  return out;
}

}  // namespace

TEST_CASE("an acknowledgement's body is checked strictly", "[protocol][requirements]") {
  struct row {
    std::string what;
    boost::json::object body;
    std::string expected;
  };
  auto r = GENERATE(values<row>({
      {"a key", {{"key", "nda"}}, "ok"},
      {"a key and text", {{"key", "nda"}, {"text", "Signed, see the PDF."}}, "ok"},
      {"empty text", {{"key", "nda"}, {"text", ""}}, "ok"},
      {"text of 16384", {{"key", "nda"}, {"text", std::string(16384, 'x')}}, "ok"},
      {"text of 16385", {{"key", "nda"}, {"text", std::string(16385, 'x')}}, "too_large"},
      {"text a number", {{"key", "nda"}, {"text", 5}}, "bad_request"},
      {"no key", {{"text", "x"}}, "bad_request"},
      {"key null", {{"key", nullptr}}, "bad_request"},
      {"key a number", {{"key", 1}}, "bad_request"},
      {"key an array", {{"key", boost::json::array{"nda"}}}, "bad_request"},
      {"key empty", {{"key", ""}}, "bad_request"},
      {"key in capitals", {{"key", "NDA"}}, "bad_request"},
      {"key with a space", {{"key", "n da"}}, "bad_request"},
      {"key of 64", {{"key", std::string(64, 'k')}}, "ok"},
      {"key of 65", {{"key", std::string(65, 'k')}}, "bad_request"},
      {"an unknown field", {{"key", "nda"}, {"signed", true}}, "bad_request"},
      {"a number beyond I-JSON", {{"key", "nda"}, {"n", std::int64_t{1} << 60}}, "bad_request"},
  }));
  CAPTURE(r.what);
  auto checked = validate_body("acknowledgement", r.body);
  CHECK((checked ? std::string("ok") : std::string(code_name(checked.err().code))) == r.expected);
  if (checked) CHECK(checked->size() == r.body.size());  // stored with exactly its known fields
}

TEST_CASE("who acknowledges which requirement", "[rules][requirements]") {
  struct row {
    const user* who;
    std::string key;
    channel_type where;
    std::string expected;
  };
  const auto main = channel_type::engagement;
  auto r = GENERATE_COPY(values<row>({
      {&client, "nda", main, "ok"},
      {&expert, "nda", main, "ok"},
      {&client, "dpa", main, "ok"},
      {&expert, "dpa", main, "forbidden"},  // not in its `by`
      {&expert, "coi", main, "ok"},
      {&client, "coi", main, "forbidden"},
      {&client, "gdpr", main, "not_found"},  // no such requirement
      {&expert, "unknown", main, "not_found"},
      {&support_user, "nda", main, "forbidden"},  // not a party
      {&bot, "nda", main, "forbidden"},
      {&service, "nda", main, "forbidden"},
      {&intruder, "nda", main, "forbidden"},  // an expert, but not the named one
      {&client2, "nda", main, "forbidden"},
      {&client, "nda", channel_type::mediation, "forbidden"},  // eng:<id> only
  }));
  CAPTURE(r.who->id, r.key, r.where == main);
  engagement_harness h;
  h.accept_invitation();
  const auto before = h.requirements();
  auto got = h.post(*r.who, "acknowledgement", {{"key", r.key}}, r.where);
  CHECK(outcome(got) == r.expected);
  if (!got) {
    CHECK(h.requirements() == before);  // a refusal changes nothing
    if (r.expected == "not_found") CHECK(got.err().message.find("'" + r.key + "'") != std::string::npos);
  }
}

TEST_CASE("each party acknowledges a requirement once", "[rules][requirements]") {
  engagement_harness h;
  h.accept_invitation();
  REQUIRE(h.acknowledge(expert, "nda"));
  auto again = h.acknowledge(expert, "nda");
  REQUIRE_FALSE(again);
  CHECK(again.err().code == errc::conflict);
  CHECK(again.err().message == "the expert already acknowledged requirement 'nda'");
  // With other words it is still the same acknowledgement.
  CHECK(outcome(h.post(expert, "acknowledgement", {{"key", "nda"}, {"text", "again"}})) == "conflict");
  // The other party's is its own.
  CHECK(outcome(h.acknowledge(client, "nda")) == "ok");
  CHECK(outcome(h.acknowledge(client, "nda")) == "conflict");
  CHECK(h.requirements() ==
        R"([{"key":"nda","title":"Mutual NDA","by":["client","expert"],"acknowledged_by":["e1","c1"]},)"
        R"({"key":"dpa","title":"Data processing agreement","by":["client"],"acknowledged_by":[]},)"
        R"({"key":"coi","title":"No conflict of interest","by":["expert"],"acknowledged_by":[]}])");
}

TEST_CASE("acknowledgements are taken from discovery to completion", "[rules][requirements]") {
  struct row {
    std::vector<engagement_phase> path;  // reached by the server's phase events after the invitation
    bool answered = true;                // the invitation accepted first
    std::string expected;
  };
  using p = engagement_phase;
  auto r = GENERATE(values<row>({
      {{}, false, "conflict"},  // invited: the invitation is not answered yet
      {{}, true, "ok"},         // discovery
      {{p::agreement}, true, "ok"},
      {{p::agreement, p::active}, true, "ok"},
      {{p::agreement, p::active, p::completion}, true, "ok"},
      {{p::agreement, p::active, p::completion, p::closed}, true, "conflict"},
  }));
  engagement_harness h;
  if (r.answered) h.accept_invitation();
  for (auto to : r.path) h.phase(to);
  CAPTURE(phase_name(h.state.phase));
  CHECK(outcome(h.acknowledge(client, "nda")) == r.expected);
  CHECK((acknowledge_actions(h.state, expert).count("acknowledge:nda") == 1) == (r.expected == "ok"));
}

TEST_CASE("a declined invitation takes no acknowledgement", "[rules][requirements]") {
  engagement_harness h;
  REQUIRE(h.post(expert, "decision", {{"proposal", 2}, {"verdict", "rejected"}}));
  CHECK(outcome(h.acknowledge(expert, "nda")) == "conflict");
  CHECK(acknowledge_actions(h.state, expert).empty());
}

TEST_CASE("an engagement made on first use has no requirements", "[rules][requirements]") {
  engagement_harness h(false);
  CHECK(h.requirements() == "[]");
  CHECK(outcome(h.acknowledge(client, "nda")) == "not_found");
  CHECK(acknowledge_actions(h.state, client).empty());
  CHECK(check_requirements_met(h.state).ok());
}

TEST_CASE("each acknowledgement is one decision-log record", "[rules][requirements]") {
  engagement_harness h;
  h.accept_invitation();
  REQUIRE(h.post(client, "acknowledgement", {{"key", "nda"}, {"text", "Signed."}}));
  const auto& pl = *h.last_plan;
  REQUIRE(pl.events.size() == 1);  // the acknowledgement alone, with its record attached
  CHECK(pl.events[0].kind == "acknowledgement");
  CHECK(pl.events[0].from.id == "c1");
  REQUIRE(pl.record);
  CHECK(pl.record->attach_to == 0);
  CHECK(boost::json::serialize(pl.record->fields) ==
        R"({"eng":"42","ch":"eng:42","topic":"acknowledgement","terms":{"key":"nda","title":"Mutual NDA"},)"
        R"("text":"Signed.","proposed_by":"c1","accepted_by":["c1"],"proposal_seq":null})");
  // Without text the record's text is empty.
  REQUIRE(h.acknowledge(expert, "coi"));
  CHECK(h.last_plan->record->fields.at("text") == "");
  CHECK(h.last_plan->record->fields.at("terms") == boost::json::object{{"key", "coi"}, {"title", "No conflict of interest"}});
  CHECK(boost::json::serialize(h.last_plan->record->fields.at("accepted_by")) == R"(["e1"])");
}

TEST_CASE("acknowledged_by is rebuilt from the stored events alone", "[rules][requirements]") {
  engagement_harness h;
  h.accept_invitation();
  REQUIRE(h.acknowledge(expert, "nda"));
  REQUIRE(h.acknowledge(client, "dpa"));
  REQUIRE(h.acknowledge(client, "nda"));
  engagement_state replayed = new_engagement("42", t0);
  for (const auto& ev : h.stored) apply(replayed, ev);
  for (const auto& ev : h.stored) CHECK_FALSE(apply(replayed, ev));  // replaying twice changes nothing
  CHECK(boost::json::serialize(requirements_json(replayed)) == h.requirements());
  CHECK(replayed.acknowledged_by == h.state.acknowledged_by);
  CHECK(boost::json::serialize(requirements_json(replayed)) ==
        R"([{"key":"nda","title":"Mutual NDA","by":["client","expert"],"acknowledged_by":["e1","c1"]},)"
        R"({"key":"dpa","title":"Data processing agreement","by":["client"],"acknowledged_by":["c1"]},)"
        R"({"key":"coi","title":"No conflict of interest","by":["expert"],"acknowledged_by":[]}])");

  SECTION("a stored event that names no requirement, or repeats one, is ignored") {
    const auto before = h.state.acknowledged_by;
    h.commit({event{channel::main("42"), 0, "acknowledgement", client, 0, "", {{"key", "gdpr"}}},
              event{channel::main("42"), 0, "acknowledgement", client, 0, "", {{"key", "nda"}}},
              event{channel::mediation("42"), 0, "acknowledgement", expert, 0, "", {{"key", "coi"}}}});
    CHECK(h.state.acknowledged_by == before);
  }
}

TEST_CASE("active is entered only once every requirement is acknowledged", "[rules][requirements]") {
  engagement_harness h;
  h.accept_invitation();
  REQUIRE(h.decide(client, h.propose(expert, "phase", {{"to", "agreement"}})));
  REQUIRE(h.decide(expert, h.propose(client, "agreement", {{"fee", 4800}})));
  REQUIRE(h.state.phase == engagement_phase::agreement);

  auto refused = h.post(client, "proposal", {{"topic", "phase"}, {"text", "go"}, {"terms", {{"to", "active"}}}});
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::conflict);
  CHECK(refused.err().message ==
        "entering active needs every requirement acknowledged; missing: 'nda' by the client, 'nda' by the expert, "
        "'dpa' by the client, 'coi' by the expert");
  CHECK_FALSE(actions(h.state, client).count("propose:phase"));
  CHECK_FALSE(actions(h.state, expert).count("propose:phase"));

  REQUIRE(h.acknowledge(client, "nda"));
  REQUIRE(h.acknowledge(expert, "nda"));
  REQUIRE(h.acknowledge(expert, "coi"));
  refused = h.post(expert, "proposal", {{"topic", "phase"}, {"text", "go"}, {"terms", {{"to", "active"}}}});
  REQUIRE_FALSE(refused);
  CHECK(refused.err().message == "entering active needs every requirement acknowledged; missing: 'dpa' by the client");
  CHECK_FALSE(actions(h.state, expert).count("propose:phase"));

  REQUIRE(h.acknowledge(client, "dpa"));
  CHECK(check_requirements_met(h.state).ok());
  CHECK(actions(h.state, expert).count("propose:phase"));
  CHECK(actions(h.state, client).count("propose:phase"));
  REQUIRE(h.decide(client, h.propose(expert, "phase", {{"to", "active"}})));
  CHECK(h.state.phase == engagement_phase::active);
  CHECK(acknowledge_actions(h.state, client).empty());  // every acknowledgement is in
  CHECK(outcome(h.acknowledge(client, "nda")) == "conflict");
}

TEST_CASE("accepting a move to active is checked against the requirements too", "[rules][requirements]") {
  // A proposal to active stored without the check (as no client can make it
  // now): its acceptance is still refused while a requirement is missing.
  engagement_harness h;
  h.accept_invitation();
  h.phase(engagement_phase::agreement);
  REQUIRE(h.decide(expert, h.propose(client, "agreement", {{"fee", 1}})));
  const auto seq = h.heads[channel::main("42")] + 1;
  h.commit({event{channel::main("42"), 0, "proposal", client, 0, "",
                  {{"topic", "phase"}, {"text", "go"}, {"terms", {{"to", "active"}}}}}});
  REQUIRE(h.state.proposals.count({channel::main("42"), seq}));
  auto refused = h.decide(expert, seq);
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::conflict);
  CHECK(refused.err().message.find("missing: 'nda' by the client") != std::string::npos);
  for (const auto& [who, key] : std::vector<std::pair<const user*, std::string>>{
           {&client, "nda"}, {&expert, "nda"}, {&client, "dpa"}, {&expert, "coi"}}) {
    REQUIRE(h.acknowledge(*who, key));
  }
  CHECK(outcome(h.decide(expert, seq)) == "ok");
  CHECK(h.state.phase == engagement_phase::active);
}

TEST_CASE("can lists acknowledge:<key> exactly when the acknowledgement would be accepted", "[protocol][can][requirements]") {
  const std::vector<const user*> readers = {&client, &expert, &client2, &intruder, &support_user, &bot, &service};
  const std::vector<std::string> keys = {"nda", "dpa", "coi", "gdpr"};
  using p = engagement_phase;
  const std::vector<std::vector<p>> paths = {{}, {p::agreement}, {p::agreement, p::active},
                                             {p::agreement, p::active, p::completion},
                                             {p::agreement, p::active, p::completion, p::closed}};
  // Every subset of the four acknowledgements, in every phase, for every reader.
  const std::vector<std::pair<const user*, std::string>> all = {
      {&client, "nda"}, {&expert, "nda"}, {&client, "dpa"}, {&expert, "coi"}};
  for (unsigned done = 0; done < (1u << all.size()); ++done) {
    for (const auto& path : paths) {
      for (bool answered : {false, true}) {
        if (!answered && (done != 0 || !path.empty())) continue;  // while invited nothing is acknowledged
        engagement_harness h;
        if (answered) h.accept_invitation();
        for (std::size_t i = 0; i < all.size(); ++i) {
          if (done & (1u << i)) REQUIRE(h.acknowledge(*all[i].first, all[i].second));
        }
        for (auto to : path) h.phase(to);
        for (const auto* who : readers) {
          INFO("acknowledged " << done << ", " << phase_name(h.state.phase) << ", " << who->id);
          std::set<std::string> accepted;
          for (const auto& key : keys) {
            engagement_harness probe = h;  // a trial post must not change the state tested
            if (probe.acknowledge(*who, key)) accepted.insert("acknowledge:" + key);
          }
          CHECK(acknowledge_actions(h.state, *who) == accepted);
        }
      }
    }
  }
}

TEST_CASE("can: the acknowledgements each party owes", "[protocol][can][requirements]") {
  engagement_harness h;
  CHECK(acknowledge_actions(h.state, client).empty());  // while invited
  h.accept_invitation();
  CHECK(acknowledge_actions(h.state, client) == std::set<std::string>{"acknowledge:dpa", "acknowledge:nda"});
  CHECK(acknowledge_actions(h.state, expert) == std::set<std::string>{"acknowledge:coi", "acknowledge:nda"});
  CHECK(acknowledge_actions(h.state, support_user).empty());
  CHECK(acknowledge_actions(h.state, intruder).empty());
  REQUIRE(h.acknowledge(client, "nda"));
  CHECK(acknowledge_actions(h.state, client) == std::set<std::string>{"acknowledge:dpa"});
  CHECK(acknowledge_actions(h.state, expert) == std::set<std::string>{"acknowledge:coi", "acknowledge:nda"});
  // The state each reader gets carries its own.
  auto s = state_json(h.state, phase_limits{}, token_of(expert));
  CHECK(boost::json::serialize(s.at("requirements").as_array()[0]) ==
        R"({"key":"nda","title":"Mutual NDA","by":["client","expert"],"acknowledged_by":["c1"]})");
  std::set<std::string> listed;
  for (const auto& a : s.at("can").as_array()) listed.insert(std::string(a.as_string()));
  CHECK(listed.count("acknowledge:nda"));
  CHECK(listed.count("acknowledge:coi"));
  CHECK_FALSE(listed.count("acknowledge:dpa"));
}
