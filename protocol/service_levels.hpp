#pragma once
// Service levels of protocol §4: when a miss becomes due and the `sla` events
// (and `support` notices) that report it. Pure: the caller passes the clock.
//
// The watcher's loop: wait until next_due(); then append every due_misses()
// entry (sla first, then its notice). Each event's cid is derived from the miss,
// so the engine's idempotency key stores it at most once across restarts and
// instances; apply() of the committed `sla` event then silences that miss.
#include "protocol/availability.hpp"
#include "protocol/engagement.hpp"
#include "protocol/event.hpp"
#include "protocol/result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

struct sla_windows {
  std::int64_t reply_ms = 24LL * 3600 * 1000;
  std::int64_t status_ms = 72LL * 3600 * 1000;
  phase_limits phases;
  // Open proposals expire this long after they were made (proposal_expiry.hpp).
  std::int64_t proposal_ttl_ms = 72LL * 3600 * 1000;
  // `review_due_soon` comes this long before a delivery's review window ends (deliveries.hpp).
  std::int64_t review_warning_ms = 24LL * 3600 * 1000;
};

// "90s", "15m", "24h", "2d", "500ms", or a sum of them ("1d12h"). Positive only.
result<std::int64_t> parse_duration(std::string_view text);

// "discovery=2d,agreement=3d,active=28d,completion=5d"; phases left out keep
// their defaults; unknown or repeated phases are `bad_request`.
result<phase_limits> parse_phase_limits(std::string_view text);

// What is known of the availability of the user who owes a reply (protocol
// §9.3): a reply due inside their announced away period is due at its end.
struct owing_availability {
  std::optional<availability> value;
  std::int64_t set_at = 0;
};

// The user who owes the engagement's reply: the named party of the owing side
// (an engagement created by PUT), else the last user of that side who posted
// a message; none when nothing is owed.
std::optional<std::string> owing_user(const engagement_state& s);

// When the owed reply is due (the reply window, moved by the owing user's
// away period); none when nothing is owed.
std::optional<std::int64_t> reply_due(const engagement_state& s, const sla_windows& w,
                                      const std::optional<owing_availability>& owing = std::nullopt);

// The earliest time at which a miss not yet posted, or a proposal's expiry
// (proposal_expiry.hpp), is (or was) due; none when nothing is being watched
// (e.g. once closed with no proposal open). May be in the past.
std::optional<std::int64_t> next_due(const engagement_state& s, const sla_windows& w,
                                     const std::optional<owing_availability>& owing = std::nullopt);

struct sla_miss {
  event sla;                    // kind "sla" in eng:<id>, from system_user(), cid "sla:<type>:..."
  std::optional<event> notice;  // phase_overdue only: kind "notice" in `support`
};

// The misses due at `now_ms` and not yet posted, in the order reply, status, phase.
// Bodies: reply_overdue {side, since_seq, since_ts, due}; status_overdue {since, due};
// phase_overdue {phase, since, due}.
std::vector<sla_miss> due_misses(const engagement_state& s, const sla_windows& w, std::int64_t now_ms,
                                 const std::optional<owing_availability>& owing = std::nullopt);

}  // namespace parley
