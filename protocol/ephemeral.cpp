#include "protocol/ephemeral.hpp"

#include "protocol/event.hpp"
#include "protocol/json_input.hpp"
#include "protocol/user.hpp"

#include <boost/json/value.hpp>

#include <vector>

namespace parley {

namespace {
using boost::json::object;
using boost::json::value;

// Presence, typing and read frames nest users one level down: depth 3 is ample.
constexpr int max_ephemeral_depth = 4;

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

std::optional<std::vector<user>> users_of(const value* v) {
  if (!v || !v->is_array()) return std::nullopt;
  std::vector<user> out;
  for (const auto& item : v->get_array()) {
    auto u = user_of(&item);
    if (!u) return std::nullopt;
    out.push_back(std::move(*u));
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
    auto joined = users_of(o.if_contains("joined"));
    auto left = users_of(o.if_contains("left"));
    if (!joined || !left) return std::nullopt;
    return presence_frame(ch, *joined, *left);
  }
  return std::nullopt;
}

}  // namespace parley
