#pragma once
// Event JSON with holes for seq and ts. The Redis engine writes an event
// before its seq and ts are known; the append script fills in the numbers it
// assigns, so the stored bytes are exactly serialize_event() of the final event.
#include "protocol/event.hpp"
#include "protocol/result.hpp"

#include <cstdint>
#include <string>

namespace parley {

struct event_parts {
  std::string prefix;  // up to `"seq":`
  std::string middle;  // from after seq up to `"ts":`
  std::string suffix;  // after ts to the end
};

// Splits serialize_event() of `ev` (its seq and ts taken as 0) where seq and ts go.
result<event_parts> split_event(const event& ev);

// The JSON of the event with `seq` and `ts` put back.
std::string splice(const event_parts& p, std::int64_t seq, std::int64_t ts);

}  // namespace parley
