#include "protocol/invitation.hpp"

#include "protocol/channel.hpp"
#include "protocol/decision_log.hpp"
#include "protocol/engagement.hpp"
#include "protocol/frame.hpp"
#include "protocol/json_input.hpp"
#include "protocol/requirements.hpp"
#include "protocol/user.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <set>
#include <variant>

namespace parley {
using boost::json::array;
using boost::json::object;
using boost::json::value;
using detail::bad_request;
using detail::count_code_points;
using detail::too_large;

namespace {

constexpr std::size_t max_user_chars = 128;       // as a token's sub and name (protocol §2)
constexpr std::size_t max_terms_bytes = 16384;    // as a proposal's terms


template <std::size_t N>
result<void> only_keys(const object& o, std::string_view where, const std::array<std::string_view, N>& known) {
  for (const auto& kv : o) {
    if (std::find(known.begin(), known.end(), std::string_view(kv.key())) == known.end()) {
      return bad_request("unknown field " + std::string(where) + detail::display_name(kv.key()));
    }
  }
  return {};
}

// A string of min..max characters, or absent when optional.
result<std::optional<std::string>> text_field(const object& o, std::string_view name, std::string_view where,
                                              std::size_t min_chars, std::size_t max_chars, bool required) {
  const auto* v = o.if_contains(name);
  const std::string field = std::string(where) + std::string(name);
  if (!v) {
    if (required) return bad_request(field + " is required");
    return std::optional<std::string>{};
  }
  if (!v->is_string()) return bad_request(field + " must be a string");
  auto chars = count_code_points(v->get_string());
  if (chars > max_chars) return too_large(field + " exceeds " + std::to_string(max_chars) + " characters");
  if (chars < min_chars) return bad_request(field + " must have at least " + std::to_string(min_chars) + " characters");
  return std::optional<std::string>(std::string(v->get_string()));
}

// A named party: {id, name?}, the id like a token's sub.
result<object> party(const object& body, std::string_view name) {
  const auto* v = body.if_contains(name);
  if (!v) return bad_request(std::string(name) + " is required");
  if (!v->is_object()) return bad_request(std::string(name) + " must be an object {id, name?}");
  const auto& o = v->get_object();
  const std::string where = std::string(name) + ".";
  if (auto r = only_keys(o, where, std::array<std::string_view, 2>{"id", "name"}); !r) return r.err();
  auto id = text_field(o, "id", where, 1, max_user_chars, true);
  if (!id) return id.err();
  if (**id == system_user().id) return bad_request(where + "id '" + **id + "' is reserved for the server");
  auto display = text_field(o, "name", where, 1, max_user_chars, false);
  if (!display) return display.err();
  object out{{"id", **id}};
  if (*display) out["name"] = **display;
  return out;
}

result<object> requirement(const value& v, std::size_t at) {
  const std::string where = "requirements[" + std::to_string(at) + "].";
  if (!v.is_object()) return bad_request(where.substr(0, where.size() - 1) + " must be an object {key, title, by}");
  const auto& o = v.get_object();
  if (auto r = only_keys(o, where, std::array<std::string_view, 3>{"key", "title", "by"}); !r) return r.err();
  auto key = text_field(o, "key", where, 1, max_requirement_key_chars, true);
  if (!key) return key.err();
  if (!is_requirement_key(**key)) return bad_request(where + "key must match [a-z0-9_-]{1,64}");
  auto title = text_field(o, "title", where, 1, max_invitation_title_chars, true);
  if (!title) return title.err();
  const auto* by = o.if_contains("by");
  if (!by || !by->is_array() || by->get_array().empty() || by->get_array().size() > 2) {
    return bad_request(where + "by must list \"client\", \"expert\" or both");
  }
  // Kept in one order, so that ["expert","client"] and ["client","expert"] mean the same body.
  bool client = false, expert = false;
  for (const auto& side : by->get_array()) {
    if (!side.is_string()) return bad_request(where + "by must list \"client\", \"expert\" or both");
    bool& seen = side.get_string() == "client" ? client : expert;
    if ((side.get_string() != "client" && side.get_string() != "expert") || seen) {
      return bad_request(where + "by must list \"client\", \"expert\" or both, each once");
    }
    seen = true;
  }
  array sides;
  if (client) sides.emplace_back("client");
  if (expert) sides.emplace_back("expert");
  return object{{"key", **key}, {"title", **title}, {"by", std::move(sides)}};
}

result<array> requirements(const object& body) {
  const auto* v = body.if_contains("requirements");
  if (!v) return array{};
  if (!v->is_array()) return bad_request("requirements must be an array");
  if (v->get_array().size() > max_invitation_requirements) {
    return too_large("requirements hold at most " + std::to_string(max_invitation_requirements) + " items");
  }
  array out;
  std::set<std::string> keys;
  for (std::size_t i = 0; i < v->get_array().size(); ++i) {
    auto r = requirement(v->get_array()[i], i);
    if (!r) return r.err();
    std::string key(r->at("key").get_string());
    if (!keys.insert(key).second) return bad_request("requirement key '" + key + "' is given twice");
    out.emplace_back(std::move(r.value()));
  }
  return out;
}

result<std::int64_t> setting(const object& o, std::string_view name, std::int64_t fallback, std::int64_t min,
                             std::int64_t max) {
  const auto* v = o.if_contains(name);
  if (!v) return fallback;
  if (!v->is_int64() || v->get_int64() < min || v->get_int64() > max) {
    return bad_request("settings." + std::string(name) + " must be an integer " + std::to_string(min) + "-" +
                       std::to_string(max));
  }
  return v->get_int64();
}

result<object> settings(const object& body) {
  const auto* v = body.if_contains("settings");
  static const object empty;
  if (v && !v->is_object()) return bad_request("settings must be an object");
  const auto& o = v ? v->get_object() : empty;
  if (auto r = only_keys(o, "settings.", std::array<std::string_view, 2>{"revisions", "review_days"}); !r) {
    return r.err();
  }
  auto revisions = setting(o, "revisions", default_settings_revisions, 0, max_settings_revisions);
  if (!revisions) return revisions.err();
  auto review_days = setting(o, "review_days", default_settings_review_days, 1, max_settings_review_days);
  if (!review_days) return review_days.err();
  return object{{"revisions", *revisions}, {"review_days", *review_days}};
}

result<object> terms(const object& body) {
  const auto* v = body.if_contains("terms");
  if (!v) return object{};
  if (!v->is_object()) return bad_request("terms must be an object");
  if (auto numbers = detail::check_i_json_numbers(*v); !numbers) return numbers.err();
  if (boost::json::serialize(*v).size() > max_terms_bytes) {
    return too_large("terms exceed " + std::to_string(max_terms_bytes) + " bytes");
  }
  return v->get_object();
}

}  // namespace

result<object> validate_invitation(const value& body) {
  if (!body.is_object()) return bad_request("the body must be a JSON object");
  const auto& o = body.get_object();
  if (auto r = only_keys(o, "",
                         std::array<std::string_view, 7>{"title", "details", "client", "expert", "terms",
                                                         "requirements", "settings"});
      !r) {
    return r.err();
  }
  auto title = text_field(o, "title", "", 1, max_invitation_title_chars, true);
  if (!title) return title.err();
  auto details = text_field(o, "details", "", 0, max_invitation_details_chars, false);
  if (!details) return details.err();
  auto client = party(o, "client");
  if (!client) return client.err();
  auto expert = party(o, "expert");
  if (!expert) return expert.err();
  if (client->at("id") == expert->at("id")) return bad_request("client and expert must be different users");
  auto t = terms(o);
  if (!t) return t.err();
  auto reqs = requirements(o);
  if (!reqs) return reqs.err();
  auto s = settings(o);
  if (!s) return s.err();
  return object{{"title", **title},
                {"details", details->value_or("")},
                {"client", std::move(client.value())},
                {"expert", std::move(expert.value())},
                {"terms", std::move(t.value())},
                {"requirements", std::move(reqs.value())},
                {"settings", std::move(s.value())}};
}

result<object> parse_invitation(std::string_view body_text) {
  auto parsed = detail::parse_strict_json(body_text, max_frame_depth);
  if (auto* failed = std::get_if<detail::json_input_error>(&parsed)) return failed->err;
  return validate_invitation(std::get<value>(parsed));
}

std::vector<event> invitation_events(std::string_view eng, const object& invitation, std::int64_t now_ms) {
  event opening = opening_event(eng, now_ms);
  opening.body = object{{"from", nullptr}, {"to", phase_name(engagement_phase::invited)}, {"invitation", invitation}};
  event proposal;
  proposal.ch = channel::main(eng);
  proposal.kind = "proposal";
  proposal.from = system_user();
  proposal.ts = now_ms;
  proposal.body = object{{"topic", "invitation"},
                         {"text", invitation.at("title")},
                         {"terms", object{{"details", invitation.at("details")}, {"terms", invitation.at("terms")}}}};
  return {std::move(opening), std::move(proposal)};
}

opening_match match_opening(const event& opening, const object& invitation) {
  const auto* stored = opening.body.if_contains("invitation");
  if (!stored || !stored->is_object()) return opening_match::other;
  return canonical_json(*stored) == canonical_json(invitation) ? opening_match::same : opening_match::other;
}

}  // namespace parley
