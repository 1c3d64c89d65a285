#include "protocol/requirements.hpp"

#include "protocol/engagement_detail.hpp"

#include <algorithm>

namespace parley {
using detail::conflict;
using detail::forbidden;
using detail::ids_json;
using detail::not_found;
using detail::string_field;

namespace {

const boost::json::object* find_requirement(const engagement_state& s, std::string_view key) {
  for (const auto& r : requirements_of(s)) {
    if (r.as_object().at("key").as_string() == key) return &r.as_object();
  }
  return nullptr;
}

// The sides a requirement names in `by` (client first: the invitation is normalised so).
std::vector<side> sides_of(const boost::json::object& requirement) {
  std::vector<side> out;
  for (const auto& role : requirement.at("by").as_array()) {
    out.push_back(role.as_string() == side_name(side::client) ? side::client : side::expert);
  }
  return out;
}

bool acknowledged(const engagement_state& s, std::string_view key, std::string_view user_id) {
  auto it = s.acknowledged_by.find(std::string(key));
  return it != s.acknowledged_by.end() && std::find(it->second.begin(), it->second.end(), user_id) != it->second.end();
}

// "the client", "the expert" or "the client and the expert".
std::string sides_text(const std::vector<side>& sides) {
  std::string out;
  for (auto s : sides) out += (out.empty() ? "the " : " and the ") + std::string(side_name(s));
  return out;
}

}  // namespace

bool is_requirement_key(std::string_view key) {
  return !key.empty() && key.size() <= max_requirement_key_chars && std::all_of(key.begin(), key.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
         });
}

const boost::json::array& requirements_of(const engagement_state& s) {
  static const boost::json::array none;
  if (!s.invitation) return none;
  const auto* reqs = s.invitation->if_contains("requirements");
  return reqs && reqs->is_array() ? reqs->get_array() : none;
}

result<engagement_proposal> check_acknowledgement(const engagement_state& s, const user& actor,
                                                  const post_request& p) {
  // Requirements belong to the agreement and the work: not before the
  // invitation is accepted (the `invited` rule answers that), not once closed.
  if (s.phase == engagement_phase::closed) return conflict("the engagement is closed");
  const auto key = string_field(p.body, "key").value_or("");
  const auto* requirement = find_requirement(s, key);
  if (!requirement) return not_found("no requirement '" + std::string(key) + "' in engagement " + s.eng);
  const auto sides = sides_of(*requirement);
  const auto actor_side = side_of(actor.role);
  if (!actor_side || std::find(sides.begin(), sides.end(), *actor_side) == sides.end()) {
    return forbidden("requirement '" + std::string(key) + "' is acknowledged by " + sides_text(sides));
  }
  if (acknowledged(s, key, actor.id)) {
    return conflict("the " + std::string(side_name(*actor_side)) + " already acknowledged requirement '" +
                    std::string(key) + "'");
  }
  engagement_proposal recorded;
  recorded.ch = p.ch.name();
  recorded.topic = "acknowledgement";
  recorded.text = std::string(string_field(p.body, "text").value_or(""));
  recorded.terms = {{"key", requirement->at("key")}, {"title", requirement->at("title")}};
  recorded.by = actor.id;
  recorded.by_side = actor_side;
  return recorded;
}

result<void> check_requirements_met(const engagement_state& s) {
  std::string missing;
  for (const auto& r : requirements_of(s)) {
    const auto& requirement = r.as_object();
    const std::string_view key = requirement.at("key").as_string();
    for (auto party : sides_of(requirement)) {
      auto named = named_party(s, party);
      if (named && acknowledged(s, key, *named)) continue;
      missing += (missing.empty() ? "" : ", ") + std::string("'") + std::string(key) + "' by the " +
                 std::string(side_name(party));
    }
  }
  if (missing.empty()) return {};
  return conflict("entering active needs every requirement acknowledged; missing: " + missing);
}

void apply_acknowledgement(engagement_state& s, const event& ev) {
  const auto key = string_field(ev.body, "key");
  if (!key || !find_requirement(s, *key) || acknowledged(s, *key, ev.from.id)) return;
  s.acknowledged_by[std::string(*key)].push_back(ev.from.id);
}

boost::json::array requirements_json(const engagement_state& s) {
  boost::json::array out;
  for (const auto& r : requirements_of(s)) {
    auto item = r.as_object();
    auto it = s.acknowledged_by.find(std::string(item.at("key").as_string()));
    item["acknowledged_by"] = it == s.acknowledged_by.end() ? boost::json::array() : ids_json(it->second);
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace parley
