#include "reply.hpp"

#include <boost/json/serialize.hpp>

namespace parley {
namespace {

using boost::json::object;

// id and ok lead every reply; a field of the same name would duplicate a key.
object reply_head(std::optional<std::int64_t> id, bool ok, const object& fields) {
  object o;
  o.reserve(fields.size() + 2);
  if (id) {
    o.emplace("id", *id);
  } else {
    o.emplace("id", nullptr);
  }
  o.emplace("ok", ok);
  for (const auto& member : fields) {
    if (member.key() == "id" || member.key() == "ok") continue;
    o.emplace(member.key(), member.value());
  }
  return o;
}

object error_json(const error& err) {
  object e;
  e.reserve(2);
  e.emplace("code", code_name(err.code));
  e.emplace("message", err.message);
  return e;
}

// Serialises `head` and appends "events":[...] from already-serialised events,
// which are copied byte for byte and never parsed again.
std::string splice_events(const object& head, const std::vector<std::shared_ptr<const std::string>>& events) {
  std::string out = boost::json::serialize(head);
  std::size_t extra = 12;
  for (const auto& e : events) extra += e ? e->size() + 1 : 0;
  out.reserve(out.size() + extra);
  out.pop_back();  // the closing '}'
  if (!head.empty()) out += ',';
  out += R"("events":[)";
  bool first = true;
  for (const auto& e : events) {
    if (!e) continue;
    if (!first) out += ',';
    first = false;
    out += *e;
  }
  out += "]}";
  return out;
}

}  // namespace

std::string reply_ok(std::optional<std::int64_t> id, const object& fields) {
  return boost::json::serialize(reply_head(id, true, fields));
}

std::string reply_error(std::optional<std::int64_t> id, const error& err) {
  object o = reply_head(id, false, {});
  o.emplace("error", error_json(err));
  return boost::json::serialize(o);
}

std::string reply_with_events(std::optional<std::int64_t> id, const object& fields,
                              const std::vector<std::shared_ptr<const std::string>>& events) {
  object head = reply_head(id, true, fields);
  head.erase("events");
  return splice_events(head, events);
}

std::string http_error_body(const error& err) {
  object o;
  o.emplace("error", error_json(err));
  return boost::json::serialize(o);
}

std::string object_with_events(const object& fields, const std::vector<std::shared_ptr<const std::string>>& events) {
  if (!fields.contains("events")) return splice_events(fields, events);
  object head = fields;
  head.erase("events");
  return splice_events(head, events);
}

}  // namespace parley
