#include "protocol/calendar.hpp"

#include <chrono>
#include <cstdio>

namespace parley {

namespace {

constexpr std::size_t max_line_octets = 75;

bool is_utf8_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

std::string property(std::string_view name, std::string_view value) {
  std::string line(name);
  line += ':';
  line += value;
  return ics_line(line);
}

}  // namespace

std::string ics_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    switch (c) {
      case '\\': out += "\\\\"; break;
      case ';': out += "\\;"; break;
      case ',': out += "\\,"; break;
      case '\r':
        if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
        out += "\\n";
        break;
      case '\n': out += "\\n"; break;
      default:
        // CONTROL characters are not TEXT (§3.3.11); a tab is.
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) break;
        out += c;
    }
  }
  return out;
}

std::string ics_line(std::string_view line) {
  std::string out;
  out.reserve(line.size() + line.size() / 64 * 3 + 2);
  std::size_t room = max_line_octets;  // the first line; later ones start with a space
  while (line.size() > room) {
    std::size_t cut = room;
    while (cut > 0 && is_utf8_continuation(line[cut])) --cut;
    out.append(line.substr(0, cut)).append("\r\n ");
    line.remove_prefix(cut);
    room = max_line_octets - 1;
  }
  out.append(line).append("\r\n");
  return out;
}

std::string ics_utc(std::int64_t ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> t{milliseconds(ms)};
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{floor<seconds>(t - day)};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

std::string calendar_ics(const std::vector<calendar_event>& events, std::int64_t stamp_ms) {
  std::string out;
  out += property("BEGIN", "VCALENDAR");
  out += property("VERSION", "2.0");
  // No release number: the server's version is not for anyone to fingerprint.
  out += property("PRODID", "-//Parley//Parley//EN");
  out += property("CALSCALE", "GREGORIAN");
  out += property("METHOD", "PUBLISH");
  const auto stamp = ics_utc(stamp_ms);
  for (const auto& e : events) {
    out += property("BEGIN", "VEVENT");
    out += property("UID", ics_text(e.uid));
    out += property("DTSTAMP", stamp);
    out += property("DTSTART", ics_utc(e.start_ms));
    out += property("DTEND", ics_utc(e.end_ms));
    out += property("SUMMARY", ics_text(e.summary));
    if (!e.description.empty()) out += property("DESCRIPTION", ics_text(e.description));
    if (!e.link.empty()) {
      // URL is a URI value, written as is (a checked link has no spaces or
      // control characters); LOCATION is TEXT.
      out += property("URL", e.link);
      out += property("LOCATION", ics_text(e.link));
    }
    out += property("STATUS", "CONFIRMED");
    out += property("END", "VEVENT");
  }
  out += property("END", "VCALENDAR");
  return out;
}

std::string engagement_calendar(std::string_view eng, const boost::json::object& state, std::int64_t now_ms) {
  std::string title = "Call";
  if (const auto* t = state.if_contains("title"); t && t->is_string() && !t->get_string().empty()) {
    title = std::string(t->get_string());
  }
  std::vector<calendar_event> events;
  if (const auto* calls = state.if_contains("calls"); calls && calls->is_array()) {
    for (const auto& v : calls->get_array()) {
      const auto& c = v.as_object();
      const auto proposal = c.at("proposal").to_number<std::int64_t>();
      calendar_event e;
      e.uid = std::string(eng) + "-" + std::to_string(proposal) + "@parley";
      e.start_ms = c.at("start").to_number<std::int64_t>();
      e.end_ms = e.start_ms + c.at("minutes").to_number<std::int64_t>() * 60'000;
      e.summary = title;
      e.description = "Call of engagement " + std::string(eng) + " (proposal " + std::to_string(proposal) + ")";
      if (const auto* link = c.if_contains("link"); link && link->is_string()) {
        e.link = std::string(link->get_string());
        e.description += "\nJoin: " + e.link;
      }
      if (const auto* tz = c.if_contains("tz"); tz && tz->is_string()) {
        e.description += "\nTime zone of the proposal: " + std::string(tz->get_string());
      }
      events.push_back(std::move(e));
    }
  }
  return calendar_ics(events, now_ms);
}

}  // namespace parley
