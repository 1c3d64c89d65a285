#include "protocol/reply.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>

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

// Appends "events":[...] to the serialised object `out` from
// already-serialised events, which are copied byte for byte and never parsed again.
std::string splice_serialized(std::string out, const std::vector<std::shared_ptr<const std::string>>& events) {
  std::size_t extra = 12;
  for (const auto& e : events) extra += e ? e->size() + 1 : 0;
  out.reserve(out.size() + extra);
  out.pop_back();  // the closing '}'
  if (out.size() > 1) out += ',';
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

std::string splice_events(const object& head, const std::vector<std::shared_ptr<const std::string>>& events) {
  return splice_serialized(boost::json::serialize(head), events);
}

// `head` with "events" spliced in, bounded as reply_with_events_within says.
bounded_reply bounded_splice(object head, const std::vector<std::shared_ptr<const std::string>>& events,
                             std::size_t max_bytes, bool cut) {
  head.erase("events");
  std::vector<std::size_t> sizes;
  sizes.reserve(events.size());
  std::size_t total = 0;
  for (const auto& e : events) {
    sizes.push_back(e ? e->size() : 0);
    total += sizes.back() + 1;
  }
  // ,"events":[] and the room for ,"more":true and a false "recovered".
  constexpr std::size_t framing = 12 + 12 + 1;
  std::string head_json = boost::json::serialize(head);
  std::size_t head_bytes = head_json.size() + framing;
  if (!cut && head_bytes + total <= max_bytes) return {splice_serialized(std::move(head_json), events), events.size()};
  std::size_t n = items_that_fit(max_bytes, head_bytes, sizes);
  head["more"] = true;
  if (auto* recovered = head.if_contains("recovered")) *recovered = false;
  std::vector<std::shared_ptr<const std::string>> carried(events.begin(),
                                                          events.begin() + static_cast<std::ptrdiff_t>(n));
  return {splice_events(head, carried), n};
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

std::size_t items_that_fit(std::size_t max_bytes, std::size_t head_bytes, const std::vector<std::size_t>& item_sizes) {
  if (head_bytes >= max_bytes) return 0;
  std::size_t left = max_bytes - head_bytes, n = 0;
  for (auto size : item_sizes) {
    if (size + 1 > left) break;
    left -= size + 1;
    ++n;
  }
  return n;
}

bounded_reply reply_with_events_within(std::optional<std::int64_t> id, const object& fields,
                                       const std::vector<std::shared_ptr<const std::string>>& events,
                                       std::size_t max_bytes, bool cut) {
  return bounded_splice(reply_head(id, true, fields), events, max_bytes, cut);
}

bounded_reply object_with_events_within(const object& fields,
                                        const std::vector<std::shared_ptr<const std::string>>& events,
                                        std::size_t max_bytes, bool cut) {
  return bounded_splice(fields, events, max_bytes, cut);
}

boost::json::object decisions_page(std::vector<boost::json::object> records, std::int64_t after,
                                   std::optional<std::int64_t> next, std::size_t max_bytes) {
  // {"id":..,"ok":true,"records":[],"next":..} with room for any id and n.
  constexpr std::size_t head_bytes = 96;
  std::vector<std::size_t> sizes;
  sizes.reserve(records.size());
  for (const auto& r : records) sizes.push_back(boost::json::serialize(r).size());
  std::size_t n = std::max<std::size_t>(items_that_fit(max_bytes, head_bytes, sizes), 1);
  if (n < records.size()) {
    records.resize(n);
    next = after + static_cast<std::int64_t>(n);
  }
  boost::json::array a;
  a.reserve(records.size());
  for (auto& r : records) a.emplace_back(std::move(r));
  object page;
  page.emplace("records", std::move(a));
  if (next) {
    page.emplace("next", *next);
  } else {
    page.emplace("next", nullptr);
  }
  return page;
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
