// Service levels (protocol §4) with a fake clock: due times, one sla event per
// miss, and apply() silencing a posted miss.
#include "protocol/service_levels.hpp"

#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace parley;

namespace {

const user client{"c1", "Carla", user_role::client};
const user expert{"e1", "Eve", user_role::expert};
const user bot{"b1", "", user_role::bot};

constexpr std::int64_t t0 = 1'764'000'000'000;
constexpr std::int64_t minute = 60'000;
constexpr std::int64_t hour = 60 * minute;
constexpr std::int64_t day = 24 * hour;

// Stores events the way the engine would (seq per channel, ts = clock) and applies them.
struct stored {
  engagement_state state = new_engagement("7", t0);
  std::map<std::string, std::int64_t> heads;

  std::int64_t add(const user& who, std::string kind, boost::json::object body, std::int64_t ts) {
    event ev;
    ev.ch = "eng:7";
    ev.kind = std::move(kind);
    ev.from = who;
    ev.body = std::move(body);
    return add(std::move(ev), ts);
  }
  std::int64_t add(event ev, std::int64_t ts) {
    ev.seq = ++heads[ev.ch];
    ev.ts = ts;
    apply(state, ev);
    return ev.seq;
  }
  void enter(engagement_phase p, std::int64_t ts) {
    if (p == engagement_phase::active) state.agreement_accepted = true;
    add(system_user(), "phase",
        {{"from", phase_name(state.phase)}, {"to", phase_name(p)}}, ts);
  }
};

std::vector<std::string> cids(const std::vector<sla_miss>& misses) {
  std::vector<std::string> out;
  for (const auto& m : misses) out.push_back(m.sla.cid);
  return out;
}

}  // namespace

TEST_CASE("durations are parsed from their configuration form", "[rules]") {
  struct row {
    std::string text;
    std::int64_t ms;  // 0: refused
  };
  auto r = GENERATE(values<row>({
      {"24h", 24 * hour},
      {"90s", 90'000},
      {"2d", 2 * day},
      {"15m", 15 * minute},
      {"250ms", 250},
      {"1d12h", 36 * hour},
      {" 3h ", 3 * hour},
      {"", 0},
      {"h", 0},
      {"12", 0},
      {"0s", 0},
      {"-5m", 0},
      {"5w", 0},
      {"1.5h", 0},
      {"99999999999999999d", 0},
  }));
  CAPTURE(r.text);
  auto d = parse_duration(r.text);
  if (r.ms == 0) {
    REQUIRE_FALSE(d.ok());
    CHECK(d.err().code == errc::bad_request);
  } else {
    REQUIRE(d.ok());
    CHECK(*d == r.ms);
  }
}

TEST_CASE("phase limits are parsed from name=duration lists", "[rules]") {
  auto all = parse_phase_limits("discovery=1d, agreement=2d,active=3w");
  CHECK_FALSE(all.ok());

  auto some = parse_phase_limits("discovery=1d, active=14d");
  REQUIRE(some.ok());
  CHECK(some->discovery_ms == day);
  CHECK(some->agreement_ms == 3 * day);
  CHECK(some->active_ms == 14 * day);
  CHECK(some->completion_ms == 5 * day);

  auto defaults = parse_phase_limits("");
  REQUIRE(defaults.ok());
  CHECK(defaults->active_ms == 28 * day);

  for (const auto* bad : {"closed=1d", "review=1d", "discovery", "discovery=1d,discovery=2d", "active=soon"}) {
    CAPTURE(bad);
    auto p = parse_phase_limits(bad);
    REQUIRE_FALSE(p.ok());
    CHECK(p.err().code == errc::bad_request);
  }
}

TEST_CASE("a fresh engagement is due only at the end of discovery", "[rules]") {
  stored st;
  CHECK(next_due(st.state, sla_windows{}) == t0 + 2 * day);
  CHECK(due_misses(st.state, sla_windows{}, t0 + 2 * day - 1).empty());
}

TEST_CASE("an unanswered message is reported once, at its due time", "[rules]") {
  stored st;
  sla_windows w;
  auto first = st.add(client, "message", {{"text", "question"}}, t0 + hour);
  st.add(client, "message", {{"text", "ping"}}, t0 + 5 * hour);
  CHECK(next_due(st.state, w) == t0 + 25 * hour);
  CHECK(due_misses(st.state, w, t0 + 25 * hour - 1).empty());

  auto misses = due_misses(st.state, w, t0 + 25 * hour);
  REQUIRE(misses.size() == 1);
  const auto& ev = misses[0].sla;
  CHECK(ev.ch == "eng:7");
  CHECK(ev.kind == "sla");
  CHECK(ev.from.role == user_role::system);
  CHECK(ev.cid == "sla:reply_overdue:" + std::to_string(first));
  CHECK(ev.body == boost::json::object{{"type", "reply_overdue"},
                                       {"side", "expert"},
                                       {"since_seq", first},
                                       {"since_ts", t0 + hour},
                                       {"due", t0 + 25 * hour}});
  CHECK_FALSE(misses[0].notice.has_value());
  // Not yet applied: asked again, the same miss (same cid) comes back, so a
  // retried append is answered by the idempotency key.
  CHECK(cids(due_misses(st.state, w, t0 + 26 * hour)) == cids(misses));

  st.add(ev, t0 + 25 * hour);
  CHECK(due_misses(st.state, w, t0 + 30 * hour).empty());
  CHECK(next_due(st.state, w) == t0 + 2 * day);

  // The expert answers: now the client owes, a new miss with its own key.
  auto answer = st.add(expert, "message", {{"text", "answer"}}, t0 + 31 * hour);
  CHECK(next_due(st.state, w) == t0 + 2 * day);
  auto later = due_misses(st.state, w, t0 + 55 * hour);
  REQUIRE(later.size() == 2);
  CHECK(later[0].sla.cid == "sla:reply_overdue:" + std::to_string(answer));
  CHECK(later[0].sla.body.at("side") == "client");
  CHECK(later[1].sla.body.at("type") == "phase_overdue");
}

TEST_CASE("the reply window is configurable", "[rules]") {
  stored st;
  sla_windows w;
  w.reply_ms = 2 * hour;
  st.add(expert, "message", {{"text", "draft ready"}}, t0);
  CHECK(next_due(st.state, w) == t0 + 2 * hour);
  CHECK(due_misses(st.state, w, t0 + 2 * hour).size() == 1);
}

TEST_CASE("status is due only during active, from the later of entering active and the last status",
          "[rules]") {
  sla_windows w;
  w.phases.discovery_ms = w.phases.agreement_ms = w.phases.active_ms = 365 * day;
  stored st;
  // A status before active does not count toward active.
  st.add(bot, "status", {{"text", "early"}}, t0 + hour);
  CHECK(next_due(st.state, w) == t0 + 365 * day);
  st.enter(engagement_phase::agreement, t0 + day);
  st.enter(engagement_phase::active, t0 + 2 * day);
  CHECK(next_due(st.state, w) == t0 + 2 * day + 72 * hour);

  st.add(expert, "status", {{"text", "halfway"}}, t0 + 3 * day);
  CHECK(next_due(st.state, w) == t0 + 3 * day + 72 * hour);
  CHECK(due_misses(st.state, w, t0 + 3 * day + 72 * hour - 1).empty());
  auto misses = due_misses(st.state, w, t0 + 6 * day);
  REQUIRE(misses.size() == 1);
  CHECK(misses[0].sla.cid == "sla:status_overdue:" + std::to_string(t0 + 3 * day));
  CHECK(misses[0].sla.body == boost::json::object{{"type", "status_overdue"},
                                                  {"since", t0 + 3 * day},
                                                  {"due", t0 + 6 * day}});
  st.add(misses[0].sla, t0 + 6 * day);
  CHECK(due_misses(st.state, w, t0 + 20 * day).empty());

  // A new status starts a new window; leaving active stops watching.
  st.add(bot, "status", {{"text", "back on track"}}, t0 + 7 * day);
  CHECK(next_due(st.state, w) == t0 + 10 * day);
  st.enter(engagement_phase::completion, t0 + 8 * day);
  CHECK(next_due(st.state, w) == t0 + 8 * day + 5 * day);  // completion's own bound
}

TEST_CASE("an overlong phase is reported once, with a notice to support", "[rules]") {
  stored st;
  sla_windows w;
  st.enter(engagement_phase::agreement, t0 + hour);
  const auto due = t0 + hour + 3 * day;
  CHECK(next_due(st.state, w) == due);
  auto misses = due_misses(st.state, w, due);
  REQUIRE(misses.size() == 1);
  const auto key = "agreement:" + std::to_string(t0 + hour);
  CHECK(misses[0].sla.cid == "sla:phase_overdue:" + key);
  CHECK(misses[0].sla.body == boost::json::object{{"type", "phase_overdue"},
                                                  {"phase", "agreement"},
                                                  {"since", t0 + hour},
                                                  {"due", due}});
  REQUIRE(misses[0].notice.has_value());
  CHECK(misses[0].notice->ch == "support");
  CHECK(misses[0].notice->kind == "notice");
  CHECK(misses[0].notice->cid == "notice:phase_overdue:7:" + key);
  CHECK(misses[0].notice->body.at("type") == "phase_overdue");
  CHECK(misses[0].notice->body.at("eng") == "7");

  st.add(misses[0].sla, due + 1);
  CHECK(due_misses(st.state, w, due + 10 * day).empty());
  CHECK_FALSE(next_due(st.state, w).has_value());

  // The next phase is a new miss.
  st.enter(engagement_phase::active, due + 2 * day);
  CHECK(next_due(st.state, w) == due + 2 * day + 72 * hour);
}

TEST_CASE("nothing is watched once closed", "[rules]") {
  stored st;
  st.add(client, "message", {{"text", "bye"}}, t0);
  st.enter(engagement_phase::agreement, t0 + 1);
  st.enter(engagement_phase::active, t0 + 2);
  st.enter(engagement_phase::completion, t0 + 3);
  st.enter(engagement_phase::closed, t0 + 4);
  st.add(client, "message", {{"text", "one more thing"}}, t0 + 5);
  CHECK_FALSE(next_due(st.state, sla_windows{}).has_value());
  CHECK(due_misses(st.state, sla_windows{}, t0 + 400 * day).empty());
}

TEST_CASE("misses due together come in the order reply, status, phase", "[rules]") {
  stored st;
  st.enter(engagement_phase::agreement, t0);
  st.enter(engagement_phase::active, t0);
  st.add(client, "message", {{"text", "?"}}, t0);
  auto misses = due_misses(st.state, sla_windows{}, t0 + 60 * day);
  std::vector<std::string> types;
  for (const auto& m : misses) types.emplace_back(m.sla.body.at("type").as_string());
  CHECK(types == std::vector<std::string>{"reply_overdue", "status_overdue", "phase_overdue"});
}

TEST_CASE("a reply miss inside the owing party's away period is due at its end", "[rules][availability]") {
  stored s;
  sla_windows w;
  w.reply_ms = day;
  w.phases.discovery_ms = 10 * day;  // no phase miss in between
  s.add(expert, "message", {{"text", "On it."}}, t0 + hour);
  auto m = s.add(client, "message", {{"text", "Any news?"}}, t0 + 2 * hour);
  // A first-use engagement names no parties: the last expert who wrote owes the reply.
  REQUIRE(owing_user(s.state) == std::optional<std::string>("e1"));

  availability away;
  away.status = availability_status::away;
  away.until = t0 + 3 * day;
  const owing_availability owing{away, t0 + 90 * minute};
  CHECK(reply_due(s.state, w) == t0 + 2 * hour + day);
  CHECK(reply_due(s.state, w, owing) == t0 + 3 * day);
  CHECK(next_due(s.state, w, owing) == t0 + 3 * day);
  // Not before the end of the away period, then once, with the moved due.
  CHECK(due_misses(s.state, w, t0 + 2 * hour + day, owing).empty());
  auto misses = due_misses(s.state, w, t0 + 3 * day, owing);
  REQUIRE(cids(misses) == std::vector<std::string>{"sla:reply_overdue:" + std::to_string(m)});
  CHECK(misses[0].sla.body.at("due").as_int64() == t0 + 3 * day);

  // Announced after the miss fell due: it stays due.
  const owing_availability late{away, t0 + 2 * hour + day + minute};
  CHECK(reply_due(s.state, w, late) == t0 + 2 * hour + day);
  // An answer turns the debt around: now the client who wrote last owes it.
  s.add(expert, "message", {{"text", "Here it is."}}, t0 + 3 * hour);
  CHECK(owing_user(s.state) == std::optional<std::string>("c1"));
}
