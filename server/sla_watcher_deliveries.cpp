// The watcher's part of protocol §9.6: a delivery's `review_due_soon` warning
// and its automatic acceptance when the review window has passed.
//
// An automatic acceptance is a decision like the client's: guarded by the
// heads its state was read at (post_guarded_steps), so a client's answer that
// committed first (on any instance) wins and the delivery is not accepted
// twice. Each step's cid is derived from the delivery, so two instances, or a
// restart, store it once.
#include "protocol/deliveries.hpp"
#include "server/sla_watcher.hpp"
#include "storage/clock.hpp"

namespace parley {

namespace {
// Appends (and catch-ups after a lost race) per round: above the 50
// deliverables' warnings and acceptances, with room for races. A round that
// runs out leaves the rest to the retry timer.
constexpr int max_review_passes = 128;
}  // namespace

void sla_watcher::post_review_steps(const std::string& eng) {
  post_guarded_steps(
      eng,
      [warning = windows_.review_warning_ms](const engagement_state& s) -> std::optional<append_request> {
        auto due = due_review_steps(s, now_ms(), warning);
        if (due.empty()) return std::nullopt;
        append_request req;
        req.events = std::move(due.front().steps.events);
        req.record = std::move(due.front().steps.record);
        return req;
      },
      max_review_passes);
}

}  // namespace parley
