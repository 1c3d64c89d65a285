// Deliveries (protocol §9.6) without a socket: versions per deliverable, the
// client's answers, the revision limit, the review window with a fake clock
// (warning, automatic acceptance, dispute pause and extension), the close by
// a final delivery, state.deliverables and `can`.
#include "protocol/deliveries.hpp"

#include "protocol/can.hpp"
#include "protocol/frame.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include "test_users.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace parley;

namespace {

using namespace test_users;
constexpr std::int64_t hour = 3600 * 1000;
constexpr std::int64_t day = 24 * hour;

const std::string hash_a(64, 'a');
const std::string hash_b(64, 'b');

// Plays the server: validate_body, the file resolution the server does before
// the rules (files become {sha256, name, size, type}), check at the clock,
// then commit the plan (seq per channel, ts = clock) and apply it.
struct harness {
  engagement_state state = new_engagement("42", t0);
  std::map<std::string, std::int64_t> heads;
  std::vector<event> log;
  std::optional<plan> last_plan;
  std::int64_t now = t0;
  engagement_limits limits;

  result<std::int64_t> post(const user& who, std::string kind, const boost::json::object& body,
                            channel_type where = channel_type::engagement,
                            std::optional<std::string> target_kind = std::nullopt) {
    auto valid = validate_body(kind, body);
    if (!valid) return valid.err();
    if (auto* files = valid->if_contains("files")) {
      for (auto& f : files->as_array()) {
        auto& o = f.as_object();
        o["size"] = 1000 + static_cast<std::int64_t>(o.at("name").as_string().size());
        o["type"] = "application/pdf";
      }
    }
    post_request p{channel{where, "42"}, std::move(kind), std::move(*valid), "", target_kind};
    p.checked_at_ms = now;
    auto r = check(state, who, p, limits);
    if (!r) return r.err();
    last_plan = *r;
    std::int64_t first = 0;
    for (auto ev : r->events) {
      auto seq = commit(std::move(ev));
      if (!first) first = seq;
    }
    return first;
  }
  std::int64_t commit(event ev) {
    ev.seq = ++heads[ev.ch];
    ev.ts = now;
    apply(state, ev);
    log.push_back(ev);
    return ev.seq;
  }
  std::int64_t must(const user& who, std::string kind, const boost::json::object& body,
                    channel_type where = channel_type::engagement) {
    auto r = post(who, kind, body, where);
    INFO(kind << " by " << who.id << ": " << (r ? std::string("ok") : r.err().message));
    REQUIRE(r.ok());
    return *r;
  }
  errc refused(const user& who, std::string kind, const boost::json::object& body,
               std::optional<std::string> target_kind = std::nullopt) {
    auto r = post(who, kind, body, channel_type::engagement, std::move(target_kind));
    REQUIRE_FALSE(r.ok());
    return r.err().code;
  }
  void move_to(engagement_phase to) {
    auto seq = must(expert, "proposal", {{"topic", "phase"}, {"text", "next"}, {"terms", {{"to", phase_name(to)}}}});
    must(client, "decision", {{"proposal", seq}, {"verdict", "accepted"}});
  }
  // discovery → agreement (agreement accepted) → active.
  void activate() {
    move_to(engagement_phase::agreement);
    auto seq = must(client, "proposal", {{"topic", "agreement"}, {"text", "deal"}, {"terms", {{"scope", "x"}}}});
    must(expert, "decision", {{"proposal", seq}, {"verdict", "accepted"}});
    move_to(engagement_phase::active);
  }
  std::int64_t deliver(std::string key, bool final = false, std::string hash = hash_a) {
    boost::json::object body{{"deliverable", key},
                             {"text", "version attached"},
                             {"files", boost::json::array{boost::json::object{{"sha256", hash}, {"name", "report.pdf"}}}}};
    if (final) body["final"] = true;
    return must(expert, "delivery", body);
  }
  const deliverable& of(const std::string& key) const { return *state.deliverables.at(key); }
  // What the watcher does at `now`: store every step due (acceptances with their record).
  std::vector<review_step> step() {
    auto due = due_review_steps(state, now, default_review_warning_ms);
    for (const auto& s : due) {
      for (auto ev : s.steps.events) commit(ev);
    }
    return due;
  }
  std::vector<std::string> can_of(const user& who) {
    return can(state, claims{who, {who.role == user_role::support ? "*" : "42"}, 0, std::nullopt}, limits);
  }
};

std::int64_t count_kind(const std::vector<event>& log, std::string_view kind) {
  return std::count_if(log.begin(), log.end(), [&](const event& e) { return e.kind == kind; });
}

std::vector<std::string> only_delivery_actions(std::vector<std::string> all) {
  std::vector<std::string> out;
  for (auto& a : all) {
    if (a == "deliver" || a.starts_with("revise:") || a.starts_with("decide:")) out.push_back(a);
  }
  return out;
}

}  // namespace

TEST_CASE("delivery and revision_request bodies are checked strictly", "[rules][deliveries]") {
  const std::string one = R"([{"sha256":")" + hash_a + R"(","name":"a.pdf"}])";
  std::string twenty_one = "[";
  for (int i = 0; i < 21; ++i) twenty_one += (i ? "," : "") + one.substr(1, one.size() - 2);
  twenty_one += "]";
  struct row {
    std::string kind;
    std::string body;
    bool ok;
  };
  const std::vector<row> rows{
      {"delivery", R"({"deliverable":"report","text":"t","files":)" + one + "}", true},
      {"delivery", R"({"deliverable":"report_2-b","text":"t","final":true,"files":)" + one + "}", true},
      {"delivery", R"({"deliverable":"Report","text":"t","files":)" + one + "}", false},
      {"delivery", R"({"deliverable":")" + std::string(65, 'a') + R"(","text":"t","files":)" + one + "}", false},
      {"delivery", R"({"deliverable":"","text":"t","files":)" + one + "}", false},
      {"delivery", R"({"deliverable":"r","text":"t","files":[]})", false},
      {"delivery", R"({"deliverable":"r","text":"t","files":)" + twenty_one + "}", false},
      {"delivery", R"({"deliverable":"r","text":"t"})", false},
      {"delivery", R"({"deliverable":"r","files":)" + one + "}", false},
      {"delivery", R"({"deliverable":"r","text":"t","final":"yes","files":)" + one + "}", false},
      {"delivery", R"({"deliverable":"r","text":"t","version":7,"files":)" + one + "}", false},
      {"delivery", R"({"deliverable":"r","text":"t","review_due":7,"files":)" + one + "}", false},
      {"delivery", R"({"deliverable":"r","text":")" + std::string(4001, 'x') + R"(","files":)" + one + "}", false},
      {"delivery", R"({"deliverable":"r","text":"t","files":[{"sha256":"abc","name":"a"}]})", false},
      {"delivery", R"({"deliverable":"r","text":"t","files":[{"sha256":")" + hash_a + R"(","name":""}]})", false},
      {"revision_request", R"({"delivery":3,"text":"please shorten"})", true},
      {"revision_request", R"({"delivery":0,"text":"x"})", false},
      {"revision_request", R"({"delivery":3})", false},
      {"revision_request", R"({"delivery":3,"text":"x","extra":1})", false},
      {"review_due_soon", R"({"delivery":3})", false},
  };
  for (const auto& r : rows) {
    INFO(r.kind << " " << r.body);
    auto out = validate_body(r.kind, boost::json::parse(r.body).as_object());
    CHECK(out.ok() == r.ok);
  }
}

TEST_CASE("versions count per deliverable and the server adds version and review_due", "[rules][deliveries]") {
  harness h;
  h.activate();
  auto a1 = h.deliver("report");
  auto a2 = h.deliver("report");
  auto b1 = h.deliver("slides");
  CHECK(h.log[a1 - 1].body.at("version").as_int64() == 1);
  CHECK(h.log[a2 - 1].body.at("version").as_int64() == 2);
  CHECK(h.log[b1 - 1].body.at("version").as_int64() == 1);
  CHECK(h.log[a1 - 1].body.at("review_due").as_int64() == t0 + 3 * day);
  CHECK(h.of("report").version == 2);
  CHECK(h.of("report").seq == a2);
  CHECK(h.of("slides").version == 1);
  CHECK(h.state.last_delivery_seq == b1);
}

TEST_CASE("only the expert delivers, in active and completion", "[rules][deliveries]") {
  harness h;
  CHECK(h.refused(expert, "delivery",
                  {{"deliverable", "r"},
                   {"text", "t"},
                   {"files", boost::json::array{boost::json::object{{"sha256", hash_a}, {"name", "a"}}}}}) ==
        errc::conflict);  // discovery
  h.move_to(engagement_phase::agreement);
  CHECK(h.refused(expert, "delivery",
                  {{"deliverable", "r"},
                   {"text", "t"},
                   {"files", boost::json::array{boost::json::object{{"sha256", hash_a}, {"name", "a"}}}}}) ==
        errc::conflict);
  auto seq = h.must(client, "proposal", {{"topic", "agreement"}, {"text", "deal"}, {"terms", {{"scope", "x"}}}});
  h.must(expert, "decision", {{"proposal", seq}, {"verdict", "accepted"}});
  h.move_to(engagement_phase::active);
  const boost::json::object body{{"deliverable", "r"},
                                 {"text", "t"},
                                 {"files", boost::json::array{boost::json::object{{"sha256", hash_a}, {"name", "a"}}}}};
  for (const auto* who : {&client, &support_user, &bot}) {
    INFO(who->id);
    CHECK(h.refused(*who, "delivery", body) == errc::forbidden);
  }
  h.deliver("r");
  h.move_to(engagement_phase::completion);  // r still awaits: completion may be entered
  h.deliver("r");
  CHECK(h.of("r").version == 2);
}

TEST_CASE("each deliverable allows exactly settings.revisions revision requests", "[rules][deliveries]") {
  harness h;
  h.activate();
  REQUIRE(revisions_allowed(h.state) == 2);
  for (int i = 0; i < 2; ++i) {
    auto seq = h.deliver("report");
    h.must(client, "revision_request", {{"delivery", seq}, {"text", "more charts"}});
    CHECK(h.of("report").status == "revision_requested");
    CHECK(h.of("report").revisions_used == i + 1);
    CHECK_FALSE(h.of("report").review_due);
  }
  auto third = h.deliver("report");
  CHECK(h.refused(client, "revision_request", {{"delivery", third}, {"text", "again"}}) == errc::conflict);
  // Another deliverable has its own count.
  auto other = h.deliver("slides");
  h.must(client, "revision_request", {{"delivery", other}, {"text", "fix"}});
  // The last version can still be accepted.
  h.must(client, "decision", {{"proposal", third}, {"verdict", "accepted"}});
  CHECK(h.of("report").status == "accepted");
}

TEST_CASE("only the latest version is decided or revised, and only once", "[rules][deliveries]") {
  harness h;
  h.activate();
  auto v1 = h.deliver("report");
  auto v2 = h.deliver("report");  // supersedes v1 while it awaited the client
  CHECK(h.refused(client, "decision", {{"proposal", v1}, {"verdict", "accepted"}}, "delivery") == errc::conflict);
  CHECK(h.refused(client, "revision_request", {{"delivery", v1}, {"text", "x"}}, "delivery") == errc::conflict);
  CHECK(h.refused(client, "revision_request", {{"delivery", v1}, {"text", "x"}}) == errc::conflict);
  // A message seq, or a seq beyond the head, is no delivery at all.
  auto msg = h.must(client, "message", {{"text", "hello"}});
  CHECK(h.refused(client, "revision_request", {{"delivery", msg}, {"text", "x"}}, "message") == errc::not_found);
  CHECK(h.refused(client, "revision_request", {{"delivery", 999}, {"text", "x"}}) == errc::not_found);
  CHECK(h.refused(client, "decision", {{"proposal", msg}, {"verdict", "accepted"}}, "message") == errc::not_found);
  // The expert does not decide a delivery; nor is one rejected.
  CHECK(h.refused(expert, "decision", {{"proposal", v2}, {"verdict", "accepted"}}) == errc::forbidden);
  CHECK(h.refused(client, "decision", {{"proposal", v2}, {"verdict", "rejected"}}) == errc::bad_request);
  CHECK(h.refused(client, "decision", {{"proposal", v2}, {"verdict", "accepted"}, {"slot", 0}}) == errc::bad_request);
  h.must(client, "decision", {{"proposal", v2}, {"verdict", "accepted"}});
  CHECK(h.refused(client, "decision", {{"proposal", v2}, {"verdict", "accepted"}}) == errc::conflict);
  CHECK(h.refused(client, "revision_request", {{"delivery", v2}, {"text", "x"}}) == errc::conflict);
}

TEST_CASE("an accepted delivery is recorded with its files", "[rules][deliveries]") {
  harness h;
  h.activate();
  auto seq = h.deliver("report", false, hash_b);
  h.must(client, "decision", {{"proposal", seq}, {"verdict", "accepted"}, {"text", "thanks"}});
  REQUIRE(h.last_plan->record);
  const auto& r = h.last_plan->record->fields;
  CHECK(r.at("topic") == "delivery");
  CHECK(r.at("proposal_seq").as_int64() == seq);
  CHECK(r.at("proposed_by") == "e1");
  CHECK(r.at("accepted_by") == boost::json::array{"c1"});
  CHECK(r.at("text") == "version attached");
  CHECK(boost::json::serialize(r.at("terms")) ==
        R"({"deliverable":"report","version":1,"final":false,"files":[{"name":"report.pdf","sha256":")" + hash_b +
            R"(","size":1010}]})");
  CHECK(h.last_plan->events.size() == 1);  // in active a delivery closes nothing
}

TEST_CASE("the review window: warning once, then automatic acceptance at ts + window", "[rules][deliveries]") {
  harness h;
  h.activate();
  h.now = t0 + hour;
  auto seq = h.deliver("report");
  const auto due = h.now + 3 * day;
  CHECK(h.of("report").review_due == due);
  CHECK(next_review_step(h.state, default_review_warning_ms) == due - day);

  h.now = due - day - 1;
  CHECK(h.step().empty());
  h.now = due - day;
  auto warned = h.step();
  REQUIRE(warned.size() == 1);
  CHECK_FALSE(warned[0].acceptance);
  CHECK(warned[0].steps.events[0].kind == "review_due_soon");
  CHECK(warned[0].steps.events[0].cid == "review_due_soon:" + std::to_string(seq));
  CHECK(boost::json::serialize(warned[0].steps.events[0].body) ==
        R"({"delivery":)" + std::to_string(seq) + R"(,"deliverable":"report","version":1,"review_due":)" +
            std::to_string(due) + "}");
  CHECK(h.step().empty());  // once
  CHECK(next_review_step(h.state, default_review_warning_ms) == due);

  h.now = due - 1;
  CHECK(h.step().empty());
  h.now = due;
  auto accepted = h.step();
  REQUIRE(accepted.size() == 1);
  CHECK(accepted[0].acceptance);
  const auto& ev = accepted[0].steps.events[0];
  CHECK(ev.kind == "decision");
  CHECK(ev.from.role == user_role::system);
  CHECK(ev.cid == "auto_accept:" + std::to_string(seq));
  CHECK(ev.body.at("auto") == true);
  REQUIRE(accepted[0].steps.record);
  CHECK(accepted[0].steps.record->fields.at("accepted_by") == boost::json::array{"system"});
  CHECK(h.of("report").status == "accepted");
  h.now = due + day;
  CHECK(h.step().empty());  // once after apply
  CHECK_FALSE(next_review_step(h.state, default_review_warning_ms));
  CHECK(count_kind(h.log, "review_due_soon") == 1);
}

TEST_CASE("a review window shorter than the warning warns at once", "[rules][deliveries]") {
  harness h;
  h.limits.review_window_ms = 3000;  // --review-window 3s
  h.activate();
  h.deliver("report");
  CHECK(h.of("report").review_due == h.now + 3000);
  auto steps = h.step();
  REQUIRE(steps.size() == 1);
  CHECK(steps[0].steps.events[0].kind == "review_due_soon");
  h.now += 3000;
  REQUIRE(h.step().size() == 1);
  CHECK(h.of("report").status == "accepted");
}

TEST_CASE("an open dispute pauses automatic acceptance, its resolution gives 24 h more", "[rules][deliveries]") {
  harness h;
  h.activate();
  auto seq = h.deliver("report");
  const auto due = h.now + 3 * day;
  auto flag = h.must(client, "flag", {{"type", "dispute"}, {"text", "not what we agreed"}});
  h.now = due + day;
  CHECK(h.step().empty());
  CHECK_FALSE(next_review_step(h.state, default_review_warning_ms));
  CHECK(h.of("report").status == "submitted");
  // Support proposes a resolution in mediation; both parties accept it.
  auto res = h.must(support_user, "proposal",
                    {{"topic", "resolution"}, {"text", "split"}, {"terms", {{"flag", flag}}}}, channel_type::mediation);
  h.must(client, "decision", {{"proposal", res}, {"verdict", "accepted"}}, channel_type::mediation);
  h.now = due + 2 * day;
  h.must(expert, "decision", {{"proposal", res}, {"verdict", "accepted"}}, channel_type::mediation);
  CHECK(h.of("report").review_due == h.now + day);
  auto steps = h.step();  // warned at once: the extension is the warning's length
  REQUIRE(steps.size() == 1);
  CHECK_FALSE(steps[0].acceptance);
  h.now += day - 1;
  CHECK(h.step().empty());
  h.now += 1;
  REQUIRE(h.step().size() == 1);
  CHECK(h.of("report").status == "accepted");
  CHECK(h.log.back().body.at("proposal").as_int64() == seq);
}

TEST_CASE("a final delivery accepted in completion closes the engagement in the same plan", "[rules][deliveries]") {
  SECTION("by the client") {
    harness h;
    h.activate();
    h.move_to(engagement_phase::completion);
    auto seq = h.deliver("report", true);
    h.must(client, "decision", {{"proposal", seq}, {"verdict", "accepted"}});
    REQUIRE(h.last_plan->events.size() == 2);
    CHECK(h.last_plan->events[1].kind == "phase");
    CHECK(h.last_plan->events[1].from.role == user_role::system);
    CHECK(h.last_plan->record->fields.at("terms").as_object().at("final") == true);
    CHECK(h.state.phase == engagement_phase::closed);
  }
  SECTION("automatically") {
    harness h;
    h.activate();
    h.move_to(engagement_phase::completion);
    h.deliver("report", true);
    h.now += 3 * day;
    auto steps = h.step();
    REQUIRE(steps.size() == 1);
    REQUIRE(steps[0].steps.events.size() == 2);
    CHECK(h.state.phase == engagement_phase::closed);
  }
  SECTION("not in active, nor while another delivery awaits the client") {
    harness h;
    h.activate();
    auto early = h.deliver("report", true);
    h.must(client, "decision", {{"proposal", early}, {"verdict", "accepted"}});
    CHECK(h.last_plan->events.size() == 1);
    h.move_to(engagement_phase::completion);
    auto slides = h.deliver("slides");
    auto last = h.deliver("report", true);
    h.must(client, "decision", {{"proposal", last}, {"verdict", "accepted"}});
    CHECK(h.last_plan->events.size() == 1);
    CHECK(h.state.phase == engagement_phase::completion);
    h.must(client, "decision", {{"proposal", slides}, {"verdict", "accepted"}});
    CHECK(h.state.phase == engagement_phase::completion);
  }
}

TEST_CASE("closed is not entered while a delivery awaits the client", "[rules][deliveries]") {
  harness h;
  h.activate();
  h.move_to(engagement_phase::completion);
  auto closing = h.must(expert, "proposal", {{"topic", "phase"}, {"text", "done"}, {"terms", {{"to", "closed"}}}});
  auto seq = h.deliver("report");
  auto r = h.post(client, "decision", {{"proposal", closing}, {"verdict", "accepted"}});
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::conflict);
  CHECK(r.err().message == "delivery " + std::to_string(seq) + " awaits the client's decision");
  auto again = h.post(expert, "proposal", {{"topic", "phase"}, {"text", "done"}, {"terms", {{"to", "closed"}}}});
  CHECK(again.err().code == errc::conflict);
  h.must(client, "revision_request", {{"delivery", seq}, {"text", "x"}});
  h.must(client, "decision", {{"proposal", closing}, {"verdict", "accepted"}});
  CHECK(h.state.phase == engagement_phase::closed);
}

TEST_CASE("an engagement holds at most 50 deliverables", "[rules][deliveries]") {
  harness h;
  h.activate();
  for (std::size_t i = 0; i < max_deliverables; ++i) h.deliver("d" + std::to_string(i));
  CHECK(h.refused(expert, "delivery",
                  {{"deliverable", "one_more"},
                   {"text", "t"},
                   {"files", boost::json::array{boost::json::object{{"sha256", hash_a}, {"name", "a"}}}}}) ==
        errc::conflict);
  h.deliver("d0");  // a new version of one of them still is allowed
  CHECK(h.state.deliverables.size() == max_deliverables);
}

TEST_CASE("the review window scales with settings.review_days", "[rules][deliveries]") {
  engagement_state s = new_engagement("42", t0);
  engagement_limits limits;
  CHECK(review_window_ms(s, limits) == 3 * day);
  limits.review_window_ms = 3000;
  CHECK(review_window_ms(s, limits) == 3000);
  s.invitation = std::make_shared<const boost::json::object>(
      boost::json::object{{"settings", {{"revisions", 1}, {"review_days", 7}}}});
  CHECK(review_window_ms(s, limits) == 7000);
  CHECK(revisions_allowed(s) == 1);
  limits.review_window_ms = 3 * day;
  CHECK(review_window_ms(s, limits) == 7 * day);
}

TEST_CASE("state.deliverables and can follow each step", "[rules][deliveries][can]") {
  harness h;
  h.activate();
  CHECK(only_delivery_actions(h.can_of(expert)) == std::vector<std::string>{"deliver"});
  CHECK(only_delivery_actions(h.can_of(client)).empty());
  CHECK(only_delivery_actions(h.can_of(support_user)).empty());
  CHECK(only_delivery_actions(h.can_of(bot)).empty());

  auto v1 = h.deliver("report");
  const auto s1 = std::to_string(v1);
  CHECK(only_delivery_actions(h.can_of(client)) == std::vector<std::string>{"decide:" + s1, "revise:" + s1});
  CHECK(only_delivery_actions(h.can_of(expert)) == std::vector<std::string>{"deliver"});
  CHECK(only_delivery_actions(h.can_of(support_user)).empty());
  auto json = shared_state_json(h.state, {});
  CHECK(boost::json::serialize(json.at("deliverables")) ==
        R"({"report":{"version":1,"seq":)" + s1 + R"(,"status":"submitted","review_due":)" +
            std::to_string(h.now + 3 * day) + R"(,"revisions_used":0,"final":false}})");

  h.must(client, "revision_request", {{"delivery", v1}, {"text", "x"}});
  CHECK(only_delivery_actions(h.can_of(client)).empty());
  CHECK(boost::json::serialize(shared_state_json(h.state, {}).at("deliverables")) ==
        R"({"report":{"version":1,"seq":)" + s1 +
            R"(,"status":"revision_requested","review_due":null,"revisions_used":1,"final":false}})");

  auto v2 = h.deliver("report");
  h.must(client, "revision_request", {{"delivery", v2}, {"text", "x"}});
  auto v3 = h.deliver("report", true);
  const auto s3 = std::to_string(v3);
  // No revisions left: only accepting remains.
  CHECK(only_delivery_actions(h.can_of(client)) == std::vector<std::string>{"decide:" + s3});
  h.must(client, "decision", {{"proposal", v3}, {"verdict", "accepted"}});
  CHECK(only_delivery_actions(h.can_of(client)).empty());
  CHECK(h.state.deliverables.at("report")->final);

  // The state push frame stays byte-identical to the state object.
  state_push_frames frames(h.state, {});
  const claims reader{client, {"42"}, 0, std::nullopt};
  auto expected = boost::json::serialize(boost::json::object{
      {"ev", "state"}, {"eng", "42"}, {"state", state_json(h.state, {}, reader, h.limits)}});
  CHECK(frames.frame(can(h.state, reader, h.limits)) == expected);

  h.move_to(engagement_phase::completion);
  h.move_to(engagement_phase::closed);
  CHECK(only_delivery_actions(h.can_of(expert)).empty());
}

TEST_CASE("an invitation's settings set the revision limit and the window", "[rules][deliveries]") {
  harness h;
  h.state.invitation = std::make_shared<const boost::json::object>(
      boost::json::object{{"client", {{"id", "c1"}}},
                          {"expert", {{"id", "e1"}}},
                          {"requirements", boost::json::array{}},
                          {"settings", {{"revisions", 0}, {"review_days", 1}}}});
  h.activate();
  auto seq = h.deliver("report");
  CHECK(h.of("report").review_due == h.now + day);
  CHECK(h.refused(client, "revision_request", {{"delivery", seq}, {"text", "x"}}) == errc::conflict);
  CHECK(only_delivery_actions(h.can_of(client)) == std::vector<std::string>{"decide:" + std::to_string(seq)});
  // Another client than the one the invitation names decides nothing.
  CHECK(h.refused(client2, "decision", {{"proposal", seq}, {"verdict", "accepted"}}) == errc::forbidden);
}
