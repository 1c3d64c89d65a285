// Introductory calls (protocol §9.5) without a socket: the terms of a call
// proposal, the slot its acceptance picks, state.calls, and the reminders
// with a fake clock.
#include "protocol/calls.hpp"

#include "protocol/can.hpp"
#include "protocol/frame.hpp"

#include <boost/json/parse.hpp>
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
constexpr std::int64_t minute = 60'000;
constexpr std::int64_t hour = 60 * minute;

boost::json::object obj(std::string_view json) { return boost::json::parse(json).as_object(); }

boost::json::object call_body(boost::json::object terms) {
  return {{"topic", "call"}, {"text", "Intro call"}, {"terms", std::move(terms)}};
}
boost::json::object slots_terms(std::vector<std::pair<std::int64_t, std::int64_t>> slots) {
  boost::json::array a;
  for (auto [start, minutes] : slots) a.push_back(boost::json::object{{"start", start}, {"minutes", minutes}});
  return {{"slots", std::move(a)}};
}

// Plays the server: validate_body and check at the clock, then commit the
// plan (seq per channel, ts = clock) and apply it.
struct harness {
  engagement_state state = new_engagement("42", t0);
  std::map<std::string, std::int64_t> heads;
  std::vector<event> log;
  std::optional<plan> last_plan;
  std::int64_t now = t0;

  result<std::int64_t> post(const user& who, std::string kind, const boost::json::object& body) {
    auto valid = validate_body(kind, body);
    if (!valid) return valid.err();
    post_request p{channel{channel_type::engagement, "42"}, std::move(kind), std::move(*valid), "", std::nullopt};
    p.checked_at_ms = now;
    auto r = check(state, who, p);
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
  std::int64_t must(const user& who, std::string kind, const boost::json::object& body) {
    auto r = post(who, kind, body);
    INFO(kind << " by " << who.id << ": " << (r ? std::string("ok") : r.err().message));
    REQUIRE(r.ok());
    return *r;
  }
  // A call proposed by the client with the given slots, accepted by the expert with `slot`.
  std::int64_t schedule(std::vector<std::pair<std::int64_t, std::int64_t>> slots, std::int64_t slot = 0,
                        boost::json::object extra = {}) {
    auto terms = slots_terms(std::move(slots));
    for (const auto& kv : extra) terms[kv.key()] = kv.value();
    auto seq = must(client, "proposal", call_body(terms));
    must(expert, "decision", {{"proposal", seq}, {"verdict", "accepted"}, {"slot", slot}});
    return seq;
  }
  // What the watcher does at `now`: store every reminder due.
  std::size_t remind() {
    auto due = due_reminders(state, now);
    for (auto& ev : due) commit(ev);
    return due.size();
  }
};

std::int64_t count_kind(const std::vector<event>& log, std::string_view kind) {
  return std::count_if(log.begin(), log.end(), [&](const event& e) { return e.kind == kind; });
}

}  // namespace

TEST_CASE("a call proposal's terms are checked strictly", "[rules][calls]") {
  const auto later = t0 + 24 * hour;
  const auto slot = R"({"start":)" + std::to_string(later) + R"(,"minutes":30})";
  struct row {
    std::string terms;
    errc code;  // errc::internal: accepted
  };
  auto r = GENERATE_COPY(values<row>({
      {R"({"slots":[)" + slot + "]}", errc::internal},
      {R"({"slots":[)" + slot + R"(],"link":"https://meet.example.com/abc?x=1#y","tz":"Europe/Berlin"})",
       errc::internal},
      {R"({"slots":[)" + slot + R"(],"link":"https://10.0.0.1:8443/room","tz":"America/Argentina/Buenos_Aires"})",
       errc::internal},
      {R"({"slots":[)" + slot + R"(],"tz":"Etc/GMT+5"})", errc::internal},
      {R"({"slots":[]})", errc::bad_request},
      {R"({})", errc::bad_request},
      {R"({"slots":{}})", errc::bad_request},
      {R"({"slots":[)" + slot + R"(],"extra":1})", errc::bad_request},
      {R"({"slots":[{"start":1,"minutes":30,"room":"a"}]})", errc::bad_request},
      {R"({"slots":[{"start":1,"minutes":10}]})", errc::bad_request},
      {R"({"slots":[{"start":1,"minutes":241}]})", errc::bad_request},
      {R"({"slots":[{"start":1,"minutes":"30"}]})", errc::bad_request},
      {R"({"slots":[{"start":0,"minutes":30}]})", errc::bad_request},
      {R"({"slots":[{"start":1.5,"minutes":30}]})", errc::bad_request},
      {R"({"slots":[{"minutes":30}]})", errc::bad_request},
      {R"({"slots":[{"start":253402300799000,"minutes":15}]})", errc::bad_request},
      {R"({"slots":[1,2]})", errc::bad_request},
      {R"({"slots":[)" + slot + "," + slot + "]}", errc::bad_request},
      {R"({"slots":[{"start":1,"minutes":15},{"start":2,"minutes":15},{"start":3,"minutes":15},)"
       R"({"start":4,"minutes":15},{"start":5,"minutes":15},{"start":6,"minutes":15}]})",
       errc::bad_request},
      {R"({"slots":[)" + slot + R"(],"link":"http://meet.example.com"})", errc::bad_request},
      {R"({"slots":[)" + slot + R"x(],"link":"javascript:alert(1)"})x", errc::bad_request},
      {R"({"slots":[)" + slot + R"(],"link":"HTTPS://meet.example.com"})", errc::bad_request},
      {R"({"slots":[)" + slot + R"(],"link":"https://"})", errc::bad_request},
      {R"({"slots":[)" + slot + R"(],"link":"https:///path"})", errc::bad_request},
      {R"({"slots":[)" + slot + R"(],"link":"https://meet.example.com@evil.example/"})", errc::bad_request},
      {R"({"slots":[)" + slot + R"(],"link":"https://meet.example.com/a b"})", errc::bad_request},
      {R"({"slots":[)" + slot + R"(],"link":"https://meet.example.com/\r\nX-INJECT:1"})", errc::bad_request},
      {R"({"slots":[)" + slot + R"(],"link":"https://-bad.example/"})", errc::bad_request},
      {R"({"slots":[)" + slot + R"(],"link":"https://meet.example.com:99999/"})", errc::bad_request},
      {R"({"slots":[)" + slot + R"(],"link":"https://ex..ample/"})", errc::bad_request},
      {R"({"slots":[)" + slot + R"(],"link":"https://mëet.example/"})", errc::bad_request},
      {R"({"slots":[)" + slot + R"(],"link":"https://a.example/)" + std::string(2000, 'x') + R"("})",
       errc::too_large},
      {R"({"slots":[)" + slot + R"(],"link":7})", errc::bad_request},
      {R"({"slots":[)" + slot + R"(],"tz":"../../etc/passwd"})", errc::bad_request},
      {R"({"slots":[)" + slot + R"(],"tz":"Europe//Berlin"})", errc::bad_request},
      {R"({"slots":[)" + slot + R"(],"tz":"Europe/Berlin/"})", errc::bad_request},
      {R"({"slots":[)" + slot + R"(],"tz":"Europe/Ber lin"})", errc::bad_request},
      {R"({"slots":[)" + slot + R"(],"tz":""})", errc::bad_request},
      {R"({"slots":[)" + slot + R"(],"tz":")" + std::string(65, 'A') + R"("})", errc::too_large},
  }));
  CAPTURE(r.terms);
  auto checked = validate_body("proposal", call_body(obj(r.terms)));
  if (r.code == errc::internal) {
    INFO((checked ? std::string() : checked.err().message));
    REQUIRE(checked.ok());
  } else {
    REQUIRE_FALSE(checked.ok());
    CHECK(checked.err().code == r.code);
  }
}

TEST_CASE("checked terms hold exactly the known keys, and a null link or zone is none", "[rules][calls]") {
  auto checked = validate_call_terms(obj(R"({"slots":[{"minutes":30,"start":5}],"link":null,"tz":"UTC"})"));
  REQUIRE(checked.ok());
  CHECK(boost::json::serialize(*checked) == R"({"slots":[{"start":5,"minutes":30}],"tz":"UTC"})");
}

TEST_CASE("a call is proposed by either party in eng:<id>, with every slot in the future", "[rules][calls]") {
  harness h;
  h.now = t0 + hour;
  const auto terms = slots_terms({{h.now + hour, 30}});
  CHECK(h.post(client, "proposal", call_body(terms)).ok());
  CHECK(h.post(expert, "proposal", call_body(terms)).ok());
  auto bot_post = h.post(bot, "proposal", call_body(terms));
  REQUIRE_FALSE(bot_post.ok());
  CHECK(bot_post.err().code == errc::forbidden);
  auto support_post = h.post(support_user, "proposal", call_body(terms));
  REQUIRE_FALSE(support_post.ok());
  CHECK(support_post.err().code == errc::forbidden);

  const auto before = h.log.size();
  for (auto start : {h.now, h.now - minute}) {
    auto past = h.post(client, "proposal", call_body(slots_terms({{h.now + hour, 30}, {start, 30}})));
    REQUIRE_FALSE(past.ok());
    CHECK(past.err().code == errc::bad_request);
  }
  CHECK(h.log.size() == before);
}

TEST_CASE("no call is proposed while invited, once declined or once closed", "[rules][calls]") {
  harness h;
  const auto terms = slots_terms({{t0 + hour, 30}});
  for (auto phase : {engagement_phase::invited, engagement_phase::declined, engagement_phase::closed}) {
    h.state.phase = phase;
    CAPTURE(phase_name(phase));
    auto r = h.post(client, "proposal", call_body(terms));
    REQUIRE_FALSE(r.ok());
    CHECK(r.err().code == errc::conflict);
  }
}

TEST_CASE("accepting a call needs one of its slots, still to come", "[rules][calls]") {
  harness h;
  const auto seq = h.must(client, "proposal", call_body(slots_terms({{t0 + hour, 30}, {t0 + 2 * hour, 60}})));
  struct row {
    std::string decision;
    errc code;
  };
  auto r = GENERATE(values<row>({
      {R"({"verdict":"accepted"})", errc::bad_request},
      {R"({"verdict":"accepted","slot":2})", errc::bad_request},
      {R"({"verdict":"accepted","slot":5})", errc::bad_request},
      {R"({"verdict":"accepted","slot":-1})", errc::bad_request},
      {R"({"verdict":"accepted","slot":"0"})", errc::bad_request},
      {R"({"verdict":"rejected","slot":0})", errc::bad_request},
  }));
  CAPTURE(r.decision);
  auto body = obj(r.decision);
  body["proposal"] = seq;
  const auto before = h.log.size();
  auto out = h.post(expert, "decision", body);
  REQUIRE_FALSE(out.ok());
  CHECK(out.err().code == r.code);
  CHECK(h.log.size() == before);
  CHECK(h.state.proposals.size() == 1);
}

TEST_CASE("a slot that has started is conflict, another slot may still be chosen", "[rules][calls]") {
  harness h;
  const auto seq = h.must(client, "proposal", call_body(slots_terms({{t0 + hour, 30}, {t0 + 2 * hour, 60}})));
  h.now = t0 + hour;
  auto started = h.post(expert, "decision", {{"proposal", seq}, {"verdict", "accepted"}, {"slot", 0}});
  REQUIRE_FALSE(started.ok());
  CHECK(started.err().code == errc::conflict);
  CHECK(h.post(expert, "decision", {{"proposal", seq}, {"verdict", "accepted"}, {"slot", 1}}).ok());
  REQUIRE(h.state.calls.size() == 1);
  CHECK(h.state.calls[0]->start == t0 + 2 * hour);
}

TEST_CASE("a slot is given only when accepting a call", "[rules][calls]") {
  harness h;
  const auto seq = h.must(client, "proposal", {{"topic", "timeline"}, {"text", "t"}, {"terms", {{"weeks", 2}}}});
  auto r = h.post(expert, "decision", {{"proposal", seq}, {"verdict", "accepted"}, {"slot", 0}});
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::bad_request);
}

TEST_CASE("an accepted call is recorded with the chosen slot and listed in state.calls", "[rules][calls]") {
  harness h;
  const auto seq = h.must(
      expert, "proposal",
      call_body(obj(R"({"slots":[{"start":)" + std::to_string(t0 + hour) + R"(,"minutes":30},{"start":)" +
                    std::to_string(t0 + 3 * hour) + R"(,"minutes":45}],"link":"https://meet.example/x","tz":"Europe/Berlin"})")));
  CHECK(h.post(expert, "decision", {{"proposal", seq}, {"verdict", "accepted"}, {"slot", 1}}).err().code ==
        errc::conflict);  // its own proposer
  h.must(client, "decision", {{"proposal", seq}, {"verdict", "accepted"}, {"slot", 1}});
  REQUIRE(h.last_plan->record);
  const auto& rec = h.last_plan->record->fields;
  CHECK(rec.at("topic") == "call");
  CHECK(boost::json::serialize(rec.at("terms")) ==
        R"({"start":)" + std::to_string(t0 + 3 * hour) +
            R"(,"minutes":45,"link":"https://meet.example/x","tz":"Europe/Berlin"})");
  CHECK(h.state.proposals.empty());
  auto listed = shared_state_json(h.state, {}).at("calls");
  CHECK(boost::json::serialize(listed) == R"([{"proposal":)" + std::to_string(seq) + R"(,"start":)" +
                                               std::to_string(t0 + 3 * hour) +
                                               R"(,"minutes":45,"link":"https://meet.example/x","tz":"Europe/Berlin"}])");
}

TEST_CASE("a rejected call schedules nothing and writes no record", "[rules][calls]") {
  harness h;
  const auto seq = h.must(client, "proposal", call_body(slots_terms({{t0 + hour, 30}})));
  h.must(expert, "decision", {{"proposal", seq}, {"verdict", "rejected"}});
  CHECK_FALSE(h.last_plan->record);
  CHECK(h.state.calls.empty());
  CHECK(h.state.proposals.empty());
  CHECK(shared_state_json(h.state, {}).at("calls").as_array().empty());
}

TEST_CASE("state.calls is ordered by start and keeps at most the last calls", "[rules][calls]") {
  harness h;
  // Twenty calls, each over before the next is accepted.
  for (int i = 0; i < static_cast<int>(max_listed_calls); ++i) {
    h.schedule({{h.now + hour, 15}});
    h.now += 2 * hour;
  }
  REQUIRE(h.state.calls.size() == max_listed_calls);
  const auto first = h.state.calls.front()->proposal;
  h.schedule({{h.now + hour, 15}});
  CHECK(h.state.calls.size() == max_listed_calls);
  CHECK(h.state.calls.front()->proposal != first);
  CHECK(std::is_sorted(h.state.calls.begin(), h.state.calls.end(),
                       [](const auto& a, const auto& b) { return a->start < b->start; }));
}

TEST_CASE("accepting a call beyond the bound is refused while all listed calls are to come", "[rules][calls]") {
  harness h;
  for (int i = 0; i < static_cast<int>(max_listed_calls); ++i) h.schedule({{t0 + (i + 1) * hour, 15}});
  const auto seq = h.must(client, "proposal", call_body(slots_terms({{t0 + 100 * hour, 15}})));
  auto r = h.post(expert, "decision", {{"proposal", seq}, {"verdict", "accepted"}, {"slot", 0}});
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::conflict);
  CHECK(h.post(expert, "decision", {{"proposal", seq}, {"verdict", "rejected"}}).ok());
}

TEST_CASE("a call's reminder is due 15 minutes before it starts, once", "[rules][calls]") {
  harness h;
  const auto start = t0 + 2 * hour;
  const auto seq = h.schedule({{start, 30}});
  CHECK(next_reminder_due(h.state, h.now) == start - 15 * minute);
  h.now = start - 15 * minute - 1;
  CHECK(h.remind() == 0);
  h.now = start - 15 * minute;
  auto due = due_reminders(h.state, h.now);
  REQUIRE(due.size() == 1);
  CHECK(due[0].kind == "reminder");
  CHECK(due[0].ch == "eng:42");
  CHECK(due[0].from.role == user_role::system);
  CHECK(due[0].cid == "reminder:" + std::to_string(seq));
  CHECK(boost::json::serialize(due[0].body) ==
        R"({"call":)" + std::to_string(seq) + R"(,"start":)" + std::to_string(start) + "}");
  CHECK(h.remind() == 1);
  // Applied, the reminder is silenced: never due again.
  CHECK(h.remind() == 0);
  CHECK_FALSE(next_reminder_due(h.state, h.now));
  h.now = start + minute;
  CHECK(h.remind() == 0);
  CHECK(count_kind(h.log, "reminder") == 1);
}

TEST_CASE("after a restart past the reminder time, the reminder comes at once unless the call has ended",
          "[rules][calls]") {
  struct row {
    std::int64_t restart_at;  // minutes after the start
    std::size_t reminders;
  };
  auto r = GENERATE(values<row>({{-10, 1}, {0, 1}, {29, 1}, {30, 0}, {600, 0}}));
  CAPTURE(r.restart_at);
  harness h;
  const auto start = t0 + 2 * hour;
  h.schedule({{start, 30}});
  // A restart replays the stored events into a fresh state.
  harness restarted;
  for (const auto& ev : h.log) apply(restarted.state, ev);
  restarted.heads = h.heads;
  restarted.now = start + r.restart_at * minute;
  auto due = next_reminder_due(restarted.state, restarted.now);
  CHECK(due.has_value() == (r.reminders == 1));
  if (due) CHECK(*due <= restarted.now);
  CHECK(restarted.remind() == r.reminders);
  CHECK(restarted.remind() == 0);
}

TEST_CASE("replaying a stored reminder keeps the call reminded", "[rules][calls]") {
  harness h;
  const auto start = t0 + 2 * hour;
  h.schedule({{start, 30}});
  h.now = start - 10 * minute;
  REQUIRE(h.remind() == 1);
  engagement_state replayed = new_engagement("42", t0);
  for (const auto& ev : h.log) apply(replayed, ev);
  CHECK(due_reminders(replayed, h.now).empty());
  CHECK_FALSE(next_reminder_due(replayed, h.now));
}

TEST_CASE("each call has its own reminder, the earliest due first", "[rules][calls]") {
  harness h;
  h.schedule({{t0 + 5 * hour, 30}});
  h.schedule({{t0 + 2 * hour, 30}});
  CHECK(next_reminder_due(h.state, h.now) == t0 + 2 * hour - 15 * minute);
  h.now = t0 + 2 * hour;
  CHECK(h.remind() == 1);
  CHECK(next_reminder_due(h.state, h.now) == t0 + 5 * hour - 15 * minute);
  h.now = t0 + 5 * hour - 15 * minute;
  CHECK(h.remind() == 1);
  CHECK_FALSE(next_reminder_due(h.state, h.now));
}

TEST_CASE("no reminders once the engagement is closed", "[rules][calls]") {
  harness h;
  h.schedule({{t0 + 2 * hour, 30}});
  event closing;
  closing.ch = "eng:42";
  closing.kind = "phase";
  closing.from = system_user();
  closing.body = {{"from", "completion"}, {"to", "closed"}};
  h.commit(closing);
  h.now = t0 + 2 * hour - 5 * minute;
  CHECK_FALSE(next_reminder_due(h.state, h.now));
  CHECK(h.remind() == 0);
}

TEST_CASE("can lists propose:call for the parties and decide:<seq> for the other party", "[rules][calls]") {
  harness h;
  const claims client_reader{client, {"42"}, t0 / 1000 + 3600};
  const claims expert_reader{expert, {"42"}, t0 / 1000 + 3600};
  const claims bot_reader{bot, {"42"}, t0 / 1000 + 3600};
  auto has = [](const std::vector<std::string>& v, const std::string& a) {
    return std::find(v.begin(), v.end(), a) != v.end();
  };
  CHECK(has(can(h.state, client_reader), "propose:call"));
  CHECK(has(can(h.state, expert_reader), "propose:call"));
  CHECK_FALSE(has(can(h.state, bot_reader), "propose:call"));
  const auto seq = h.must(client, "proposal", call_body(slots_terms({{t0 + hour, 30}})));
  CHECK(has(can(h.state, expert_reader), "decide:" + std::to_string(seq)));
  CHECK_FALSE(has(can(h.state, client_reader), "decide:" + std::to_string(seq)));
  h.state.phase = engagement_phase::invited;
  CHECK_FALSE(has(can(h.state, client_reader), "propose:call"));
}
