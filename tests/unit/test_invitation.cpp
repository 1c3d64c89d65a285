// Engagements created by the platform (protocol §9.1): the PUT body's checks,
// the creation's events, the `invited` and `declined` phases and the named
// parties, without a socket.
#include "protocol/invitation.hpp"

#include "protocol/can.hpp"
#include "protocol/channel.hpp"
#include "protocol/engagement.hpp"
#include "protocol/service_levels.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include "test_users.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace parley;
using namespace parley::test_users;

namespace {

constexpr std::string_view valid_body = R"({"title":"Market entry DACH","details":"Project details",
  "client":{"id":"c1","name":"Carla"},"expert":{"id":"e1","name":"Eve"},"terms":{"scope":"draft"},
  "requirements":[{"key":"nda","title":"Mutual NDA","by":["expert","client"]}],
  "settings":{"revisions":2,"review_days":3}})";

boost::json::object body_with(std::string_view key, boost::json::value v) {
  auto o = boost::json::parse(valid_body).as_object();
  if (v.is_null()) {
    o.erase(key);
  } else {
    o[key] = std::move(v);
  }
  return o;
}

std::string outcome(const result<boost::json::object>& r) { return r ? "ok" : std::string(code_name(r.err().code)); }
template <class T>
std::string outcome_of(const result<T>& r) {
  return r ? "ok" : std::string(code_name(r.err().code));
}

// Plays the server as the rule tests do: the creation's events first, then
// each checked post's plan, with seqs per channel and one clock.
struct invited_harness {
  engagement_state state = new_engagement("42", t0);
  std::map<std::string, std::int64_t> heads;
  std::int64_t now = t0;
  std::optional<plan> last_plan;

  invited_harness() { commit(invitation_events("42", parse_invitation(valid_body).value(), now)); }

  void commit(std::vector<event> events) {
    for (auto& ev : events) {
      ev.seq = ++heads[ev.ch];
      ev.ts = now;
      apply(state, ev);
    }
  }
  result<plan> post(const user& who, std::string kind, boost::json::object body) {
    post_request p{channel{channel_type::engagement, "42"}, std::move(kind), std::move(body), "", std::nullopt};
    auto r = check(state, who, p);
    if (r) {
      last_plan = *r;
      commit(r->events);
    }
    return r;
  }
  std::int64_t invitation_seq() const { return 2; }
};

const user intruder{"m1", "Mallory", user_role::expert};
const user other_client{"c2", "Chris", user_role::client};

boost::json::object answer(std::string verdict) { return {{"proposal", 2}, {"verdict", verdict}}; }

}  // namespace

TEST_CASE("an invitation body is checked strictly", "[protocol][invitation]") {
  using boost::json::array;
  using boost::json::object;
  struct row {
    std::string what;
    boost::json::object body;
    std::string expected;
  };
  auto r = GENERATE(values<row>({
      {"valid", body_with("title", "Market entry DACH"), "ok"},
      {"no details, terms, requirements or settings",
       boost::json::parse(R"({"title":"t","client":{"id":"c1"},"expert":{"id":"e1"}})").as_object(), "ok"},
      {"unknown key", body_with("colour", "red"), "bad_request"},
      {"no title", body_with("title", nullptr), "bad_request"},
      {"empty title", body_with("title", ""), "bad_request"},
      {"title of 200", body_with("title", boost::json::string(std::string(200, 'x'))), "ok"},
      {"title of 201", body_with("title", boost::json::string(std::string(201, 'x'))), "too_large"},
      {"details of 16384", body_with("details", boost::json::string(std::string(16384, 'x'))), "ok"},
      {"details of 16385", body_with("details", boost::json::string(std::string(16385, 'x'))), "too_large"},
      {"details not a string", body_with("details", 5), "bad_request"},
      {"no client", body_with("client", nullptr), "bad_request"},
      {"client a string", body_with("client", "c1"), "bad_request"},
      {"client with a role", body_with("client", object{{"id", "c1"}, {"role", "client"}}), "bad_request"},
      {"client id of 129", body_with("client", object{{"id", std::string(129, 'c')}}), "too_large"},
      {"client id empty", body_with("client", object{{"id", ""}}), "bad_request"},
      {"client is the server", body_with("client", object{{"id", "system"}}), "bad_request"},
      {"client is the expert", body_with("client", object{{"id", "e1"}}), "bad_request"},
      {"terms an array", body_with("terms", array{1}), "bad_request"},
      {"terms too large", body_with("terms", object{{"x", std::string(17000, 'y')}}), "too_large"},
      {"terms beyond I-JSON", body_with("terms", object{{"x", std::int64_t{1} << 60}}), "bad_request"},
      {"requirement keys twice",
       body_with("requirements", array{object{{"key", "nda"}, {"title", "A"}, {"by", array{"client"}}},
                                       object{{"key", "nda"}, {"title", "B"}, {"by", array{"expert"}}}}),
       "bad_request"},
      {"requirement by support",
       body_with("requirements", array{object{{"key", "nda"}, {"title", "A"}, {"by", array{"support"}}}}),
       "bad_request"},
      {"requirement by nobody", body_with("requirements", array{object{{"key", "nda"}, {"title", "A"}, {"by", array{}}}}),
       "bad_request"},
      {"requirement by the client twice",
       body_with("requirements", array{object{{"key", "nda"}, {"title", "A"}, {"by", array{"client", "client"}}}}),
       "bad_request"},
      {"requirement key in capitals",
       body_with("requirements", array{object{{"key", "NDA"}, {"title", "A"}, {"by", array{"client"}}}}),
       "bad_request"},
      {"requirement with an unknown key",
       body_with("requirements",
                 array{object{{"key", "nda"}, {"title", "A"}, {"by", array{"client"}}, {"due", 1}}}),
       "bad_request"},
      {"settings unknown", body_with("settings", object{{"colour", 1}}), "bad_request"},
      {"revisions 10", body_with("settings", object{{"revisions", 10}}), "ok"},
      {"revisions 11", body_with("settings", object{{"revisions", 11}}), "bad_request"},
      {"review_days 0", body_with("settings", object{{"review_days", 0}}), "bad_request"},
      {"review_days a string", body_with("settings", object{{"review_days", "3"}}), "bad_request"},
  }));
  CAPTURE(r.what);
  CHECK(outcome(validate_invitation(r.body)) == r.expected);
}

TEST_CASE("at most 20 requirements", "[protocol][invitation]") {
  boost::json::array reqs;
  for (int i = 0; i < 21; ++i) {
    reqs.push_back(boost::json::object{{"key", "r" + std::to_string(i)}, {"title", "R"}, {"by", {"client"}}});
  }
  CHECK(outcome(validate_invitation(body_with("requirements", reqs))) == "too_large");
  reqs.pop_back();
  CHECK(outcome(validate_invitation(body_with("requirements", reqs))) == "ok");
}

TEST_CASE("invitations that mean the same compare equal", "[protocol][invitation]") {
  auto stored = invitation_events("42", parse_invitation(valid_body).value(), t0);
  REQUIRE(stored.size() == 2);
  CHECK(stored[0].body.at("to") == "invited");
  CHECK(stored[1].kind == "proposal");
  CHECK(stored[1].body.at("topic") == "invitation");
  CHECK(stored[1].body.at("text") == "Market entry DACH");
  CHECK(boost::json::serialize(stored[1].body.at("terms")) == R"({"details":"Project details","terms":{"scope":"draft"}})");
  // The creation takes the opening's slot: a first use and a creation cannot both store one.
  CHECK(stored[0].cid == opening_event("42", t0).cid);

  struct row {
    std::string what;
    std::string body;
    opening_match expected;
  };
  auto r = GENERATE(values<row>({
      {"the same", std::string(valid_body), opening_match::same},
      {"keys reordered, by reordered, defaults spelled out",
       R"({"settings":{"review_days":3,"revisions":2},"expert":{"name":"Eve","id":"e1"},"client":{"id":"c1","name":"Carla"},
          "title":"Market entry DACH","details":"Project details","terms":{"scope":"draft"},
          "requirements":[{"by":["client","expert"],"title":"Mutual NDA","key":"nda"}]})",
       opening_match::same},
      {"another title", std::string(valid_body).replace(11, 6, "Exit  "), opening_match::other},
      {"another expert name",
       R"({"title":"Market entry DACH","details":"Project details","client":{"id":"c1","name":"Carla"},"expert":{"id":"e1"},
          "terms":{"scope":"draft"},"requirements":[{"key":"nda","title":"Mutual NDA","by":["expert","client"]}]})",
       opening_match::other},
  }));
  CAPTURE(r.what);
  auto other = parse_invitation(r.body);
  REQUIRE(other.ok());
  CHECK(match_opening(stored[0], *other) == r.expected);
  // A first use's opening holds no invitation: never the same.
  CHECK(match_opening(opening_event("42", t0), *other) == opening_match::other);
}

TEST_CASE("while invited: messages, and the named expert's answer", "[rules][invitation]") {
  struct row {
    const user* who;
    std::string kind;
    boost::json::object body;
    std::string expected;
  };
  auto r = GENERATE(values<row>({
      {&client, "message", {{"text", "hi"}}, "ok"},
      {&expert, "message", {{"text", "hi"}}, "ok"},
      {&support_user, "message", {{"text", "hi"}}, "ok"},
      {&intruder, "message", {{"text", "hi"}}, "forbidden"},
      {&other_client, "message", {{"text", "hi"}}, "forbidden"},
      {&client, "status", {{"text", "on it"}}, "conflict"},
      {&bot, "status", {{"text", "green"}}, "conflict"},
      {&client, "flag", {{"type", "risk"}, {"text", "r"}}, "conflict"},
      {&support_user, "flag", {{"type", "dispute"}, {"text", "d"}}, "conflict"},
      {&expert, "proposal", {{"topic", "agreement"}, {"text", "a"}, {"terms", {{"price", 1}}}}, "conflict"},
      {&expert, "proposal", {{"topic", "phase"}, {"text", "p"}, {"terms", {{"to", "discovery"}}}}, "conflict"},
      {&client, "decision", answer("accepted"), "forbidden"},
      {&support_user, "decision", answer("accepted"), "forbidden"},
      {&intruder, "decision", answer("accepted"), "forbidden"},
      {&bot, "decision", answer("accepted"), "forbidden"},
      {&expert, "decision", answer("accepted"), "ok"},
      {&expert, "decision", answer("rejected"), "ok"},
  }));
  CAPTURE(r.who->id, r.kind, boost::json::serialize(r.body));
  invited_harness h;
  REQUIRE(h.state.phase == engagement_phase::invited);
  CHECK(outcome_of(h.post(*r.who, r.kind, r.body)) == r.expected);
}

TEST_CASE("the expert's answer moves the phase, acceptance is recorded", "[rules][invitation]") {
  invited_harness h;
  SECTION("accepted") {
    REQUIRE(h.post(expert, "decision", answer("accepted")).ok());
    REQUIRE(h.last_plan->record);
    CHECK(h.last_plan->record->fields.at("topic") == "invitation");
    CHECK(h.last_plan->record->fields.at("proposed_by") == "system");
    CHECK(boost::json::serialize(h.last_plan->record->fields.at("accepted_by")) == R"(["e1"])");
    REQUIRE(h.last_plan->events.size() == 2);
    CHECK(boost::json::serialize(h.last_plan->events[1].body) == R"({"from":"invited","to":"discovery"})");
    CHECK(h.state.phase == engagement_phase::discovery);
    CHECK(h.state.proposals.empty());
    CHECK(outcome_of(h.post(expert, "decision", answer("accepted"))) == "conflict");
    // From here the named parties work as in v1; others still may not post.
    CHECK(outcome_of(h.post(expert, "proposal", {{"topic", "phase"}, {"text", "p"}, {"terms", {{"to", "agreement"}}}})) ==
          "ok");
    CHECK(outcome_of(h.post(intruder, "message", {{"text", "x"}})) == "forbidden");
  }
  SECTION("rejected: declined, and every post is conflict") {
    REQUIRE(h.post(expert, "decision", answer("rejected")).ok());
    CHECK_FALSE(h.last_plan->record);
    CHECK(boost::json::serialize(h.last_plan->events[1].body) == R"({"from":"invited","to":"declined"})");
    CHECK(h.state.phase == engagement_phase::declined);
    CHECK_FALSE(phase_due(h.state, phase_limits{}));
    for (const user* who : {&client, &expert, &support_user, &bot}) {
      CAPTURE(who->id);
      CHECK(outcome_of(h.post(*who, "message", {{"text", "x"}})) == "conflict");
      CHECK(outcome_of(h.post(*who, "status", {{"text", "x"}})) == "conflict");
    }
    CHECK(outcome_of(h.post(expert, "decision", answer("accepted"))) == "conflict");
    CHECK(can(h.state, claims{expert, {"42"}, 0, std::nullopt}).empty());
  }
}

TEST_CASE("the state of an invited engagement", "[rules][invitation]") {
  invited_harness h;
  auto s = state_json(h.state, phase_limits{}, claims{expert, {"42"}, 0, std::nullopt});
  CHECK(s.at("phase") == "invited");
  CHECK(s.at("phase_due").as_int64() == t0 + phase_limits{}.invited_ms);
  CHECK(s.at("title") == "Market entry DACH");
  CHECK(s.at("details") == "Project details");
  CHECK(boost::json::serialize(s.at("parties")) ==
        R"({"client":{"id":"c1","name":"Carla"},"expert":{"id":"e1","name":"Eve"}})");
  CHECK(boost::json::serialize(s.at("requirements")) ==
        R"([{"key":"nda","title":"Mutual NDA","by":["client","expert"],"acknowledged_by":[]}])");
  CHECK(boost::json::serialize(s.at("settings")) == R"({"revisions":2,"review_days":3})");
  CHECK(boost::json::serialize(s.at("can")) == R"(["decide:2","message"])");
  auto for_client = state_json(h.state, phase_limits{}, claims{client, {"42"}, 0, std::nullopt});
  CHECK(boost::json::serialize(for_client.at("can")) == R"(["message"])");
  auto for_intruder = state_json(h.state, phase_limits{}, claims{intruder, {"42"}, 0, std::nullopt});
  CHECK(for_intruder.at("can").as_array().empty());
}

TEST_CASE("the invited phase's bound is configurable, declined has none", "[protocol][invitation]") {
  auto limits = parse_phase_limits("invited=3d");
  REQUIRE(limits.ok());
  CHECK(limits->invited_ms == 3LL * 24 * 3600 * 1000);
  CHECK(limits->discovery_ms == phase_limits{}.discovery_ms);
  CHECK_FALSE(parse_phase_limits("declined=1d").ok());
  CHECK_FALSE(parse_phase_limits("closed=1d").ok());
}
