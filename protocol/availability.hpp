#pragma once
// A user's availability and response times (protocol §9.3): the body of the
// `availability` op and of PUT /api/v1/users/me/availability, checked
// strictly, and the one rule that depends on it: a reply that falls due while
// the owing user is announced away is due when the away period ends.
#include "protocol/result.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

enum class availability_status { available, busy, away };
std::string_view status_name(availability_status s);

// When the user usually works: `days` 1..7 (Monday = 1), "HH:MM" in zone `tz`.
struct working_hours {
  std::string tz;
  std::vector<int> days;
  std::string from;
  std::string to;
};

struct availability {
  availability_status status = availability_status::available;
  std::optional<std::int64_t> until;  // ms
  std::optional<std::string> note;
  std::optional<working_hours> hours;
  std::optional<int> reply_within_h;
};

inline constexpr std::size_t max_availability_note = 200;
inline constexpr std::size_t max_time_zone_chars = 64;
inline constexpr int max_reply_within_h = 168;
// An away period is announced at most this far ahead.
inline constexpr std::int64_t max_until_ahead_ms = 366LL * 24 * 3600 * 1000;

// The shape of an availability: every field type- and range-checked, unknown
// keys refused (bad_request). No clock: stored values and values from other
// instances are read with it.
result<availability> parse_availability(const boost::json::object& body);

// A request to set an availability at `now_ms`: the shape, and `until`, when
// given, after now and at most max_until_ahead_ms ahead. A past `until` is
// bad_request: an away period that is over announces nothing.
result<availability> parse_availability_request(const boost::json::object& body, std::int64_t now_ms);

// The same, from JSON text (an HTTP body, a stored value).
result<availability> parse_availability_text(std::string_view text);
result<availability> parse_availability_request_text(std::string_view text, std::int64_t now_ms);

// The JSON object of a request body (HTTP), parsed as strictly as a frame;
// its fields are checked by parse_availability_request.
result<boost::json::object> availability_body_of(std::string_view text);

// The canonical JSON of an availability: only the fields that are set.
boost::json::object availability_json(const availability& a);

// The due time of a reply owed by a user whose availability `owing` was set
// at `set_at`: `base_due` moves to the end of an announced away period that
// holds it (set_at < base_due < until). A reply already due when the away
// period was announced stays due (no move back in time); `busy` and
// `available` move nothing, nor does `away` without `until`.
std::int64_t reply_due_for(std::int64_t base_due, const std::optional<availability>& owing, std::int64_t set_at);

}  // namespace parley
