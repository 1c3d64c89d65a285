#include "storage/redis_reply.hpp"

#include "storage/error_counts.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>

namespace parley {

redis_value from_hiredis(const redisReply* r) {
  redis_value v;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      v.type = redis_value::kind::string;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      v.type = redis_value::kind::status;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      v.type = redis_value::kind::error;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      v.type = redis_value::kind::integer;
      v.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      v.type = redis_value::kind::array;
      v.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) v.elements.push_back(from_hiredis(r->element[i]));
      break;
    default:
      v.type = redis_value::kind::nil;
  }
  return v;
}

std::optional<std::int64_t> decimal_int64(std::string_view text) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<published> parse_published(std::string_view payload) {
  auto a = payload.find(' ');
  if (a == std::string_view::npos) return std::nullopt;
  auto b = payload.find(' ', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  auto c = payload.find(' ', b + 1);
  if (c == std::string_view::npos) return std::nullopt;
  auto seq = decimal_int64(payload.substr(0, a));
  auto ts = decimal_int64(payload.substr(a + 1, b - a - 1));
  if (!seq || !ts) return std::nullopt;
  published p;
  p.seq = *seq;
  p.ts = *ts;
  p.epoch = std::string(payload.substr(b + 1, c - b - 1));
  p.json = std::make_shared<const std::string>(payload.substr(c + 1));
  return p;
}

result<channel_window> decode_read_reply(const redis_value& v, bool descending) {
  channel_window out;
  const auto& e = v.elements;
  if (!v.is_array() || e.size() < 3 || e.size() % 2 != 1)
    return storage_fault("redis: unexpected reply to the read script");
  out.epoch = e[0].str;
  out.head = e[1].integer;
  out.truncated = e[2].integer != 0;
  for (std::size_t i = 3; i + 1 < e.size(); i += 2) {
    const std::string& id = e[i].str;
    auto seq = decimal_int64(std::string_view(id).substr(0, id.find('-')));
    if (!seq) return storage_fault("redis: malformed stream id " + id);
    out.events.push_back(stored_event{*seq, std::make_shared<const std::string>(e[i + 1].str)});
  }
  if (descending) std::reverse(out.events.begin(), out.events.end());
  return out;
}

result<std::vector<read_marker>> decode_read_markers(const redis_value& v) {
  const auto& e = v.elements;
  if (!v.is_array() || e.size() % 2 != 0) return storage_fault("redis: unexpected reply for read markers");
  std::vector<read_marker> markers;
  markers.reserve(e.size() / 2);
  for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
    auto seq = decimal_int64(e[i + 1].str);
    if (!seq) return storage_fault("redis: malformed read marker of " + e[i].str);
    markers.push_back({e[i].str, *seq});
  }
  auto keep = std::min<std::size_t>(markers.size(), max_read_markers);
  std::partial_sort(markers.begin(), markers.begin() + static_cast<std::ptrdiff_t>(keep), markers.end(),
                    [](const read_marker& a, const read_marker& b) { return a.seq > b.seq; });
  markers.resize(keep);
  return markers;
}

error reply_error(const std::string& message) {
  for (std::string_view prefix : {"LOADING", "OOM", "READONLY", "MASTERDOWN", "BUSY", "TRYAGAIN", "CLUSTERDOWN",
                                  "NOREPLICAS", "MISCONF", "NOAUTH", "WRONGPASS", "NOPERM"}) {
    if (message.starts_with(prefix)) return storage_unavailable("redis: " + message);
  }
  return storage_fault("redis: " + message);
}

}  // namespace parley
