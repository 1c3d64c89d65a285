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
  book_.run_exclusive(eng, false, [this, eng](result<engagements::snapshot> state, std::function<void()> finished) {
    if (!state) {
      finished();
      return retry_later(eng);
    }
    append_expiry(eng, std::move(*state), std::move(finished), max_expiry_passes);
  });
}

void sla_watcher::append_expiry(const std::string& eng, engagements::snapshot s, std::function<void()> finished,
                                int passes) {
  auto due = due_expiries(*s, windows_.proposal_ttl_ms, now_ms());
  if (due.empty()) return finished();
  if (passes <= 0) {
    finished();
    return retry_later(eng);
  }
  append_request req;
  req.events = std::move(due.front().events);
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
    // channels up to their heads and expire the next one due.
    book_.catch_up(eng, [this, eng, finished = std::move(finished), passes](result<engagements::snapshot> next) mutable {
      if (!next) {
        finished();
        return retry_later(eng);
      }
      append_expiry(eng, std::move(*next), std::move(finished), passes - 1);
    });
  });
}

}  // namespace parley
