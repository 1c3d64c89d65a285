#include "protocol/engagement.hpp"

#include "protocol/calls.hpp"
#include "protocol/can.hpp"
#include "protocol/deliveries.hpp"
#include "protocol/engagement_detail.hpp"
#include "protocol/requirements.hpp"
#include "protocol/reviews.hpp"

#include <boost/json/serialize.hpp>

#include <array>

namespace parley {
using detail::ids_json;
using detail::make_event;
using detail::not_found;

namespace {

constexpr std::array<std::string_view, 7> phase_names = {"invited", "discovery", "agreement", "active",
                                                         "completion", "closed", "declined"};

// The cid of an engagement's opening event: a retried opening appends nothing.
constexpr std::string_view opening_cid = "engagement:opened";

}  // namespace

std::string_view phase_name(engagement_phase p) { return phase_names[static_cast<std::size_t>(p)]; }

std::optional<engagement_phase> parse_phase(std::string_view name) {
  for (std::size_t i = 0; i < phase_names.size(); ++i) {
    if (phase_names[i] == name) return static_cast<engagement_phase>(i);
  }
  return std::nullopt;
}

std::string_view side_name(side s) { return s == side::client ? "client" : "expert"; }

std::optional<side> side_of(user_role r) {
  if (r == user_role::client) return side::client;
  if (r == user_role::expert) return side::expert;
  return std::nullopt;
}

std::optional<std::int64_t> phase_limits::of(engagement_phase p) const {
  switch (p) {
    case engagement_phase::invited: return invited_ms;
    case engagement_phase::discovery: return discovery_ms;
    case engagement_phase::agreement: return agreement_ms;
    case engagement_phase::active: return active_ms;
    case engagement_phase::completion: return completion_ms;
    case engagement_phase::closed:
    case engagement_phase::declined: return std::nullopt;
  }
  return std::nullopt;
}

engagement_state new_engagement(std::string eng, std::int64_t now_ms) {
  engagement_state s;
  s.eng = std::move(eng);
  s.phase = engagement_phase::discovery;
  s.phase_since_ms = now_ms;
  return s;
}

std::optional<std::int64_t> phase_due(const engagement_state& s, const phase_limits& limits) {
  if (s.phase == engagement_phase::active && s.agreed_due) return *s.agreed_due;
  auto bound = limits.of(s.phase);
  if (!bound) return std::nullopt;
  return s.phase_since_ms + *bound;
}

std::size_t content_bytes(std::string_view text, const boost::json::object* terms) {
  std::size_t bytes = boost::json::serialize(boost::json::string_view(text)).size();
  if (terms) bytes += boost::json::serialize(*terms).size();
  return bytes;
}

std::optional<std::string_view> named_party(const engagement_state& s, side party) {
  if (!s.invitation) return std::nullopt;
  const auto& who = s.invitation->at(side_name(party)).as_object();
  return std::string_view(who.at("id").as_string());
}

namespace {

// §9.9 additions: title, details, parties, requirements and settings, from the
// invitation (null, null, null, [] and the defaults for a first-use engagement).
void add_invitation_json(boost::json::object& o, const engagement_state& s) {
  if (!s.invitation) {
    o["title"] = nullptr;
    o["details"] = nullptr;
    o["parties"] = nullptr;
    o["requirements"] = boost::json::array();
    o["settings"] = boost::json::object{{"revisions", default_settings_revisions},
                                        {"review_days", default_settings_review_days}};
    return;
  }
  const auto& inv = *s.invitation;
  o["title"] = inv.at("title");
  o["details"] = inv.at("details");
  o["parties"] = boost::json::object{{"client", inv.at("client")}, {"expert", inv.at("expert")}};
  o["requirements"] = requirements_json(s);
  o["settings"] = inv.at("settings");
}

}  // namespace

std::int64_t state_revision(const engagement_state& s) {
  std::int64_t sum = 0;
  for (const auto& [ch, seq] : s.applied) sum += seq;
  return sum;
}

boost::json::object shared_state_json(const engagement_state& s, const phase_limits& limits,
                                      std::optional<std::int64_t> reply_due) {
  boost::json::object o;
  o["revision"] = state_revision(s);
  o["phase"] = phase_name(s.phase);
  o["phase_since"] = s.phase_since_ms;
  if (auto due = phase_due(s, limits)) {
    o["phase_due"] = *due;
  } else {
    o["phase_due"] = nullptr;
  }
  if (s.agreement) {
    o["agreement"] = boost::json::object{{"terms", s.agreement->terms}, {"version", s.agreement->version}};
  } else {
    o["agreement"] = nullptr;
  }
  boost::json::array flags;
  for (const auto& [seq, flag] : s.flags) {
    const auto& f = *flag;
    flags.push_back(
        boost::json::object{{"seq", f.seq}, {"type", f.type}, {"state", f.state}, {"text", f.text}, {"by", f.by}});
  }
  o["open_flags"] = std::move(flags);
  boost::json::array proposals;
  for (const auto& [key, proposal] : s.proposals) {
    const auto& pr = *proposal;
    proposals.push_back(boost::json::object{{"seq", pr.seq},
                                            {"ch", pr.ch},
                                            {"topic", pr.topic},
                                            {"text", pr.text},
                                            {"terms", pr.terms},
                                            {"by", pr.by},
                                            {"accepted_by", ids_json(pr.accepted_by)}});
  }
  o["open_proposals"] = std::move(proposals);
  if (s.owed_reply) {
    o["owed_reply"] = boost::json::object{{"side", side_name(s.owed_reply->owing)},
                                          {"since_seq", s.owed_reply->since_seq},
                                          {"since_ts", s.owed_reply->since_ts}};
    if (reply_due) o["owed_reply"].as_object()["due"] = *reply_due;
  } else {
    o["owed_reply"] = nullptr;
  }
  if (s.last_status_ts) {
    o["last_status_ts"] = *s.last_status_ts;
  } else {
    o["last_status_ts"] = nullptr;
  }
  if (s.agreed_due) {
    o["due"] = *s.agreed_due;
  } else {
    o["due"] = nullptr;
  }
  add_invitation_json(o, s);
  o["calls"] = calls_json(s);
  o["deliverables"] = deliverables_json(s);
  if (auto reviews = reviews_state_json(s, limits.review_period_ms)) o["reviews"] = std::move(*reviews);
  return o;
}

// `can` comes last, so that the shared part is a prefix of every reader's state.
boost::json::object state_json(const engagement_state& s, const phase_limits& limits, const claims& reader,
                               const engagement_limits& open_limits, std::optional<std::int64_t> reply_due) {
  auto o = shared_state_json(s, limits, reply_due);
  o["can"] = ids_json(can(s, reader, open_limits));
  return o;
}

state_push_frames::state_push_frames(const engagement_state& s, const phase_limits& limits,
                                     std::optional<std::int64_t> reply_due)
    : head_(boost::json::serialize(boost::json::object{
          {"ev", "state"}, {"eng", s.eng}, {"state", shared_state_json(s, limits, reply_due)}})) {
  // Serialised as `…"state":{…}}`: drop both closing braces. The shared state
  // is never empty, so `can` follows a comma.
  head_.resize(head_.size() - 2);
}

std::string state_push_frames::frame(const std::vector<std::string>& can) const {
  const auto actions = boost::json::serialize(ids_json(can));
  std::string out;
  out.reserve(head_.size() + actions.size() + 10);
  out.append(head_).append(",\"can\":").append(actions).append("}}");
  return out;
}

event opening_event(std::string_view eng, std::int64_t now_ms) {
  event ev = make_event(channel::main(eng), "phase", system_user(),
                        boost::json::object{{"from", nullptr}, {"to", phase_name(engagement_phase::discovery)}},
                        std::string(opening_cid));
  ev.ts = now_ms;
  return ev;
}

bool is_workflow(std::string_view kind) { return kind != "message" && kind != "status"; }

std::array<std::string, 2> guarded_channels(std::string_view eng) {
  return {channel::main(eng), channel::mediation(eng)};
}

std::int64_t applied_seq(const engagement_state& s, const std::string& ch) {
  auto it = s.applied.find(ch);
  return it == s.applied.end() ? std::int64_t{0} : it->second;
}

std::vector<std::pair<std::string, std::int64_t>> guarded_heads(const engagement_state& s) {
  std::vector<std::pair<std::string, std::int64_t>> heads;
  for (auto& ch : guarded_channels(s.eng)) {
    auto seq = applied_seq(s, ch);
    heads.emplace_back(std::move(ch), seq);
  }
  return heads;
}

error engagement_not_found(std::string_view eng) {
  return not_found("engagement " + std::string(eng) + " does not exist");
}

}  // namespace parley
