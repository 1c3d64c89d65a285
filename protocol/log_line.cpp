#include "protocol/log_line.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace parley {

namespace {
constexpr std::size_t max_value_bytes = 200;

// A byte a line must not carry as it is, written as the text \xNN.
void append_escaped(std::string& out, unsigned char c) {
  static const char* hex = "0123456789abcdef";
  out += "\\x";
  out += hex[c >> 4];
  out += hex[c & 15];
}

bool is_plain(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == ':' || c == '/' || c == '@' || c == '-';
}
}  // namespace

std::string log_value(std::string_view raw) {
  bool truncated = raw.size() > max_value_bytes;
  if (truncated) raw = raw.substr(0, max_value_bytes);
  if (!raw.empty() && std::all_of(raw.begin(), raw.end(), [](char c) { return is_plain(static_cast<unsigned char>(c)); }))
    return truncated ? std::string(raw) + "..." : std::string(raw);
  std::string out = "\"";
  for (char ch : raw) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f)
      append_escaped(out, c);
    else
      out += ch;
  }
  if (truncated) out += "...";
  out += '"';
  return out;
}

std::string format_log_line(std::string_view level, std::string_view event, const std::vector<log_field>& fields,
                            std::uint64_t suppressed) {
  std::string line = "parley: level=";
  line += level;
  line += " event=";
  line += event;
  for (const auto& f : fields) {
    line += ' ';
    line += f.key;
    line += '=';
    line += log_value(f.value);
  }
  if (suppressed > 0) line += " suppressed=" + std::to_string(suppressed);
  return line;
}

namespace {

// A client's bytes as a JSON string's content: at most max_value_bytes,
// whole characters, valid UTF-8.
std::string json_log_value(std::string_view raw) {
  bool truncated = raw.size() > max_value_bytes;
  if (truncated) {
    auto cut = max_value_bytes;
    // Back to the start of the character the cut falls in.
    while (cut > 0 && (static_cast<unsigned char>(raw[cut]) & 0xC0) == 0x80) --cut;
    raw = raw.substr(0, cut);
  }
  std::string out;
  if (simdjson::validate_utf8(raw.data(), raw.size())) {
    out = raw;
  } else {
    for (char ch : raw) {
      auto c = static_cast<unsigned char>(ch);
      if (c < 0x80)
        out += ch;
      else
        append_escaped(out, c);
    }
  }
  if (truncated) out += "...";
  return out;
}

// 2026-11-30T19:11:08.123Z
std::string iso_time(std::int64_t wall_ms) {
  std::time_t seconds = static_cast<std::time_t>(wall_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(wall_ms % 1000));
  return text;
}

}  // namespace

std::string format_log_json(std::string_view level, std::string_view event, const std::vector<log_field>& fields,
                            std::uint64_t suppressed, std::int64_t wall_ms) {
  boost::json::object line;
  line["ts"] = iso_time(wall_ms);
  line["level"] = level;
  line["event"] = event;
  // The first of a repeated key wins; the fixed keys cannot be overwritten.
  for (const auto& f : fields) line.emplace(f.key, json_log_value(f.value));
  if (suppressed > 0) line["suppressed"] = suppressed;
  return boost::json::serialize(line);
}

bool log_limiter::admit(std::string_view event, std::int64_t now_ms, std::uint64_t& suppressed) {
  auto [it, fresh] = buckets_.try_emplace(std::string(event), bucket{burst_, now_ms});
  auto& b = it->second;
  if (!fresh && now_ms > b.last_ms) {
    b.tokens = std::min(burst_, b.tokens + rate_ * static_cast<double>(now_ms - b.last_ms) / 1000.0);
    b.last_ms = now_ms;
  }
  if (b.tokens < 1) {
    ++b.dropped;
    return false;
  }
  b.tokens -= 1;
  suppressed = b.dropped;
  b.dropped = 0;
  return true;
}

}  // namespace parley
