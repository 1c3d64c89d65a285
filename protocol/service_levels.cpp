#include "protocol/service_levels.hpp"

#include "protocol/proposal_expiry.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>

namespace parley {
namespace {

struct pending {
  std::string type;
  std::int64_t due = 0;
};

// The one miss per service level currently being watched, whether posted or not.
struct watched {
  std::optional<std::int64_t> reply_due;
  std::optional<std::int64_t> status_since;
  std::optional<std::int64_t> status_due;
  std::optional<std::int64_t> phase_due;
};

// While active, an agreed due date replaces the phase's bound (§9.4).
bool agreed_due_governs(const engagement_state& s) {
  return s.phase == engagement_phase::active && s.agreed_due.has_value();
}

watched watch(const engagement_state& s, const sla_windows& w, const std::optional<owing_availability>& owing) {
  watched out;
  if (s.phase == engagement_phase::closed || s.phase == engagement_phase::declined) return out;
  if (s.owed_reply && s.reply_miss_posted != s.owed_reply->since_seq) {
    out.reply_due = reply_due(s, w, owing);
  }
  if (s.phase == engagement_phase::active) {
    // Counted from the later of entering active and the last status.
    auto since = std::max(s.phase_since_ms, s.last_status_ts.value_or(s.phase_since_ms));
    if (s.status_miss_posted != since) {
      out.status_since = since;
      out.status_due = since + w.status_ms;
    }
  }
  // Posted once per phase, and again for each date an agreement moves the due to.
  const bool agreed = agreed_due_governs(s);
  if (s.phase_miss_posted != std::make_pair(s.phase, s.phase_since_ms) ||
      (agreed && s.phase_miss_due != s.agreed_due)) {
    out.phase_due = phase_due(s, w.phases);
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

event sla_event(const engagement_state& s, std::string cid, boost::json::object body) {
  event ev;
  ev.ch = channel::main(s.eng);
  ev.kind = "sla";
  ev.from = system_user();
  ev.cid = std::move(cid);
  ev.body = std::move(body);
  return ev;
}

}  // namespace

result<std::int64_t> parse_duration(std::string_view text) {
  auto bad = [&] {
    return make_error(errc::bad_request, "bad duration \"" + std::string(text) + "\" (use e.g. 90s, 15m, 24h, 2d)");
  };
  std::string_view rest = trim(text);
  if (rest.empty()) return bad();
  std::int64_t total = 0;
  while (!rest.empty()) {
    std::int64_t amount = 0;
    auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), amount);
    if (ec != std::errc() || ptr == rest.data() || amount < 0) return bad();
    rest.remove_prefix(static_cast<std::size_t>(ptr - rest.data()));
    std::int64_t unit = 0;
    if (rest.starts_with("ms")) {
      unit = 1;
      rest.remove_prefix(2);
    } else if (!rest.empty()) {
      switch (rest.front()) {
        case 's': unit = 1000; break;
        case 'm': unit = 60 * 1000; break;
        case 'h': unit = 3600 * 1000; break;
        case 'd': unit = 24 * 3600 * 1000; break;
        default: return bad();
      }
      rest.remove_prefix(1);
    } else {
      return bad();
    }
    // Reject values that would overflow rather than wrap into nonsense.
    if (amount > (INT64_MAX - total) / unit) return bad();
    total += amount * unit;
  }
  if (total <= 0) return bad();
  return total;
}

result<phase_limits> parse_phase_limits(std::string_view text) {
  phase_limits limits;
  bool seen[7] = {};
  std::string_view rest = text;
  while (!trim(rest).empty()) {
    auto comma = rest.find(',');
    auto item = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    auto eq = item.find('=');
    if (eq == std::string_view::npos) {
      return make_error(errc::bad_request, "bad phase limit \"" + std::string(item) + "\" (use phase=duration)");
    }
    auto name = trim(item.substr(0, eq));
    auto p = parse_phase(name);
    if (!p || *p == engagement_phase::closed || *p == engagement_phase::declined) {
      return make_error(errc::bad_request, "unknown phase \"" + std::string(name) + "\" in phase limits");
    }
    auto index = static_cast<std::size_t>(*p);
    if (seen[index]) return make_error(errc::bad_request, "phase " + std::string(name) + " given twice");
    seen[index] = true;
    auto d = parse_duration(item.substr(eq + 1));
    if (!d) return d.err();
    switch (*p) {
      case engagement_phase::invited: limits.invited_ms = *d; break;
      case engagement_phase::discovery: limits.discovery_ms = *d; break;
      case engagement_phase::agreement: limits.agreement_ms = *d; break;
      case engagement_phase::active: limits.active_ms = *d; break;
      case engagement_phase::completion: limits.completion_ms = *d; break;
      case engagement_phase::closed:
      case engagement_phase::declined: break;
    }
  }
  return limits;
}

std::optional<std::string> owing_user(const engagement_state& s) {
  if (!s.owed_reply) return std::nullopt;
  if (auto named = named_party(s, s.owed_reply->owing)) return std::string(*named);
  const auto& last = s.last_speaker[static_cast<std::size_t>(s.owed_reply->owing)];
  if (last.empty()) return std::nullopt;
  return last;
}

std::optional<std::int64_t> reply_due(const engagement_state& s, const sla_windows& w,
                                      const std::optional<owing_availability>& owing) {
  if (!s.owed_reply) return std::nullopt;
  auto base = s.owed_reply->since_ts + w.reply_ms;
  if (!owing) return base;
  return reply_due_for(base, owing->value, owing->set_at);
}

std::optional<std::int64_t> next_due(const engagement_state& s, const sla_windows& w,
                                     const std::optional<owing_availability>& owing) {
  auto due = watch(s, w, owing);
  std::optional<std::int64_t> earliest;
  for (const auto& d : {due.reply_due, due.status_due, due.phase_due}) {
    if (d && (!earliest || *d < *earliest)) earliest = d;
  }
  if (auto expiry = next_expiry(s, w.proposal_ttl_ms); expiry && (!earliest || *expiry < *earliest)) earliest = expiry;
  return earliest;
}

std::vector<sla_miss> due_misses(const engagement_state& s, const sla_windows& w, std::int64_t now_ms,
                                 const std::optional<owing_availability>& owing) {
  auto due = watch(s, w, owing);
  std::vector<sla_miss> out;
  if (due.reply_due && *due.reply_due <= now_ms) {
    const auto& owed = *s.owed_reply;
    out.push_back({sla_event(s, "sla:reply_overdue:" + std::to_string(owed.since_seq),
                             boost::json::object{{"type", "reply_overdue"},
                                                 {"side", side_name(owed.owing)},
                                                 {"since_seq", owed.since_seq},
                                                 {"since_ts", owed.since_ts},
                                                 {"due", *due.reply_due}}),
                   std::nullopt});
  }
  if (due.status_due && *due.status_due <= now_ms) {
    out.push_back({sla_event(s, "sla:status_overdue:" + std::to_string(*due.status_since),
                             boost::json::object{{"type", "status_overdue"},
                                                 {"since", *due.status_since},
                                                 {"due", *due.status_due}}),
                   std::nullopt});
  }
  if (due.phase_due && *due.phase_due <= now_ms) {
    const auto phase = std::string(phase_name(s.phase));
    // A miss of an agreed due date is keyed by the date too: a moved date can be missed again.
    auto key = phase + ":" + std::to_string(s.phase_since_ms);
    if (agreed_due_governs(s)) key += ":" + std::to_string(*due.phase_due);
    sla_miss miss{sla_event(s, "sla:phase_overdue:" + key,
                            boost::json::object{{"type", "phase_overdue"},
                                                {"phase", phase},
                                                {"since", s.phase_since_ms},
                                                {"due", *due.phase_due}}),
                  std::nullopt};
    event notice;
    notice.ch = "support";
    notice.kind = "notice";
    notice.from = system_user();
    // The support channel is shared by every engagement: the cid names it.
    notice.cid = "notice:phase_overdue:" + s.eng + ":" + key;
    notice.body = {{"type", "phase_overdue"},
                   {"eng", s.eng},
                   {"text", channel::main(s.eng) + (agreed_due_governs(s) ? " has passed its agreed due date"
                                                                             : " has outlasted the " + phase + " phase")}};
    miss.notice = std::move(notice);
    out.push_back(std::move(miss));
  }
  return out;
}

}  // namespace parley
