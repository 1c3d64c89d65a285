#pragma once
// Service levels of protocol §4: when a miss becomes due and the `sla` events
// (and `support` notices) that report it. Pure: the caller passes the clock.
//
// The watcher's loop: wait until next_due(); then append every due_misses()
// entry (sla first, then its notice). Each event's cid is derived from the miss,
// so the engine's idempotency key stores it at most once across restarts and
// instances; apply() of the committed `sla` event then silences that miss.
#include "protocol/engagement.hpp"
#include "protocol/event.hpp"
#include "protocol/result.hpp"

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace parley {

struct sla_windows {
  std::int64_t reply_ms = 24LL * 3600 * 1000;
  std::int64_t status_ms = 72LL * 3600 * 1000;
  phase_limits phases;
  // Open proposals expire this long after they were made (proposal_expiry.hpp).
  std::int64_t proposal_ttl_ms = 72LL * 3600 * 1000;
};

// "90s", "15m", "24h", "2d", "500ms", or a sum of them ("1d12h"). Positive only.
result<std::int64_t> parse_duration(std::string_view text);

// "discovery=2d,agreement=3d,active=28d,completion=5d"; phases left out keep
// their defaults; unknown or repeated phases are `bad_request`.
result<phase_limits> parse_phase_limits(std::string_view text);

// The earliest time at which a miss not yet posted, or a proposal's expiry
// (proposal_expiry.hpp), is (or was) due; none when nothing is being watched
// (e.g. once closed with no proposal open). May be in the past.
std::optional<std::int64_t> next_due(const engagement_state& s, const sla_windows& w);

struct sla_miss {
  event sla;                    // kind "sla" in eng:<id>, from system_user(), cid "sla:<type>:..."
  std::optional<event> notice;  // phase_overdue only: kind "notice" in `support`
};

// The misses due at `now_ms` and not yet posted, in the order reply, status, phase.
// Bodies: reply_overdue {side, since_seq, since_ts, due}; status_overdue {since, due};
// phase_overdue {phase, since, due}.
std::vector<sla_miss> due_misses(const engagement_state& s, const sla_windows& w, std::int64_t now_ms);

}  // namespace parley
