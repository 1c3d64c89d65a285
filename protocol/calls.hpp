#pragma once
// Introductory calls (protocol §9.5): the terms of a `call` proposal, the slot
// its acceptance picks, the calls an engagement has scheduled, and their
// reminders. Pure: the caller passes the clock.
//
// The watcher's loop for reminders is the service levels' one: wait until
// next_reminder_due(); then append every due_reminders() event. Each cid is
// derived from the call, so the engine's idempotency key stores a reminder at
// most once across restarts and instances; apply() of the committed
// `reminder` marks the call reminded, which silences it.
#include "protocol/engagement.hpp"
#include "protocol/event.hpp"
#include "protocol/result.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace parley {

// Bounds of a call proposal's terms (protocol/README.md "Calls").
constexpr std::size_t max_call_slots = 5;
constexpr std::int64_t min_call_minutes = 15;
constexpr std::int64_t max_call_minutes = 240;
constexpr std::size_t max_call_link_chars = 2000;
constexpr std::size_t max_call_tz_chars = 64;
// The last moment a call may end: 9999-12-31T23:59:59Z, so that every time
// written to a calendar has the four-digit year RFC 5545 requires.
constexpr std::int64_t max_call_end_ms = 253'402'300'799'000;
// The reminder comes this long before a call starts.
constexpr std::int64_t call_reminder_lead_ms = 15LL * 60 * 1000;
// Scheduled calls kept in the state, past ones included; beyond it the call
// that ended first is dropped (and accepting one more is refused while all of
// them are still to come).
constexpr std::size_t max_listed_calls = 20;

// The `terms` of a `call` proposal, checked strictly (any other key, a slot
// out of bounds, a duplicate start, a link that is not a plain https URL, a
// malformed zone name: `bad_request`; an oversized link or zone: `too_large`),
// copied with exactly the known keys. Without a clock: see check_call_slots.
result<boost::json::object> validate_call_terms(const boost::json::object& terms);

// A call proposed at `now_ms`: every slot must start after it (`bad_request`).
result<void> check_call_slots(const boost::json::object& terms, std::int64_t now_ms);

// The record terms of a decision on proposal `pr`: for an accepted `call`, the
// chosen slot {start, minutes, link?, tz?}; none for anything else. A `slot`
// is needed to accept a call and allowed nowhere else (`bad_request`, as is a
// slot beyond the proposal's); a slot that has started by `now_ms` is `conflict`.
// Accepting one more call while max_listed_calls have not ended is `conflict`.
result<std::optional<boost::json::object>> call_decision_terms(const engagement_state& s,
                                                               const engagement_proposal& pr,
                                                               const boost::json::object& decision, bool accepted,
                                                               std::int64_t now_ms);

// apply() of an accepted `call` decision and of a `reminder` event.
void schedule_call(engagement_state& s, const engagement_proposal& pr, const boost::json::object& decision);
void mark_call_reminded(engagement_state& s, const event& reminder);

// state.calls: [{proposal, start, minutes, link, tz}] by start (link and tz null when none).
boost::json::array calls_json(const engagement_state& s);

// When the next reminder not yet posted is (or was) due: start − 15 min of the
// earliest call not reminded that has not ended by `now_ms`; none once the
// engagement is closed or declined. May be in the past.
std::optional<std::int64_t> next_reminder_due(const engagement_state& s, std::int64_t now_ms);

// The `reminder` events due at `now_ms` and not yet posted: kind "reminder" in
// eng:<id> from system_user(), body {call: <proposal seq>, start}, cid
// "reminder:<proposal seq>". A call that has ended gets none.
std::vector<event> due_reminders(const engagement_state& s, std::int64_t now_ms);

}  // namespace parley
