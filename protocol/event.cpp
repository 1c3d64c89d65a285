#include "protocol/event.hpp"

#include "protocol/json_input.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

namespace parley {
namespace {

using boost::json::object;
using boost::json::value;

// Stored events were written by serialize_event; the bound only guards against corruption.
constexpr int max_event_depth = 64;

void append_string(std::string& out, std::string_view s) { out += boost::json::serialize(boost::json::string_view(s)); }

void append_user(std::string& out, const user& u) { out += boost::json::serialize(user_json(u)); }

error corrupt(std::string what) { return make_error(errc::internal, "stored event: " + what); }

std::optional<user_role> parse_any_role(std::string_view name) {
  if (name == "system") return user_role::system;
  return parse_role(name);
}

boost::json::array users_json(const std::vector<user>& users) {
  boost::json::array out;
  out.reserve(users.size());
  for (const auto& u : users) out.emplace_back(user_json(u));
  return out;
}

}  // namespace

// Written by hand rather than through a Boost.JSON object so that the body is
// not copied; Boost.JSON still escapes every string (quotes, backslashes and
// control characters, so no raw newline can appear) and keeps non-ASCII as UTF-8.
std::string serialize_event(const event& ev) {
  std::string out;
  out.reserve(128 + ev.ch.size() + ev.kind.size() + ev.cid.size());
  out += R"({"ev":"event","ch":)";
  append_string(out, ev.ch);
  out += R"(,"seq":)";
  out += std::to_string(ev.seq);
  out += R"(,"kind":)";
  append_string(out, ev.kind);
  out += R"(,"from":)";
  append_user(out, ev.from);
  out += R"(,"ts":)";
  out += std::to_string(ev.ts);
  if (!ev.cid.empty()) {
    out += R"(,"cid":)";
    append_string(out, ev.cid);
  }
  out += R"(,"body":)";
  out += boost::json::serialize(ev.body);
  out += '}';
  return out;
}

result<event> parse_event(std::string_view json) {
  auto parsed = detail::parse_strict_json(json, max_event_depth);
  auto* root = std::get_if<value>(&parsed);
  if (!root) return corrupt("invalid JSON");
  if (!root->is_object()) return corrupt("not an object");
  object& o = root->get_object();

  const value* ev = o.if_contains("ev");
  if (!ev || !ev->is_string() || ev->get_string() != "event") return corrupt("ev is not \"event\"");

  event out;
  const value* ch = o.if_contains("ch");
  const value* seq = o.if_contains("seq");
  const value* kind = o.if_contains("kind");
  const value* from = o.if_contains("from");
  const value* ts = o.if_contains("ts");
  const value* cid = o.if_contains("cid");
  value* body = o.if_contains("body");
  if (!ch || !ch->is_string()) return corrupt("ch");
  if (!seq || !seq->is_int64()) return corrupt("seq");
  if (!kind || !kind->is_string()) return corrupt("kind");
  if (!from || !from->is_object()) return corrupt("from");
  if (!ts || !ts->is_int64()) return corrupt("ts");
  if (cid && !cid->is_string()) return corrupt("cid");
  if (!body || !body->is_object()) return corrupt("body");

  const object& f = from->get_object();
  const value* id = f.if_contains("id");
  const value* name = f.if_contains("name");
  const value* role = f.if_contains("role");
  if (!id || !id->is_string() || !name || !name->is_string() || !role || !role->is_string()) {
    return corrupt("from");
  }
  auto parsed_role = parse_any_role(role->get_string());
  if (!parsed_role) return corrupt("from.role");

  out.ch = std::string(ch->get_string());
  out.seq = seq->get_int64();
  out.kind = std::string(kind->get_string());
  out.from = user{std::string(id->get_string()), std::string(name->get_string()), *parsed_role};
  out.ts = ts->get_int64();
  if (cid) out.cid = std::string(cid->get_string());
  out.body = std::move(body->get_object());
  return out;
}

std::string presence_frame(std::string_view ch, const std::vector<user>& joined, const std::vector<user>& left) {
  object o;
  o.reserve(4);
  o.emplace("ev", "presence");
  o.emplace("ch", ch);
  o.emplace("joined", users_json(joined));
  o.emplace("left", users_json(left));
  return boost::json::serialize(o);
}

std::string typing_frame(std::string_view ch, const user& who) {
  object o;
  o.reserve(3);
  o.emplace("ev", "typing");
  o.emplace("ch", ch);
  o.emplace("user", user_json(who));
  return boost::json::serialize(o);
}

std::string read_frame(std::string_view ch, const user& who, std::int64_t seq) {
  object o;
  o.reserve(4);
  o.emplace("ev", "read");
  o.emplace("ch", ch);
  o.emplace("user", user_json(who));
  o.emplace("seq", seq);
  return boost::json::serialize(o);
}

}  // namespace parley
