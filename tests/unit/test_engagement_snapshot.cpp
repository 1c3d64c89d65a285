// Snapshots of the engagement state (engagement_snapshot.hpp): every field
// round-trips exactly (compared field by field, not only through the text),
// a snapshot plus the events after it gives the state of the full replay at
// every cut point, and a damaged or foreign text is never used. The states
// are built as the server builds them: checked posts and system events,
// committed with seqs per channel and applied.
#include "protocol/engagement_snapshot.hpp"

#include "protocol/calls.hpp"
#include "protocol/deliveries.hpp"
#include "protocol/frame.hpp"
#include "protocol/invitation.hpp"
#include "protocol/proposal_expiry.hpp"
#include "protocol/reviews.hpp"
#include "protocol/service_levels.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include "test_users.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <vector>

using namespace parley;
using namespace parley::test_users;

namespace {

constexpr std::int64_t minute = 60'000;
constexpr std::int64_t hour = 60 * minute;
constexpr std::int64_t day = 24 * hour;
const std::string salt_a = "00112233445566778899aabbccddeeff";
const std::string salt_b = "ffeeddccbbaa99887766554433221100";
const std::string hash_a(64, 'a');

constexpr std::string_view invitation_body = R"({"title":"Market entry DACH","details":"Project details",
  "client":{"id":"c1","name":"Carla"},"expert":{"id":"e1","name":"Eve"},"terms":{"scope":"draft","budget":1200.5},
  "requirements":[{"key":"nda","title":"Mutual NDA","by":["expert","client"]},
                  {"key":"dpa","title":"Data processing agreement","by":["client"]}],
  "settings":{"revisions":2,"review_days":3}})";

boost::json::object proposal(std::string topic, boost::json::object terms) {
  return {{"topic", topic}, {"text", topic + " proposed"}, {"terms", std::move(terms)}};
}
boost::json::object accept(std::int64_t seq) { return {{"proposal", seq}, {"verdict", "accepted"}}; }
boost::json::object text(std::string t) { return {{"text", std::move(t)}}; }

// Plays the server: each post past validate_body (files resolved as the server
// resolves them) and check() at the clock, each plan and system event stored
// with a seq per channel and the clock's ts, applied, and kept in `log`.
struct harness {
  engagement_state state = new_engagement("42", t0);
  std::map<std::string, std::int64_t> heads;
  std::vector<event> log;
  std::map<std::int64_t, std::string> sealed;
  std::int64_t now = t0;

  // Stores and applies events; the seq of the first.
  std::int64_t commit(std::vector<event> events, std::optional<std::string> payload = std::nullopt) {
    std::int64_t first = 0;
    for (auto& ev : events) {
      ev.seq = ++heads[ev.ch];
      if (first == 0) first = ev.seq;
      ev.ts = now;
      REQUIRE(apply(state, ev));
      log.push_back(ev);
    }
    if (payload) sealed[first] = *payload;
    return first;
  }
  // Posts and requires success; the seq of the actor's event.
  std::int64_t must(const user& who, std::string kind, const boost::json::object& body,
                    channel_type where = channel_type::engagement, const std::string& salt = salt_a) {
    auto valid = validate_body(kind, body);
    INFO(kind << " by " << who.id << ": " << (valid ? std::string("ok") : valid.err().message));
    REQUIRE(valid.ok());
    if (auto* files = valid->if_contains("files")) {
      for (auto& f : files->as_array()) {
        auto& o = f.as_object();
        o["size"] = 1000 + static_cast<std::int64_t>(o.at("name").as_string().size());
        o["type"] = "application/pdf";
      }
    }
    post_request p{channel{where, "42"}, kind, std::move(*valid), "", std::nullopt};
    p.checked_at_ms = now;
    p.salt = salt;
    auto r = check(state, who, p);
    INFO(kind << " by " << who.id << ": " << (r ? std::string("ok") : r.err().message));
    REQUIRE(r.ok());
    return commit(r->events, r->sealed);
  }
  std::int64_t agreed(const user& by, const user& decider, std::string topic, boost::json::object terms) {
    auto seq = must(by, "proposal", proposal(std::move(topic), std::move(terms)));
    must(decider, "decision", accept(seq));
    return seq;
  }
  // What the watchers store when they run at `now` (the sla misses without their support notices).
  void watch() {
    for (auto& x : due_expiries(state, default_proposal_ttl_ms, now)) commit(std::move(x.events));
    for (auto& miss : due_misses(state, sla_windows{}, now)) commit({miss.sla});
    for (auto& ev : due_reminders(state, now)) commit({ev});
    for (auto& step : due_review_steps(state, now, default_review_warning_ms)) commit(step.steps.events);
  }
};

// A realistic engagement created by the platform, up to `closed` with its
// reviews revealed. `open` is its state at the height of it: open flags and
// proposals (a resolution accepted by one side), mediation open, an expired
// proposal, sla misses posted, a reminded call, deliverables under review.
struct history {
  harness h;
  engagement_state open;
  engagement_state closed;
};

history make_history() {
  history out;
  auto& h = out.h;
  h.commit(invitation_events("42", parse_invitation(invitation_body).value(), h.now));
  h.now += hour;
  h.must(client, "message", text("Looking forward to it"));
  h.must(expert, "decision", accept(2));
  h.must(expert, "message", text("Happy to help"));
  h.must(client, "acknowledgement", {{"key", "nda"}, {"text", "signed"}});
  h.must(expert, "acknowledgement", {{"key", "nda"}});
  h.must(client, "acknowledgement", {{"key", "dpa"}});
  h.must(bot, "status", text("build green"));
  h.must(client, "proposal", proposal("timeline", {{"weeks", 6}}));
  // The proposal lapses, the reply, the status and discovery are overdue.
  h.now += default_proposal_ttl_ms + minute;
  h.watch();

  h.agreed(expert, client, "phase", {{"to", "agreement"}});
  h.agreed(client, expert, "agreement", {{"scope", "market study"}, {"price", 1000}, {"rate", 0.1},
                                          {"odd", 0.30000000000000004}, {"big", 9007199254740991}});
  h.agreed(expert, client, "phase", {{"to", "active"}});
  const auto call_start = h.now + 2 * day;
  const auto call = h.must(client, "proposal",
                           proposal("call", {{"slots", boost::json::array{
                                                           boost::json::object{{"start", call_start - day}, {"minutes", 30}},
                                                           boost::json::object{{"start", call_start}, {"minutes", 45}}}},
                                             {"link", "https://meet.example/abc"},
                                             {"tz", "Europe/Berlin"}}));
  h.must(expert, "decision", {{"proposal", call}, {"verdict", "accepted"}, {"slot", 1}});
  h.agreed(expert, client, "timeline", {{"due", h.now + 30 * day}});
  h.now = call_start - 10 * minute;
  h.watch();  // the call's reminder

  auto deliver = [&](std::string key, bool final = false) {
    boost::json::object body{{"deliverable", key},
                             {"text", key + " attached"},
                             {"files", boost::json::array{boost::json::object{{"sha256", hash_a}, {"name", key + ".pdf"}}}}};
    if (final) body["final"] = true;
    return h.must(expert, "delivery", body);
  };
  const auto report = deliver("report");
  const auto slides = deliver("slides");
  h.must(client, "revision_request", {{"delivery", slides}, {"text", "more charts please"}});
  const auto slides2 = deliver("slides");
  h.now += 2 * day + minute;
  h.watch();  // review_due_soon for both

  h.must(bot, "flag", {{"type", "risk"}, {"text", "the data source may go away"}});
  const auto delay = h.must(client, "flag", {{"type", "delay"}, {"text", "interviews slip"}});
  h.must(expert, "flag_update", {{"flag", delay}, {"state", "acknowledged"}});
  const auto dispute = h.must(client, "flag", {{"type", "dispute"}, {"text", "the slides miss the brief"}});
  const auto resolution = h.must(support_user, "proposal", proposal("resolution", {{"flag", dispute}, {"refund", 50}}),
                                 channel_type::mediation);
  h.must(client, "decision", accept(resolution), channel_type::mediation);
  h.must(client, "message", text("see the brief, page 2"), channel_type::mediation);
  h.must(expert, "message", text("understood"), channel_type::mediation);
  const auto compensation = h.must(client, "proposal", proposal("compensation", {{"amount", 250.75}, {"currency", "EUR"}}));
  const auto scope = h.must(expert, "proposal", proposal("scope_change", {{"add", "interviews"}}));
  h.must(client, "message", text("any news?"));
  h.must(bot, "status", text("deployed"));
  out.open = h.state;

  h.now += hour;
  h.must(expert, "decision", accept(resolution), channel_type::mediation);
  h.must(expert, "decision", accept(compensation));
  h.must(client, "decision", {{"proposal", scope}, {"verdict", "rejected"}});
  h.must(client, "decision", accept(report));
  h.must(client, "decision", accept(slides2));
  h.agreed(expert, client, "phase", {{"to", "completion"}});
  const auto final = deliver("handover", true);
  h.must(client, "decision", accept(final));  // closes the engagement
  h.now += day;
  h.must(client, "review", {{"ratings", {{"quality", 5}, {"communication", 4}, {"timeliness", 3}}},
                            {"text", "Clear, careful and on time."}});
  h.must(expert, "review", {{"ratings", {{"quality", 4}, {"communication", 5}, {"timeliness", 5}}},
                            {"text", "A client who knows what they want."}},
         channel_type::engagement, salt_b);
  auto reveal = plan_reveal(h.state, h.sealed);
  REQUIRE(reveal);
  h.commit(reveal->events);
  h.must(client, "message", text("thanks again"));
  out.closed = h.state;
  return out;
}

// ---- Field-by-field comparison, independent of the snapshot's JSON.

bool same(const engagement_flag& a, const engagement_flag& b) {
  return std::tie(a.seq, a.type, a.state, a.text, a.by, a.bytes) == std::tie(b.seq, b.type, b.state, b.text, b.by, b.bytes);
}
bool same(const engagement_proposal& a, const engagement_proposal& b) {
  return std::tie(a.seq, a.ch, a.topic, a.text, a.terms, a.by, a.by_side, a.accepted_by, a.accepted_sides, a.ts,
                  a.bytes) == std::tie(b.seq, b.ch, b.topic, b.text, b.terms, b.by, b.by_side, b.accepted_by,
                                       b.accepted_sides, b.ts, b.bytes);
}
bool same(const reply_debt& a, const reply_debt& b) {
  return std::tie(a.owing, a.since_seq, a.since_ts) == std::tie(b.owing, b.since_seq, b.since_ts);
}
bool same(const scheduled_call& a, const scheduled_call& b) {
  return std::tie(a.proposal, a.start, a.minutes, a.link, a.tz, a.reminded) ==
         std::tie(b.proposal, b.start, b.minutes, b.link, b.tz, b.reminded);
}
bool same(const deliverable& a, const deliverable& b) {
  return std::tie(a.key, a.version, a.seq, a.status, a.revisions_used, a.final, a.review_due, a.warned, a.by, a.text,
                  a.files) == std::tie(b.key, b.version, b.seq, b.status, b.revisions_used, b.final, b.review_due,
                                       b.warned, b.by, b.text, b.files);
}
bool same(const party_review& a, const party_review& b) {
  return std::tie(a.by, a.seq, a.commitment) == std::tie(b.by, b.seq, b.commitment);
}
bool same(const engagement_agreement& a, const engagement_agreement& b) {
  return a.terms == b.terms && a.version == b.version;
}
template <class T>
bool same(const T& a, const T& b) {
  return a == b;
}
template <class T>
bool same(const std::optional<T>& a, const std::optional<T>& b) {
  return a.has_value() == b.has_value() && (!a || same(*a, *b));
}
template <class T>
bool same(const std::shared_ptr<const T>& a, const std::shared_ptr<const T>& b) {
  return (a == nullptr) == (b == nullptr) && (!a || same(*a, *b));
}
template <class T>
bool same(const std::vector<std::shared_ptr<const T>>& a, const std::vector<std::shared_ptr<const T>>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!same(a[i], b[i])) return false;
  }
  return true;
}
template <class T, std::size_t N>
bool same(const std::array<std::optional<T>, N>& a, const std::array<std::optional<T>, N>& b) {
  for (std::size_t i = 0; i < N; ++i) {
    if (!same(a[i], b[i])) return false;
  }
  return true;
}
template <class K, class T>
bool same(const std::map<K, std::shared_ptr<const T>>& a, const std::map<K, std::shared_ptr<const T>>& b) {
  if (a.size() != b.size()) return false;
  for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j) {
    if (i->first != j->first || !same(i->second, j->second)) return false;
  }
  return true;
}

// The fields in which two states differ.
std::vector<std::string> differences(const engagement_state& a, const engagement_state& b) {
  std::vector<std::string> out;
  auto field = [&](bool equal, const char* name) {
    if (!equal) out.emplace_back(name);
  };
  field(same(a.eng, b.eng), "eng");
  field(same(a.phase, b.phase), "phase");
  field(same(a.phase_since_ms, b.phase_since_ms), "phase_since_ms");
  field(same(a.invitation, b.invitation), "invitation");
  field(same(a.acknowledged_by, b.acknowledged_by), "acknowledged_by");
  field(same(a.agreement, b.agreement), "agreement");
  field(same(a.agreement_accepted, b.agreement_accepted), "agreement_accepted");
  field(same(a.flags, b.flags), "flags");
  field(same(a.proposals, b.proposals), "proposals");
  field(same(a.open_proposal_bytes, b.open_proposal_bytes), "open_proposal_bytes");
  field(same(a.open_flag_bytes, b.open_flag_bytes), "open_flag_bytes");
  field(same(a.last_flag_seq, b.last_flag_seq), "last_flag_seq");
  field(same(a.last_proposal_seq, b.last_proposal_seq), "last_proposal_seq");
  field(same(a.mediation_open, b.mediation_open), "mediation_open");
  field(same(a.mediation_exists, b.mediation_exists), "mediation_exists");
  field(same(a.owed_reply, b.owed_reply), "owed_reply");
  field(same(a.last_status_ts, b.last_status_ts), "last_status_ts");
  field(same(a.agreed_due, b.agreed_due), "agreed_due");
  field(same(a.expired_proposals, b.expired_proposals), "expired_proposals");
  field(same(a.calls, b.calls), "calls");
  field(same(a.deliverables, b.deliverables), "deliverables");
  field(same(a.last_delivery_seq, b.last_delivery_seq), "last_delivery_seq");
  field(same(a.last_speaker, b.last_speaker), "last_speaker");
  field(same(a.reviews, b.reviews), "reviews");
  field(same(a.revealed_reviews, b.revealed_reviews), "revealed_reviews");
  field(same(a.reply_miss_posted, b.reply_miss_posted), "reply_miss_posted");
  field(same(a.status_miss_posted, b.status_miss_posted), "status_miss_posted");
  field(same(a.phase_miss_posted, b.phase_miss_posted), "phase_miss_posted");
  field(same(a.phase_miss_due, b.phase_miss_due), "phase_miss_due");
  field(same(a.applied, b.applied), "applied");
  return out;
}

claims reader_of(const user& u) { return claims{u, {u.role == user_role::support ? "*" : "42"}, 0, std::nullopt}; }

// The snapshot read back is the state: field by field, in its snapshot, in
// every reader's state object and in its revision.
void check_round_trip(const engagement_state& s) {
  const auto text = snapshot_text(s);
  auto restored = parse_snapshot(text);
  REQUIRE(restored);
  CHECK(differences(*restored, s) == std::vector<std::string>{});
  CHECK(snapshot_text(*restored) == text);
  const phase_limits limits;
  CHECK(boost::json::serialize(shared_state_json(*restored, limits)) ==
        boost::json::serialize(shared_state_json(s, limits)));
  for (const auto* who : {&client, &expert, &support_user}) {
    CHECK(boost::json::serialize(state_json(*restored, limits, reader_of(*who))) ==
          boost::json::serialize(state_json(s, limits, reader_of(*who))));
  }
  CHECK(state_revision(*restored) == state_revision(s));
}

// The objects of a snapshot that stand for a struct (the root, the flags, ...):
// each member of theirs is required, unlike the keys of a map or of terms.
std::vector<boost::json::object*> struct_objects(boost::json::object& root) {
  std::vector<boost::json::object*> out{&root};
  for (const char* single : {"agreement", "owed_reply"}) {
    if (root.at(single).is_object()) out.push_back(&root.at(single).as_object());
  }
  for (const char* list : {"flags", "proposals", "calls", "deliverables", "reviews"}) {
    for (auto& item : root.at(list).as_array()) {
      if (item.is_object()) out.push_back(&item.as_object());
    }
  }
  return out;
}

// A value of another JSON type than `v`.
boost::json::value wrong_type(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::string: return 7;
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_: return "7";
    case boost::json::kind::bool_: return "true";
    case boost::json::kind::null: return "x";
    case boost::json::kind::array: return boost::json::object{};
    case boost::json::kind::object: return boost::json::array{};
  }
  return nullptr;
}

}  // namespace

TEST_CASE("a state rich in every field round-trips through its snapshot exactly", "[snapshot]") {
  const auto hist = make_history();
  const auto& open = hist.open;
  const auto& closed = hist.closed;

  // The history reached what the test is about.
  REQUIRE(open.invitation);
  REQUIRE(open.acknowledged_by.size() == 2);
  REQUIRE(open.agreement);
  REQUIRE(open.agreement_accepted);
  REQUIRE(open.flags.size() == 3);
  REQUIRE(std::any_of(open.flags.begin(), open.flags.end(),
                      [](const auto& kv) { return kv.second->state == "acknowledged"; }));
  REQUIRE(open.proposals.size() == 3);
  const auto& party_proposal = *open.proposals.begin()->second;  // eng:42 sorts before eng:42:mediation
  const auto& partial = *std::prev(open.proposals.end())->second;
  REQUIRE(partial.topic == "resolution");
  REQUIRE_FALSE(partial.by_side);
  REQUIRE(partial.accepted_sides.size() == 1);
  REQUIRE(partial.accepted_by.size() == 1);
  REQUIRE(party_proposal.by_side);
  REQUIRE(open.open_proposal_bytes > 0);
  REQUIRE(open.open_flag_bytes > 0);
  REQUIRE(open.mediation_open);
  REQUIRE(open.expired_proposals);
  REQUIRE(open.calls.size() == 1);
  REQUIRE(open.calls.front()->reminded);
  REQUIRE(open.deliverables.size() == 2);
  REQUIRE(open.deliverables.at("slides")->review_due);
  REQUIRE(open.deliverables.at("slides")->warned);
  REQUIRE(open.deliverables.at("slides")->revisions_used == 1);
  REQUIRE(open.owed_reply);
  REQUIRE(open.last_status_ts);
  REQUIRE(open.agreed_due);
  REQUIRE(open.reply_miss_posted);
  REQUIRE(open.status_miss_posted);
  REQUIRE(open.phase_miss_posted);
  REQUIRE(open.phase_miss_due);
  REQUIRE(open.applied.size() == 2);
  REQUIRE(closed.phase == engagement_phase::closed);
  REQUIRE(closed.reviews[0]);
  REQUIRE(closed.reviews[1]);
  REQUIRE(closed.revealed_reviews);
  REQUIRE(closed.revealed_reviews->size() == 2);

  SECTION("at the height of the engagement") { check_round_trip(open); }
  SECTION("closed, with its reviews revealed") { check_round_trip(closed); }
  SECTION("with every field set at once") {
    auto all = closed;
    all.flags = open.flags;
    all.open_flag_bytes = open.open_flag_bytes;
    all.proposals = open.proposals;
    all.open_proposal_bytes = open.open_proposal_bytes;
    all.owed_reply = open.owed_reply;
    all.mediation_open = true;
    all.deliverables = open.deliverables;
    check_round_trip(all);
  }
}

TEST_CASE("a snapshot and the events after it give the state of the full replay, at every cut", "[snapshot]") {
  const auto hist = make_history();
  const auto& log = hist.h.log;
  REQUIRE(log.size() > 50);
  REQUIRE(std::count_if(log.begin(), log.end(), [](const event& e) { return e.ch == "eng:42:mediation"; }) >= 5);
  const auto full = snapshot_text(hist.closed);

  for (std::size_t k = 0; k <= log.size(); ++k) {
    CAPTURE(k);
    engagement_state before = new_engagement("42", t0);
    for (std::size_t i = 0; i < k; ++i) apply(before, log[i]);
    const auto text = snapshot_text(before);
    auto restored = parse_snapshot(text);
    REQUIRE(restored);
    CHECK(differences(*restored, before) == std::vector<std::string>{});
    // What the snapshot reflects is ignored when it comes again.
    for (std::size_t i = 0; i < k; ++i) CHECK_FALSE(apply(*restored, log[i]));
    CHECK(snapshot_text(*restored) == text);
    for (std::size_t i = k; i < log.size(); ++i) CHECK(apply(*restored, log[i]));
    CHECK(snapshot_text(*restored) == full);
    CHECK(differences(*restored, hist.closed) == std::vector<std::string>{});
  }
}

TEST_CASE("a fresh engagement round-trips through its snapshot", "[snapshot]") {
  const auto fresh = new_engagement("7", t0);
  check_round_trip(fresh);
  auto json = boost::json::parse(snapshot_text(fresh)).as_object();
  CHECK(json.at("format") == snapshot_format);
  CHECK(json.at("invitation").is_null());
  CHECK(json.at("last_status_ts").is_null());
}

TEST_CASE("every field of the state is in its snapshot, an absent optional apart from a zero one", "[snapshot]") {
  using mutation = std::function<void(engagement_state&)>;
  const std::vector<std::pair<const char*, mutation>> mutations{
      {"eng", [](auto& s) { s.eng = "43"; }},
      {"phase", [](auto& s) { s.phase = engagement_phase::completion; }},
      {"phase_since_ms", [](auto& s) { s.phase_since_ms += 1; }},
      {"invitation", [](auto& s) {
         s.invitation = std::make_shared<const boost::json::object>(parse_invitation(invitation_body).value());
       }},
      {"acknowledged_by", [](auto& s) { s.acknowledged_by["nda"] = {"c1"}; }},
      {"acknowledged_by, empty", [](auto& s) { s.acknowledged_by["nda"] = {}; }},
      {"agreement, empty", [](auto& s) { s.agreement = std::make_shared<const engagement_agreement>(); }},
      {"agreement_accepted", [](auto& s) { s.agreement_accepted = true; }},
      {"flags", [](auto& s) {
         s.flags[0] = std::make_shared<const engagement_flag>();
       }},
      {"flags and their bytes", [](auto& s) {
         s.flags[3] = std::make_shared<const engagement_flag>(engagement_flag{3, "risk", "open", "t", "c1", 3});
         s.open_flag_bytes = 3;
       }},
      {"proposals", [](auto& s) { s.proposals[{"", 0}] = std::make_shared<const engagement_proposal>(); }},
      {"proposals and their bytes", [](auto& s) {
         engagement_proposal pr;
         pr.seq = 4;
         pr.ch = "eng:42";
         pr.by_side = side::expert;
         pr.accepted_sides = {side::client};
         pr.bytes = 9;
         s.proposals[{pr.ch, pr.seq}] = std::make_shared<const engagement_proposal>(pr);
         s.open_proposal_bytes = 9;
       }},
      {"last_flag_seq", [](auto& s) { s.last_flag_seq = 3; }},
      {"last_proposal_seq", [](auto& s) { s.last_proposal_seq["eng:42"] = 0; }},
      {"mediation_open", [](auto& s) { s.mediation_open = true; }},
      {"mediation_exists", [](auto& s) { s.mediation_exists = true; }},
      {"owed_reply", [](auto& s) { s.owed_reply = reply_debt{}; }},
      {"last_status_ts", [](auto& s) { s.last_status_ts = 0; }},
      {"agreed_due", [](auto& s) { s.agreed_due = 0; }},
      {"expired_proposals, empty", [](auto& s) {
         s.expired_proposals = std::make_shared<const std::set<std::pair<bool, std::int64_t>>>();
       }},
      {"expired_proposals", [](auto& s) {
         s.expired_proposals =
             std::make_shared<const std::set<std::pair<bool, std::int64_t>>>(std::set<std::pair<bool, std::int64_t>>{
                 {false, 3}, {true, 3}});
       }},
      {"calls", [](auto& s) { s.calls.push_back(std::make_shared<const scheduled_call>()); }},
      {"deliverables", [](auto& s) { s.deliverables[""] = std::make_shared<const deliverable>(); }},
      {"deliverables, review_due 0", [](auto& s) {
         deliverable d;
         d.review_due = 0;
         s.deliverables[""] = std::make_shared<const deliverable>(d);
       }},
      {"last_delivery_seq", [](auto& s) { s.last_delivery_seq = 1; }},
      {"last_speaker", [](auto& s) { s.last_speaker[1] = "e1"; }},
      {"reviews", [](auto& s) { s.reviews[1] = party_review{}; }},
      {"revealed_reviews, empty", [](auto& s) { s.revealed_reviews = std::make_shared<const boost::json::array>(); }},
      {"reply_miss_posted", [](auto& s) { s.reply_miss_posted = 0; }},
      {"status_miss_posted", [](auto& s) { s.status_miss_posted = 0; }},
      {"phase_miss_posted", [](auto& s) { s.phase_miss_posted = std::make_pair(engagement_phase::discovery, 0); }},
      {"phase_miss_due", [](auto& s) { s.phase_miss_due = 0; }},
      {"applied", [](auto& s) { s.applied["eng:42"] = 0; }},
  };
  const auto fresh = new_engagement("42", t0);
  const auto fresh_text = snapshot_text(fresh);
  std::set<std::string> texts{fresh_text};
  for (const auto& [name, mutate] : mutations) {
    CAPTURE(name);
    auto s = fresh;
    mutate(s);
    REQUIRE_FALSE(differences(s, fresh).empty());
    const auto text = snapshot_text(s);
    CHECK(text != fresh_text);
    CHECK(texts.insert(text).second);
    auto restored = parse_snapshot(text);
    REQUIRE(restored);
    CHECK(differences(*restored, s) == std::vector<std::string>{});
    CHECK(snapshot_text(*restored) == text);
  }
}

TEST_CASE("a snapshot shares nothing with the state it was read from, and null values stay null", "[snapshot]") {
  const auto hist = make_history();
  auto restored = parse_snapshot(snapshot_text(hist.open));
  REQUIRE(restored);
  CHECK(restored->invitation != hist.open.invitation);
  CHECK(restored->flags.begin()->second != hist.open.flags.begin()->second);
  CHECK(restored->calls.front() != hist.open.calls.front());
  auto fresh = parse_snapshot(snapshot_text(new_engagement("42", t0)));
  REQUIRE(fresh);
  CHECK_FALSE(fresh->invitation);
  CHECK_FALSE(fresh->agreement);
  CHECK_FALSE(fresh->expired_proposals);
  CHECK_FALSE(fresh->revealed_reviews);
}

TEST_CASE("a first-use engagement's snapshot stays apart from an invited one's", "[snapshot]") {
  harness first_use;
  first_use.commit({opening_event("42", t0)});
  harness invited;
  invited.commit(invitation_events("42", parse_invitation(invitation_body).value(), t0));

  const auto first_text = snapshot_text(first_use.state);
  const auto invited_text = snapshot_text(invited.state);
  CHECK(first_text != invited_text);
  auto first = parse_snapshot(first_text);
  auto inv = parse_snapshot(invited_text);
  REQUIRE(first);
  REQUIRE(inv);
  CHECK_FALSE(first->invitation);
  REQUIRE(inv->invitation);
  CHECK(*inv->invitation == *invited.state.invitation);
  CHECK(inv->phase == engagement_phase::invited);
  CHECK(first->phase == engagement_phase::discovery);
  CHECK_FALSE(named_party(*first, side::expert));
  CHECK(named_party(*inv, side::expert) == std::optional<std::string_view>("e1"));
  check_round_trip(first_use.state);
  check_round_trip(invited.state);
}

TEST_CASE("a text that is no snapshot of this format gives none, whatever is wrong with it", "[snapshot]") {
  const auto hist = make_history();
  auto all = hist.closed;
  all.flags = hist.open.flags;
  all.open_flag_bytes = hist.open.open_flag_bytes;
  all.proposals = hist.open.proposals;
  all.open_proposal_bytes = hist.open.open_proposal_bytes;
  all.owed_reply = hist.open.owed_reply;
  const auto valid = snapshot_text(all);
  REQUIRE(parse_snapshot(valid));
  const auto valid_json = boost::json::parse(valid).as_object();
  auto none = [](const std::string& text) {
    std::optional<engagement_state> out;
    CHECK_NOTHROW(out = parse_snapshot(text));
    return !out.has_value();
  };
  auto edited = [&](const std::function<void(boost::json::object&)>& edit) {
    auto o = valid_json;
    edit(o);
    return boost::json::serialize(o);
  };

  SECTION("not a snapshot at all") {
    for (const char* text : {"", " ", "not json", "[]", "{}", "null", "1", "\"snapshot\"", "{\"format\":1}"}) {
      CAPTURE(text);
      CHECK(none(text));
    }
    CHECK(none(valid + "x"));
    CHECK(none(valid + valid));
  }
  SECTION("another format") {
    CHECK(none(edited([](auto& o) { o["format"] = snapshot_format + 1; })));
    CHECK(none(edited([](auto& o) { o["format"] = 0; })));
    CHECK(none(edited([](auto& o) { o["format"] = "1"; })));
    CHECK(none(edited([](auto& o) { o["format"] = 1.0; })));
    CHECK(none(edited([](auto& o) { o.erase("format"); })));
  }
  SECTION("a field missing, of the wrong type, or one too many, in any part of it") {
    auto probe = valid_json;
    const auto parts = struct_objects(probe).size();
    REQUIRE(parts > 10);
    for (std::size_t part = 0; part < parts; ++part) {
      auto copy = valid_json;
      auto keys = std::vector<std::string>();
      for (const auto& kv : *struct_objects(copy)[part]) keys.emplace_back(kv.key());
      for (const auto& key : keys) {
        CAPTURE(part, key);
        CHECK(none(edited([&](auto& o) { struct_objects(o)[part]->erase(key); })));
        CHECK(none(edited([&](auto& o) {
          auto& v = (*struct_objects(o)[part])[key];
          v = wrong_type(v);
        })));
      }
      CAPTURE(part);
      CHECK(none(edited([&](auto& o) { (*struct_objects(o)[part])["surplus"] = 1; })));
    }
  }
  SECTION("values a state cannot hold") {
    CHECK(none(edited([](auto& o) { o["phase"] = "paused"; })));
    CHECK(none(edited([](auto& o) { o["owed_reply"].as_object()["owing"] = "support"; })));
    CHECK(none(edited([](auto& o) { o["flags"].as_array()[0].as_object()["bytes"] = -1; })));
    CHECK(none(edited([](auto& o) { o["open_flag_bytes"] = o["open_flag_bytes"].as_int64() + 1; })));
    CHECK(none(edited([](auto& o) { o["open_proposal_bytes"] = 0; })));
    CHECK(none(edited([](auto& o) { o["flags"].as_array().push_back(o["flags"].as_array()[0]); })));
    CHECK(none(edited([](auto& o) { o["proposals"].as_array().push_back(o["proposals"].as_array()[0]); })));
    CHECK(none(edited([](auto& o) { o["deliverables"].as_array().push_back(o["deliverables"].as_array()[0]); })));
    CHECK(none(edited([](auto& o) { o["reviews"].as_array().push_back(nullptr); })));
    CHECK(none(edited([](auto& o) { o["last_speaker"].as_array().pop_back(); })));
    CHECK(none(edited([](auto& o) { o["phase_miss_posted"] = boost::json::array{"closed"}; })));
    CHECK(none(edited([](auto& o) { o["expired_proposals"] = boost::json::array{boost::json::array{1, 2}}; })));
    CHECK(none(edited([](auto& o) { o["calls"].as_array().push_back(nullptr); })));
    CHECK(none(edited([](auto& o) { o["applied"].as_object()["eng:42"] = "12"; })));
    CHECK(none(edited([](auto& o) { o["agreement"].as_object()["version"] = std::int64_t{1} << 40; })));
    CHECK(none(edited([](auto& o) { o["invitation"].as_object().erase("client"); })));
    CHECK(none(edited([](auto& o) {
      auto& calls = o["calls"].as_array();
      auto earlier = calls[0];
      earlier.as_object()["start"] = earlier.as_object()["start"].as_int64() - 1;
      calls.push_back(earlier);
    })));
  }
  SECTION("every truncation of a snapshot") {
    for (std::size_t n = 0; n < valid.size(); ++n) {
      CAPTURE(n);
      CHECK(none(valid.substr(0, n)));
    }
  }
}
