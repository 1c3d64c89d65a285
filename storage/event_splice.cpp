#include "storage/event_splice.hpp"

#include "storage/error_counts.hpp"

#include <string_view>

namespace parley {

// The first `,"seq":` and the first `,"ts":` after it are the event's own members: a quote inside
// a JSON string is always escaped, and from (which comes between) has no ts.
result<event_parts> split_event(const event& ev) {
  std::string json;
  if (ev.seq == 0 && ev.ts == 0) {
    json = serialize_event(ev);
  } else {
    event copy = ev;
    copy.seq = 0;
    copy.ts = 0;
    json = serialize_event(copy);
  }
  constexpr std::string_view seq_mark = ",\"seq\":0";
  constexpr std::string_view ts_mark = ",\"ts\":0";
  auto s = json.find(seq_mark);
  if (s == std::string::npos) return storage_fault("event JSON without seq");
  auto t = json.find(ts_mark, s + seq_mark.size());
  if (t == std::string::npos) return storage_fault("event JSON without ts");
  event_parts parts;
  std::size_t seq_at = s + seq_mark.size() - 1;
  std::size_t ts_at = t + ts_mark.size() - 1;
  parts.prefix = json.substr(0, seq_at);
  parts.middle = json.substr(seq_at + 1, ts_at - seq_at - 1);
  parts.suffix = json.substr(ts_at + 1);
  return parts;
}

std::string splice(const event_parts& p, std::int64_t seq, std::int64_t ts) {
  std::string out;
  out.reserve(p.prefix.size() + p.middle.size() + p.suffix.size() + 40);
  out += p.prefix;
  out += std::to_string(seq);
  out += p.middle;
  out += std::to_string(ts);
  out += p.suffix;
  return out;
}

}  // namespace parley
