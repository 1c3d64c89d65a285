#include "protocol/can.hpp"

#include "protocol/access.hpp"
#include "protocol/frame.hpp"
#include "protocol/requirements.hpp"

#include <array>
#include <set>
#include <string_view>

namespace parley {
namespace {

constexpr std::array<std::string_view, 5> flag_types = {"delay", "scope_change", "dispute", "risk", "blocker"};
constexpr std::array<std::string_view, 6> plain_topics = {"agreement", "scope_change", "timeline", "compensation",
                                                          "phase", "call"};
constexpr std::array<engagement_phase, 5> phases = {engagement_phase::discovery, engagement_phase::agreement,
                                                    engagement_phase::active, engagement_phase::completion,
                                                    engagement_phase::closed};

// Candidate posts are checked exactly as the server checks a client's post.
struct candidate_checker {
  const engagement_state& s;
  const claims& reader;
  const engagement_limits& limits;

  bool accepted(channel_type where, std::string_view kind, const boost::json::object& body) const {
    const channel ch{where, s.eng};
    if (!check_post(reader, ch, kind)) return false;
    auto valid = validate_body(kind, body);
    if (!valid) return false;
    post_request p{ch, std::string(kind), std::move(valid.value()), {}, std::nullopt};
    return check(s, reader.who, p, limits).ok();
  }
  // Accepted in either of the engagement's channels.
  bool accepted_anywhere(std::string_view kind, const boost::json::object& body) const {
    return accepted(channel_type::engagement, kind, body) || accepted(channel_type::mediation, kind, body);
  }
};

boost::json::object proposal(std::string_view topic, boost::json::object terms) {
  return {{"topic", topic}, {"text", topic}, {"terms", std::move(terms)}};
}

bool may_propose(const candidate_checker& c, std::string_view topic) {
  // A candidate has no clock (checked_at 0): any start is in its future.
  if (topic == "call") {
    boost::json::array slots{boost::json::object{{"start", 1}, {"minutes", 15}}};
    return c.accepted_anywhere("proposal", proposal(topic, {{"slots", std::move(slots)}}));
  }
  if (topic != "phase") return c.accepted_anywhere("proposal", proposal(topic, {}));
  for (auto to : phases) {
    if (c.accepted_anywhere("proposal", proposal(topic, {{"to", phase_name(to)}}))) return true;
  }
  return false;
}

// `deliver`: a new version of an existing deliverable (or, with none yet, of
// a first one) would be accepted. Its file stands for one the server resolved.
bool may_deliver(const candidate_checker& c) {
  const std::string key = c.s.deliverables.empty() ? "deliverable" : c.s.deliverables.begin()->first;
  boost::json::array files{boost::json::object{{"sha256", std::string(64, '0')}, {"name", "."}}};
  return c.accepted(channel_type::engagement, "delivery",
                    {{"deliverable", key}, {"text", "."}, {"files", std::move(files)}});
}

// decide:<seq> and revise:<seq> for the latest version of each deliverable.
void add_delivery_answers(const candidate_checker& c, std::set<std::string>& actions) {
  for (const auto& [key, d] : c.s.deliverables) {
    const auto seq = std::to_string(d->seq);
    if (c.accepted(channel_type::engagement, "decision", {{"proposal", d->seq}, {"verdict", "accepted"}})) {
      actions.insert("decide:" + seq);
    }
    if (c.accepted(channel_type::engagement, "revision_request", {{"delivery", d->seq}, {"text", "."}})) {
      actions.insert("revise:" + seq);
    }
  }
}

bool may_propose_resolution(const candidate_checker& c) {
  for (const auto& [seq, flag] : c.s.flags) {
    if (c.accepted_anywhere("proposal", proposal("resolution", {{"flag", seq}}))) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> can(const engagement_state& s, const claims& reader, const engagement_limits& limits) {
  const candidate_checker c{s, reader, limits};
  std::set<std::string> actions;
  if (c.accepted_anywhere("message", {{"text", "."}})) actions.insert("message");
  if (c.accepted_anywhere("status", {{"text", "."}})) actions.insert("status");
  for (auto type : flag_types) {
    if (c.accepted_anywhere("flag", {{"type", type}, {"text", "."}})) actions.insert("flag");
  }
  for (auto topic : plain_topics) {
    if (may_propose(c, topic)) actions.insert("propose:" + std::string(topic));
  }
  if (may_propose_resolution(c)) actions.insert("propose:resolution");
  for (const auto& [key, pr] : s.proposals) {
    const auto where = key.first == channel::mediation(s.eng) ? channel_type::mediation : channel_type::engagement;
    for (std::string_view verdict : {"accepted", "rejected"}) {
      boost::json::object decision{{"proposal", key.second}, {"verdict", verdict}};
      if (verdict == "accepted" && pr->topic == "call") decision["slot"] = 0;  // accepting a call picks a slot
      if (c.accepted(where, "decision", decision)) {
        actions.insert("decide:" + std::to_string(key.second));
      }
    }
  }
  for (const auto& [seq, flag] : s.flags) {
    if (c.accepted(channel_type::engagement, "flag_update", {{"flag", seq}, {"state", "resolved"}})) {
      actions.insert("resolve:" + std::to_string(seq));
    }
  }
  if (may_deliver(c)) actions.insert("deliver");
  add_delivery_answers(c, actions);
  // Any well-formed review: whether the reader may review now.
  boost::json::object ratings{{"quality", 5}, {"communication", 5}, {"timeliness", 5}};
  if (c.accepted(channel_type::engagement, "review", {{"ratings", std::move(ratings)}, {"text", "a candidate"}})) {
    actions.insert("review");
  }
  for (const auto& requirement : requirements_of(s)) {
    const auto& key = requirement.as_object().at("key");
    if (c.accepted(channel_type::engagement, "acknowledgement", {{"key", key}})) {
      actions.insert("acknowledge:" + std::string(key.as_string()));
    }
  }
  return {actions.begin(), actions.end()};
}

}  // namespace parley
