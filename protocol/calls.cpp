#include "protocol/calls.hpp"

#include "protocol/engagement_detail.hpp"

#include <algorithm>
#include <array>
#include <set>
#include <string>

namespace parley {
using boost::json::array;
using boost::json::object;
using boost::json::value;
using detail::bad_request;
using detail::conflict;
using detail::int_field;
using detail::string_field;
using detail::too_large;

namespace {

constexpr std::int64_t minute_ms = 60'000;

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// A host name or IPv4 address: dot-separated labels of letters, digits and
// inner hyphens. Userinfo ("https://meet.example@evil.example") is refused, so
// that what a reader sees first is the host the link opens.
bool valid_host(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t label = 0;
  for (std::size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      if (label == 0 || label > 63 || host[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    const char c = host[i];
    if (!is_alnum(c) && !(c == '-' && label > 0)) return false;
    ++label;
  }
  return true;
}

// https://host[:port][/path][?query][#fragment], printable ASCII without
// spaces: a link every calendar and browser opens the same way.
result<void> check_link(std::string_view link) {
  constexpr std::string_view scheme = "https://";
  if (!link.starts_with(scheme)) return bad_request("terms.link must be an https:// URL");
  for (char c : link) {
    if (c <= 0x20 || c >= 0x7f) return bad_request("terms.link must be printable ASCII without spaces");
  }
  auto rest = link.substr(scheme.size());
  auto authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) return bad_request("terms.link must not hold a user name");
  auto host = authority;
  if (auto colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    auto port = authority.substr(colon + 1);
    const bool digits = !port.empty() && port.size() <= 5 &&
                        std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || std::stoi(std::string(port)) < 1 || std::stoi(std::string(port)) > 65535) {
      return bad_request("terms.link has a malformed port");
    }
  }
  if (!valid_host(host)) return bad_request("terms.link needs a host name");
  return {};
}


result<object> check_slot(const value& v, std::size_t at) {
  const std::string where = "terms.slots[" + std::to_string(at) + "]";
  if (!v.is_object()) return bad_request(where + " must be an object {start, minutes}");
  const auto& o = v.get_object();
  for (const auto& kv : o) {
    if (kv.key() != "start" && kv.key() != "minutes") {
      return bad_request("unknown field " + where + "." + detail::display_name(kv.key()));
    }
  }
  auto start = int_field(o, "start");
  auto minutes = int_field(o, "minutes");
  if (!start || *start <= 0) return bad_request(where + ".start must be a positive integer (ms)");
  if (!minutes || *minutes < min_call_minutes || *minutes > max_call_minutes) {
    return bad_request(where + ".minutes must be an integer from " + std::to_string(min_call_minutes) + " to " +
                       std::to_string(max_call_minutes));
  }
  if (*start > max_call_end_ms - *minutes * minute_ms) return bad_request(where + " ends after the year 9999");
  return object{{"start", *start}, {"minutes", *minutes}};
}

const object* slot_at(const object& terms, std::int64_t index) {
  const auto* slots = terms.if_contains("slots");
  if (!slots || !slots->is_array() || index < 0 || static_cast<std::size_t>(index) >= slots->get_array().size()) {
    return nullptr;
  }
  const auto& slot = slots->get_array()[static_cast<std::size_t>(index)];
  return slot.is_object() ? &slot.get_object() : nullptr;
}

std::size_t calls_not_ended(const engagement_state& s, std::int64_t now_ms) {
  return static_cast<std::size_t>(
      std::count_if(s.calls.begin(), s.calls.end(), [&](const auto& c) { return c->end_ms() > now_ms; }));
}

bool watched(const engagement_state& s) {
  return s.phase != engagement_phase::closed && s.phase != engagement_phase::declined;
}

}  // namespace

result<object> validate_call_terms(const object& terms) {
  for (const auto& kv : terms) {
    if (kv.key() != "slots" && kv.key() != "link" && kv.key() != "tz") {
      return bad_request("unknown field terms." + detail::display_name(kv.key()) + " of a call");
    }
  }
  const auto* slots = terms.if_contains("slots");
  if (!slots || !slots->is_array() || slots->get_array().empty() ||
      slots->get_array().size() > max_call_slots) {
    return bad_request("a call's terms need slots: 1 to " + std::to_string(max_call_slots) +
                       " of {start, minutes}");
  }
  object out;
  array checked;
  std::set<std::int64_t> starts;
  for (std::size_t i = 0; i < slots->get_array().size(); ++i) {
    auto slot = check_slot(slots->get_array()[i], i);
    if (!slot) return slot.err();
    if (!starts.insert(slot->at("start").as_int64()).second) {
      return bad_request("terms.slots[" + std::to_string(i) + "] starts when another slot does");
    }
    checked.push_back(std::move(*slot));
  }
  out["slots"] = std::move(checked);
  if (const auto* link = terms.if_contains("link"); link && !link->is_null()) {
    if (!link->is_string()) return bad_request("terms.link must be a string");
    std::string_view text = link->get_string();
    if (text.size() > max_call_link_chars) {
      return too_large("terms.link exceeds " + std::to_string(max_call_link_chars) + " characters");
    }
    if (auto ok = check_link(text); !ok) return ok.err();
    out["link"] = text;
  }
  if (const auto* tz = terms.if_contains("tz"); tz && !tz->is_null()) {
    if (!tz->is_string()) return bad_request("terms.tz must be a string");
    std::string_view text = tz->get_string();
    if (text.size() > max_call_tz_chars) {
      return too_large("terms.tz exceeds " + std::to_string(max_call_tz_chars) + " characters");
    }
    if (!detail::is_time_zone_name(text)) return bad_request("terms.tz must be an IANA zone name such as Europe/Berlin");
    out["tz"] = text;
  }
  return out;
}

result<void> check_call_slots(const object& terms, std::int64_t now_ms) {
  for (std::size_t i = 0; const auto* slot = slot_at(terms, static_cast<std::int64_t>(i)); ++i) {
    if (int_field(*slot, "start").value_or(0) <= now_ms) {
      return bad_request("terms.slots[" + std::to_string(i) + "] starts in the past");
    }
  }
  return {};
}

result<std::optional<object>> call_decision_terms(const engagement_state& s, const engagement_proposal& pr,
                                                  const object& decision, bool accepted, std::int64_t now_ms) {
  const auto index = int_field(decision, "slot");
  const bool has_slot = decision.contains("slot") && !decision.at("slot").is_null();
  if (pr.topic != "call" || !accepted) {
    if (has_slot) return bad_request("slot is given only when accepting a call");
    return std::optional<object>{};
  }
  if (!index) return bad_request("accepting a call needs slot (the index of the chosen slot)");
  const auto* slot = slot_at(pr.terms, *index);
  if (!slot) return bad_request("proposal " + std::to_string(pr.seq) + " has no slot " + std::to_string(*index));
  if (int_field(*slot, "start").value_or(0) <= now_ms) {
    return conflict("slot " + std::to_string(*index) + " of proposal " + std::to_string(pr.seq) + " has started");
  }
  if (calls_not_ended(s, now_ms) >= max_listed_calls) {
    return conflict("an engagement holds at most " + std::to_string(max_listed_calls) + " calls still to come");
  }
  object out = *slot;
  for (std::string_view key : {"link", "tz"}) {
    if (auto v = string_field(pr.terms, key)) out[key] = *v;
  }
  return std::optional<object>(std::move(out));
}

void schedule_call(engagement_state& s, const engagement_proposal& pr, const object& decision) {
  const auto* slot = slot_at(pr.terms, int_field(decision, "slot").value_or(-1));
  if (!slot) return;
  scheduled_call c;
  c.proposal = pr.seq;
  c.start = int_field(*slot, "start").value_or(0);
  c.minutes = int_field(*slot, "minutes").value_or(0);
  c.link = std::string(string_field(pr.terms, "link").value_or(""));
  c.tz = std::string(string_field(pr.terms, "tz").value_or(""));
  auto at = std::upper_bound(s.calls.begin(), s.calls.end(), c.start,
                             [](std::int64_t start, const auto& other) { return start < other->start; });
  s.calls.insert(at, std::make_shared<const scheduled_call>(std::move(c)));
  if (s.calls.size() > max_listed_calls) {
    // The call that ended first goes: a past one whenever there is one (the
    // rules refuse a call beyond the bound while all of them are to come).
    auto first_end = std::min_element(s.calls.begin(), s.calls.end(),
                                      [](const auto& a, const auto& b) { return a->end_ms() < b->end_ms(); });
    s.calls.erase(first_end);
  }
}

void mark_call_reminded(engagement_state& s, const event& reminder) {
  const auto proposal = int_field(reminder.body, "call");
  for (auto& c : s.calls) {
    if (proposal && c->proposal == *proposal && !c->reminded) {
      auto next = std::make_shared<scheduled_call>(*c);
      next->reminded = true;
      c = std::move(next);
    }
  }
}

array calls_json(const engagement_state& s) {
  array out;
  for (const auto& c : s.calls) {
    object o{{"proposal", c->proposal}, {"start", c->start}, {"minutes", c->minutes}};
    o["link"] = c->link.empty() ? value(nullptr) : value(c->link);
    o["tz"] = c->tz.empty() ? value(nullptr) : value(c->tz);
    out.push_back(std::move(o));
  }
  return out;
}

std::optional<std::int64_t> next_reminder_due(const engagement_state& s, std::int64_t now_ms) {
  if (!watched(s)) return std::nullopt;
  std::optional<std::int64_t> earliest;
  for (const auto& c : s.calls) {
    if (c->reminded || c->end_ms() <= now_ms) continue;
    const auto due = c->start - call_reminder_lead_ms;
    if (!earliest || due < *earliest) earliest = due;
  }
  return earliest;
}

std::vector<event> due_reminders(const engagement_state& s, std::int64_t now_ms) {
  std::vector<event> out;
  if (!watched(s)) return out;
  for (const auto& c : s.calls) {
    if (c->reminded || c->end_ms() <= now_ms || c->start - call_reminder_lead_ms > now_ms) continue;
    out.push_back(detail::make_event(channel::main(s.eng), "reminder", system_user(),
                                     object{{"call", c->proposal}, {"start", c->start}},
                                     "reminder:" + std::to_string(c->proposal)));
  }
  return out;
}

}  // namespace parley
