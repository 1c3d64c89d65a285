// The watcher's part of protocol §9.6: a delivery's `review_due_soon` warning
// and its automatic acceptance when the review window has passed.
//
// An automatic acceptance is a decision like the client's: it runs among the
// engagement's exclusive ops and its append is guarded by the heads its state
// was read at, so a client's answer that committed first (on any instance)
// wins and the delivery is not accepted twice. Each step's cid is derived
// from the delivery, so two instances, or a restart, store it once.
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
  book_.run_exclusive(eng, false, [this, eng](result<engagements::snapshot> state, std::function<void()> finished) {
    if (!state) {
      finished();
      return retry_later(eng);
    }
    append_review_step(eng, std::move(*state), std::move(finished), max_review_passes);
  });
}

void sla_watcher::append_review_step(const std::string& eng, engagements::snapshot s, std::function<void()> finished,
                                     int passes) {
  auto due = due_review_steps(*s, now_ms(), windows_.review_warning_ms);
  if (due.empty()) return finished();
  if (passes <= 0) {
    finished();
    return retry_later(eng);
  }
  append_request req;
  req.events = std::move(due.front().steps.events);
  req.record = std::move(due.front().steps.record);
  for (const auto& ch : guarded_channels(s->eng)) {
    auto it = s->applied.find(ch);
    req.expect_heads.emplace_back(ch, it == s->applied.end() ? 0 : it->second);
  }
  storage_.append(std::move(req), [this, eng, finished = std::move(finished), passes](result<appended> out) mutable {
    if (!out && !stale_heads(out.err())) {
      finished();
      return retry_later(eng);
    }
    // Stored, stored before (the state has not seen it yet) or raced: read the
    // channels up to their heads and take the next step due.
    book_.catch_up(eng, [this, eng, finished = std::move(finished), passes](result<engagements::snapshot> next) mutable {
      if (!next) {
        finished();
        return retry_later(eng);
      }
      append_review_step(eng, std::move(*next), std::move(finished), passes - 1);
    });
  });
}

}  // namespace parley
