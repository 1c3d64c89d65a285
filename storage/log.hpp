#pragma once
// The process's log: structured lines on stderr (text or JSON), rate-limited per event name
// (10 a second, bursts of 20), so that no client can flood the log.
// Thread-safe. Used by storage and server alike.
#include "protocol/log_line.hpp"

namespace parley {

enum class log_level { info, warn, error };
// text: `parley: level=… event=… key=value`; json: one object a line (format_log_json).
enum class log_format { text, json };

// Set once at start-up, before other threads log.
void set_log_format(log_format format);

void log_event(log_level level, std::string_view event, std::vector<log_field> fields = {});

}  // namespace parley
