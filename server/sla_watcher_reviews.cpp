// The watcher's part of protocol §9.7: revealing the reviews.
//
// The reveal is due once both parties have reviewed (the hub asks right after
// the second review is stored) or when the review period ends (the watcher's
// timer, also after a restart). Like an expiry it runs among the engagement's
// exclusive ops, reads the sealed payloads from storage, and appends the
// `reviews` event with its record guarded by the heads its state was read at;
// its cid "reviews:<eng>" stores it once however many instances try, and
// apply() of it marks the reviews revealed, so it is never due again.
#include "protocol/reviews.hpp"
#include "server/sla_watcher.hpp"
#include "storage/clock.hpp"
#include "storage/log.hpp"

#include <boost/asio/post.hpp>

namespace parley {

namespace {
// Appends (and catch-ups after a lost race) per round; the retry timer takes over after.
constexpr int max_reveal_passes = 8;
}  // namespace

void sla_watcher::reveal_reviews(const std::string& eng) {
  boost::asio::post(ioc_, [this, eng] {
    if (!stopped_) post_reveal(eng);
  });
}

void sla_watcher::post_reveal(const std::string& eng) {
  book_.run_exclusive(eng, false, [this, eng](result<engagements::snapshot> state, std::function<void()> finished) {
    if (!state) {
      finished();
      return retry_later(eng);
    }
    append_reveal(eng, std::move(*state), std::move(finished), max_reveal_passes);
  });
}

void sla_watcher::append_reveal(const std::string& eng, engagements::snapshot s, std::function<void()> finished,
                                int passes) {
  if (!reveal_due(*s, windows_.phases.review_period_ms, now_ms())) return finished();
  if (passes <= 0) {
    finished();
    return retry_later(eng);
  }
  auto fail = [this, eng](const std::function<void()>& finished) {
    finished();
    retry_later(eng);
  };
  storage_.sealed(channel::main(eng), review_seqs(*s), [this, eng, s, finished = std::move(finished), passes,
                                                        fail](result<sealed_payloads> sealed) mutable {
    if (!sealed) return fail(finished);
    auto plan = plan_reveal(*s, *sealed);
    if (!plan) {
      log_event(log_level::error, "reviews_unrevealed", {{"eng", eng}, {"error", plan.err().message}});
      return fail(finished);
    }
    append_request req;
    req.events = std::move(plan->events);
    req.record = std::move(plan->record);
    req.expect_heads = guarded_heads(*s);
    storage_.append(std::move(req), [this, eng, finished = std::move(finished), passes,
                                     fail](result<appended> out) mutable {
      if (!out && !stale_heads(out.err())) return fail(finished);
      // Stored, stored before, or raced: catch up and look again.
      book_.catch_up(eng, [this, eng, finished = std::move(finished), passes,
                           fail](result<engagements::snapshot> next) mutable {
        if (!next) return fail(finished);
        append_reveal(eng, std::move(*next), std::move(finished), passes - 1);
      });
    });
  });
}

}  // namespace parley
