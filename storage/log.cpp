#include "storage/log.hpp"

#include "storage/clock.hpp"

#include <chrono>
#include <iostream>
#include <mutex>

namespace parley {

namespace {
std::mutex log_mutex;
log_limiter limiter(10, 20);
log_format format = log_format::text;

std::string_view level_name(log_level level) {
  switch (level) {
    case log_level::info: return "info";
    case log_level::warn: return "warn";
    case log_level::error: return "error";
  }
  return "info";
}
}  // namespace

void set_log_format(log_format f) { format = f; }

void log_event(log_level level, std::string_view event, std::vector<log_field> fields) {
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now().time_since_epoch()).count();
  std::lock_guard lock(log_mutex);
  std::uint64_t suppressed = 0;
  if (!limiter.admit(event, now, suppressed)) return;
  if (format == log_format::json)
    std::cerr << format_log_json(level_name(level), event, fields, suppressed, now_ms()) << '\n';
  else
    std::cerr << format_log_line(level_name(level), event, fields, suppressed) << '\n';
}

}  // namespace parley
