#pragma once
// An engagement's scheduled calls as an iCalendar file (RFC 5545), for
// `GET /api/v1/engagements/<id>/calendar.ics` (protocol §9.5). Pure: the
// caller passes the clock.
#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

struct calendar_event {
  std::string uid;
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
  std::string summary;
  std::string description;
  std::string link;  // a checked https URL (calls.hpp), or empty
};

// A TEXT value (RFC 5545 §3.3.11): backslash, semicolon and comma escaped,
// every line break (CRLF, CR or LF) written as \n, other control characters
// dropped, so that no value can end its line and start a property of its own.
std::string ics_text(std::string_view text);

// One content line folded at 75 octets (RFC 5545 §3.1), never inside a UTF-8
// sequence, each physical line ended by CRLF.
std::string ics_line(std::string_view line);

// A UTC DATE-TIME, "20261130T050000Z" (whole seconds).
std::string ics_utc(std::int64_t ms);

// VCALENDAR (VERSION 2.0, PRODID, CALSCALE GREGORIAN, METHOD PUBLISH) with one
// VEVENT per event; `stamp_ms` is each DTSTAMP (when the file is made).
std::string calendar_ics(const std::vector<calendar_event>& events, std::int64_t stamp_ms);

// The calendar of engagement `eng` from its §4 state (`title`, `calls`): UID
// "<eng>-<proposal seq>@parley", SUMMARY the title or "Call".
std::string engagement_calendar(std::string_view eng, const boost::json::object& state, std::int64_t now_ms);

}  // namespace parley
