#include "protocol/availability.hpp"

#include "protocol/json_input.hpp"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <bitset>

namespace parley {
using detail::bad_request;

using boost::json::object;
using boost::json::value;

namespace {
using boost::json::value;

// {"hours": {"days": [..]}} is three levels deep.
constexpr int max_availability_depth = 3;

std::optional<availability_status> parse_status(std::string_view s) {
  if (s == "available") return availability_status::available;
  if (s == "busy") return availability_status::busy;
  if (s == "away") return availability_status::away;
  return std::nullopt;
}

bool valid_time_zone(std::string_view tz) { return tz.size() <= max_time_zone_chars && detail::is_time_zone_name(tz); }

// "HH:MM", 00:00 to 23:59.
bool valid_clock_time(std::string_view t) {
  if (t.size() != 5 || t[2] != ':') return false;
  for (std::size_t i : {0, 1, 3, 4})
    if (t[i] < '0' || t[i] > '9') return false;
  int hh = (t[0] - '0') * 10 + (t[1] - '0');
  int mm = (t[3] - '0') * 10 + (t[4] - '0');
  return hh < 24 && mm < 60;
}

result<working_hours> parse_hours(const value& v) {
  if (!v.is_object()) return bad_request("hours must be an object {tz, days, from, to}");
  const object& o = v.get_object();
  for (const auto& m : o) {
    if (m.key() != "tz" && m.key() != "days" && m.key() != "from" && m.key() != "to")
      return bad_request("unknown field hours." + detail::display_name(m.key()));
  }
  working_hours h;
  const value* tz = o.if_contains("tz");
  if (!tz || !tz->is_string() || !valid_time_zone(tz->get_string()))
    return bad_request("hours.tz must be an IANA time zone name (letters, digits, _ + - /; at most 64)");
  h.tz = std::string(tz->get_string());
  const value* days = o.if_contains("days");
  if (!days || !days->is_array() || days->get_array().empty() || days->get_array().size() > 7)
    return bad_request("hours.days must be a non-empty list of days 1..7 (Monday = 1)");
  std::bitset<8> seen;
  for (const auto& d : days->get_array()) {
    if (!d.is_int64() || d.get_int64() < 1 || d.get_int64() > 7)
      return bad_request("hours.days must hold integers 1..7 (Monday = 1)");
    auto day = static_cast<std::size_t>(d.get_int64());
    if (seen.test(day)) return bad_request("hours.days must not repeat a day");
    seen.set(day);
    h.days.push_back(static_cast<int>(day));
  }
  for (auto [name, dst] : {std::pair{"from", &h.from}, std::pair{"to", &h.to}}) {
    const value* t = o.if_contains(name);
    if (!t || !t->is_string() || !valid_clock_time(t->get_string()))
      return bad_request(std::string("hours.") + name + " must be \"HH:MM\" (00:00 to 23:59)");
    *dst = std::string(t->get_string());
  }
  if (h.from == h.to) return bad_request("hours.from and hours.to must differ");
  return h;
}

result<availability> parse_text_with(std::string_view text,
                                      result<availability> (*parse)(const object&, std::int64_t), std::int64_t now) {
  auto body = availability_body_of(text);
  if (!body) return body.err();
  return parse(*body, now);
}

}  // namespace

result<object> availability_body_of(std::string_view text) {
  auto parsed = detail::parse_strict_json(text, max_availability_depth);
  if (auto* bad = std::get_if<detail::json_input_error>(&parsed)) return bad->err;
  auto& v = std::get<value>(parsed);
  if (!v.is_object()) return bad_request("the availability must be a JSON object");
  return std::move(v.get_object());
}

std::string_view status_name(availability_status s) {
  switch (s) {
    case availability_status::available: return "available";
    case availability_status::busy: return "busy";
    case availability_status::away: return "away";
  }
  return "available";
}

result<availability> parse_availability(const object& body) {
  for (const auto& m : body) {
    auto k = m.key();
    if (k != "status" && k != "until" && k != "note" && k != "hours" && k != "reply_within_h")
      return bad_request("unknown field " + detail::display_name(k));
  }
  availability a;
  const value* status = body.if_contains("status");
  if (!status) return bad_request("missing field status");
  auto s = status->is_string() ? parse_status(status->get_string()) : std::nullopt;
  if (!s) return bad_request("status must be available, busy or away");
  a.status = *s;
  // An explicit null stands for an absent optional field, as in frames.
  if (const value* until = body.if_contains("until"); until && !until->is_null()) {
    if (!until->is_int64() || until->get_int64() < 0 || until->get_int64() > detail::max_exact_integer)
      return bad_request("until must be a time in ms (a non-negative integer)");
    a.until = until->get_int64();
  }
  if (const value* note = body.if_contains("note"); note && !note->is_null()) {
    if (!note->is_string()) return bad_request("note must be a string");
    if (detail::count_code_points(note->get_string()) > max_availability_note)
      return bad_request("note exceeds 200 characters");
    a.note = std::string(note->get_string());
  }
  if (const value* hours = body.if_contains("hours"); hours && !hours->is_null()) {
    auto h = parse_hours(*hours);
    if (!h) return h.err();
    a.hours = std::move(*h);
  }
  if (const value* r = body.if_contains("reply_within_h"); r && !r->is_null()) {
    if (!r->is_int64() || r->get_int64() < 1 || r->get_int64() > max_reply_within_h)
      return bad_request("reply_within_h must be an integer from 1 to 168");
    a.reply_within_h = static_cast<int>(r->get_int64());
  }
  return a;
}

result<availability> parse_availability_request(const object& body, std::int64_t now_ms) {
  auto a = parse_availability(body);
  if (!a) return a;
  if (a->until && *a->until <= now_ms) return bad_request("until must be in the future");
  if (a->until && *a->until - now_ms > max_until_ahead_ms) return bad_request("until must be within 366 days");
  return a;
}

result<availability> parse_availability_text(std::string_view text) {
  return parse_text_with(text, [](const object& o, std::int64_t) { return parse_availability(o); }, 0);
}

result<availability> parse_availability_request_text(std::string_view text, std::int64_t now_ms) {
  return parse_text_with(text, &parse_availability_request, now_ms);
}

object availability_json(const availability& a) {
  object o;
  o.emplace("status", status_name(a.status));
  if (a.until) o.emplace("until", *a.until);
  if (a.note) o.emplace("note", *a.note);
  if (a.hours) {
    boost::json::array days;
    for (int d : a.hours->days) days.emplace_back(d);
    o.emplace("hours", object{{"tz", a.hours->tz}, {"days", std::move(days)}, {"from", a.hours->from}, {"to", a.hours->to}});
  }
  if (a.reply_within_h) o.emplace("reply_within_h", *a.reply_within_h);
  return o;
}

std::int64_t reply_due_for(std::int64_t base_due, const std::optional<availability>& owing, std::int64_t set_at) {
  if (!owing || owing->status != availability_status::away || !owing->until) return base_due;
  if (base_due <= set_at || base_due >= *owing->until) return base_due;
  return *owing->until;
}

}  // namespace parley
