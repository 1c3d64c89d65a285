// The watcher's part of protocol §9.4: posting `proposal_expired`.
//
// An expiry is a workflow step like a decision: it runs among the
// engagement's exclusive ops and its append is guarded by the heads its state
// was read at, so a decision that committed first (on any instance) wins and
// no proposal is reported expired after it was decided. Its cid is derived
// from the proposal, so two instances, or a restart, store it once.
#include "protocol/proposal_expiry.hpp"
#include "server/sla_watcher.hpp"
#include "storage/clock.hpp"

namespace parley {

namespace {
// Appends (and catch-ups after a lost race) per round; a round that runs out
// leaves the rest to the retry timer. Above the 50 open proposals one round
// may expire, with room for races.
constexpr int max_expiry_passes = 64;
}  // namespace

void sla_watcher::post_expiries(const std::string& eng) {
  post_guarded_steps(
      eng,
      [ttl = windows_.proposal_ttl_ms](const engagement_state& s) -> std::optional<append_request> {
        auto due = due_expiries(s, ttl, now_ms());
        if (due.empty()) return std::nullopt;
        append_request req;
        req.events = std::move(due.front().events);
        return req;
      },
      max_expiry_passes);
}

}  // namespace parley
