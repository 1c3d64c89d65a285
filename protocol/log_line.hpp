#pragma once
// Structured log lines: `parley: level=warn event=auth_failed ip=127.0.0.1 reason="bad signature"`.
// Pure: formatting and the per-event limiter take no clock of their own.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace parley {

struct log_field {
  std::string_view key;
  std::string value;
};

// Values that come from clients (user ids, channel names, reasons) are quoted
// when they hold anything but [A-Za-z0-9._:/@-], with `"`, `\`, control bytes
// and bytes >= 0x7f escaped as \xNN, and cut to 200 bytes: a log line can
// never be split, forged or made huge by its input.
std::string log_value(std::string_view raw);

// One line without the trailing newline.
std::string format_log_line(std::string_view level, std::string_view event, const std::vector<log_field>& fields,
                            std::uint64_t suppressed = 0);

// The same as one JSON object (--log-format json, for journald and log
// shippers): {"ts":"2026-11-30T19:11:08.123Z","level":…,"event":…, the
// fields…, "suppressed":N when some were}. Each value is a string cut to 200
// bytes on a character boundary; bytes that are not UTF-8 are written as the
// text \xNN, so that the line is always valid JSON of valid UTF-8.
std::string format_log_json(std::string_view level, std::string_view event, const std::vector<log_field>& fields,
                            std::uint64_t suppressed, std::int64_t wall_ms);

// At most `burst` lines per event name, refilled at `per_second`; lines over
// that are counted and the count is reported with the next line let through.
class log_limiter {
 public:
  log_limiter(double per_second, double burst) : rate_(per_second), burst_(burst) {}
  // Whether a line of `event` may be written at `now_ms`; when it may,
  // `suppressed` is set to the lines of that event dropped since the last one.
  bool admit(std::string_view event, std::int64_t now_ms, std::uint64_t& suppressed);

 private:
  struct bucket {
    double tokens;
    std::int64_t last_ms;
    std::uint64_t dropped = 0;
  };
  double rate_;
  double burst_;
  std::unordered_map<std::string, bucket> buckets_;
};

}  // namespace parley
