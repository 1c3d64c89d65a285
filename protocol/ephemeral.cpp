#include "protocol/ephemeral.hpp"

#include "protocol/availability.hpp"
#include "protocol/event.hpp"
#include "protocol/json_input.hpp"
#include "protocol/user.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <vector>

namespace parley {

namespace {
using boost::json::object;
using boost::json::value;

// Presence entries nest an availability with its hours' days (protocol
// §9.3): frame, list, entry, availability, hours, days.
constexpr int max_ephemeral_depth = 6;

std::optional<user> user_of(const value* v) {
  if (!v || !v->is_object()) return std::nullopt;
  const object& o = v->get_object();
  const value* id = o.if_contains("id");
  const value* name = o.if_contains("name");
  const value* role = o.if_contains("role");
  if (!id || !id->is_string() || id->get_string().empty() || !name || !name->is_string() || !role ||
      !role->is_string())
    return std::nullopt;
  auto r = parse_role(role->get_string());
  if (!r) return std::nullopt;
  return user{std::string(id->get_string()), std::string(name->get_string()), *r};
}

// A presence entry: a user, with `availability` (checked and written again)
// and `last_seen` when it carries them (protocol §9.3).
std::optional<object> entry_of(const value* v) {
  auto u = user_of(v);
  if (!u) return std::nullopt;
  object out = user_json(*u);
  const object& o = v->get_object();
  if (const value* a = o.if_contains("availability")) {
    if (a->is_null()) {
      out["availability"] = nullptr;
    } else {
      if (!a->is_object()) return std::nullopt;
      auto parsed = parse_availability(a->get_object());
      if (!parsed) return std::nullopt;
      out["availability"] = availability_json(*parsed);
    }
  }
  if (const value* seen = o.if_contains("last_seen")) {
    if (seen->is_null()) {
      out["last_seen"] = nullptr;
    } else {
      if (!seen->is_int64() || seen->get_int64() < 0) return std::nullopt;
      out["last_seen"] = seen->get_int64();
    }
  }
  return out;
}

std::optional<boost::json::array> entries_of(const value* v) {
  if (!v || !v->is_array()) return std::nullopt;
  boost::json::array out;
  for (const auto& item : v->get_array()) {
    auto e = entry_of(&item);
    if (!e) return std::nullopt;
    out.emplace_back(std::move(*e));
  }
  return out;
}
}  // namespace

std::optional<std::string> reserialize_ephemeral(std::string_view frame, std::string_view ch) {
  auto parsed = detail::parse_strict_json(frame, max_ephemeral_depth);
  auto* root = std::get_if<value>(&parsed);
  if (!root || !root->is_object()) return std::nullopt;
  const object& o = root->get_object();
  const value* ev = o.if_contains("ev");
  const value* c = o.if_contains("ch");
  if (!ev || !ev->is_string() || !c || !c->is_string() || c->get_string() != ch) return std::nullopt;
  if (ev->get_string() == "typing") {
    auto who = user_of(o.if_contains("user"));
    if (!who) return std::nullopt;
    return typing_frame(ch, *who);
  }
  if (ev->get_string() == "read") {
    auto who = user_of(o.if_contains("user"));
    const value* seq = o.if_contains("seq");
    if (!who || !seq || !seq->is_int64() || seq->get_int64() < 0) return std::nullopt;
    return read_frame(ch, *who, seq->get_int64());
  }
  if (ev->get_string() == "presence") {
    auto joined = entries_of(o.if_contains("joined"));
    auto left = entries_of(o.if_contains("left"));
    if (!joined || !left) return std::nullopt;
    object out{{"ev", "presence"}, {"ch", ch}, {"joined", std::move(*joined)}, {"left", std::move(*left)}};
    if (const value* u = o.if_contains("updated")) {
      auto updated = entries_of(u);
      if (!updated) return std::nullopt;
      out["updated"] = std::move(*updated);
    }
    return boost::json::serialize(out);
  }
  return std::nullopt;
}

}  // namespace parley
