#pragma once
// Proposals expire (protocol §9.4): an open proposal older than the proposal
// TTL gets a system `proposal_expired {proposal}` event in its own channel and
// leaves the state. Pure: the caller passes the clock.
//
// Like the service levels, each expiry's cid is derived from the proposal
// ("proposal_expired:<seq>", unique per channel), so the engine's idempotency
// key stores it at most once across restarts and instances; apply() of the
// committed event removes the proposal, so it is never due again.
#include "protocol/engagement.hpp"
#include "protocol/event.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace parley {

constexpr std::int64_t default_proposal_ttl_ms = 72LL * 3600 * 1000;

// Agreed due dates (`terms.due`, ms) below this are refused: a value in
// seconds by mistake (1764122400) would be a date in January 1970.
constexpr std::int64_t min_agreed_due_ms = 1'000'000'000'000;  // 2001-09-09

// The time at which the oldest open proposal expires (its event's ts + ttl);
// none when no proposal is open. May be in the past.
std::optional<std::int64_t> next_expiry(const engagement_state& s, std::int64_t ttl_ms);

// The events that expire one proposal, appended together in one atomic step:
// `proposal_expired` in the proposal's channel, from system_user(), and for an
// invitation also `phase` invited → declined (so that a lapsed invitation does
// not leave the engagement waiting for an answer that can no longer come).
struct proposal_expiry {
  std::vector<event> events;
};

// The proposals open in `s` whose time has come at `now_ms`, oldest first.
std::vector<proposal_expiry> due_expiries(const engagement_state& s, std::int64_t ttl_ms, std::int64_t now_ms);

}  // namespace parley
