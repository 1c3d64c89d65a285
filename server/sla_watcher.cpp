#include "server/sla_watcher.hpp"

#include "protocol/calls.hpp"
#include "protocol/deliveries.hpp"
#include "protocol/proposal_expiry.hpp"
#include "protocol/reviews.hpp"
#include "storage/clock.hpp"
#include "storage/log.hpp"
#include "storage/webhook_hooks.hpp"

#include <boost/asio/post.hpp>


namespace parley {
namespace net = boost::asio;

namespace {
// After a failed append the miss is tried again this much later.
constexpr std::int64_t retry_ms = 5000;

// The earlier of a service level's next miss and a call's next reminder.
std::optional<std::int64_t> earliest(std::optional<std::int64_t> a, std::optional<std::int64_t> b) {
  if (!a || (b && *b < *a)) return b;
  return a;
}
}  // namespace

sla_watcher::sla_watcher(net::io_context& ioc, engine& storage, engagements& book, sla_windows windows,
                         due_timer::mirror_fn mirror)
    : ioc_(ioc), storage_(storage), book_(book), windows_(windows),
      due_(ioc, [this](const std::string& eng) { post_misses(eng); }, std::move(mirror)) {}

// What this instance knows of the owing user's availability (possibly stale:
// post_misses reads it fresh before posting a reply miss).
std::optional<owing_availability> sla_watcher::cached_owing(const engagement_state& s) const {
  if (!known_) return std::nullopt;
  auto who = owing_user(s);
  if (!who) return std::nullopt;
  auto k = known_->known(*who);
  if (!k) return std::nullopt;
  return owing_availability{k->value, k->set_at};
}

std::optional<std::int64_t> sla_watcher::due_of(const engagement_state& s) const {
  auto due = earliest(next_due(s, windows_, cached_owing(s)), next_reminder_due(s, now_ms()));
  due = earliest(due, next_review_step(s, windows_.review_warning_ms));
  return earliest(due, next_reveal_due(s, windows_.phases.review_period_ms));
}

void sla_watcher::schedule(const engagement_state& s) {
  {
    std::lock_guard lock(scheduled_mutex_);
    scheduled_.emplace_back(s.eng, due_of(s));
    if (scheduled_.size() > 1) return;  // a post is on its way
  }
  net::post(ioc_, [this] { take_scheduled(); });
}

void sla_watcher::look_claimed(const std::string& eng) {
  book_.with_state(eng, false, [this, eng](result<engagements::snapshot> state) {
    // Unreachable storage: the claim's lease runs out and it comes back.
    if (!state && state.err().code != errc::not_found) return;
    std::optional<std::int64_t> due;
    if (state) due = due_of(**state);
    net::post(ioc_, [this, eng, due] {
      if (stopped_) return;
      due_.forget(eng);
      if (due)
        due_.set(eng, *due);
      else
        due_.clear(eng);
    });
  });
}

void sla_watcher::take_scheduled() {
  std::vector<std::pair<std::string, std::optional<std::int64_t>>> taken;
  {
    std::lock_guard lock(scheduled_mutex_);
    taken.swap(scheduled_);
  }
  for (const auto& [eng, due] : taken) schedule_at(eng, due);
}

void sla_watcher::stop() {
  net::post(ioc_, [this] {
    stopped_ = true;
    due_.cancel();
  });
}

void sla_watcher::schedule_at(const std::string& eng, std::optional<std::int64_t> due) {
  if (stopped_) return;
  if (due)
    due_.set(eng, *due);
  else if (due_.due_of(eng))
    due_.clear(eng);
}

void sla_watcher::retry_later(const std::string& eng) {
  net::post(ioc_, [this, eng] { schedule_at(eng, now_ms() + retry_ms); });
}

void sla_watcher::append_sla(const std::string& eng, append_request req) {
  storage_.append(std::move(req), [this, eng](result<appended> out) {
    if (!out) retry_later(eng);
  });
}

// Each miss's cid is derived from the miss, so storage keeps it once, whoever
// posts it and however often. The committed `sla` event reschedules the engagement.
void sla_watcher::post_misses(const std::string& eng) {
  book_.with_state(eng, false, [this, eng](result<engagements::snapshot> state) {
    if (!state) return retry_later(eng);
    auto s = *state;
    auto who = owing_user(*s);
    if (!who || !known_) return post_with(eng, *s, std::nullopt);
    // The owing user's availability fresh from storage, so that every
    // instance decides by the same one; the miss's cid keeps it once-only.
    storage_.user_records({*who}, [this, eng, s, who = *who](result<std::vector<user_record>> found) {
      if (!found) return retry_later(eng);
      std::optional<user_record> r;
      if (!found->empty()) r = found->front();
      known_->remember(who, r, now_ms());
      std::optional<owing_availability> owing;
      if (r) {
        auto k = availability_book::from_record(*r);
        owing = owing_availability{k.value, k.set_at};
      }
      post_with(eng, *s, owing);
    });
  });
}

// Posts the misses due now; a reply miss whose due moved to the end of an
// away period is not due yet and is scheduled for then instead.
void sla_watcher::post_with(const std::string& eng, const engagement_state& s,
                            const std::optional<owing_availability>& owing) {
  auto now = now_ms();
  // A later miss of the same engagement (e.g. the status window after the reply window).
  auto next = earliest(next_due(s, windows_, owing), next_reminder_due(s, now));
  next = earliest(next, next_reveal_due(s, windows_.phases.review_period_ms));
  // A review step still to come; one due now is posted below and reschedules when stored.
  if (auto review = next_review_step(s, windows_.review_warning_ms); review && *review > now)
    next = earliest(next, review);
  if (next && *next > now) net::post(ioc_, [this, eng, due = *next] { schedule_at(eng, due); });
  if (!due_expiries(s, windows_.proposal_ttl_ms, now).empty()) post_expiries(eng);
  if (reveal_due(s, windows_.phases.review_period_ms, now)) post_reveal(eng);
  if (!due_review_steps(s, now, windows_.review_warning_ms).empty()) post_review_steps(eng);
  // Call reminders (calls.hpp): keyed by the call, stored once like the misses.
  for (auto& reminder : due_reminders(s, now)) {
    append_request req;
    req.events.push_back(std::move(reminder));
    append_sla(eng, std::move(req));
  }
  for (auto& miss : due_misses(s, windows_, now, owing)) {
    // The notice goes first: once the `sla` event is stored the miss counts
    // as posted, so a crash between the two must not lose the notice.
    // Both are keyed by the miss, so doing them again stores nothing twice.
    append_request req;
    req.events.push_back(std::move(miss.sla));
    if (!miss.notice) {
      append_sla(eng, std::move(req));
      continue;
    }
    append_request n;
    n.events.push_back(std::move(*miss.notice));
    storage_.append(std::move(n), [this, eng, req = std::move(req)](result<appended> out) mutable {
      if (!out) return retry_later(eng);
      append_sla(eng, std::move(req));
    });
  }
}


void sla_watcher::post_guarded_steps(const std::string& eng, step_fn next, int passes) {
  auto shared = std::make_shared<const step_fn>(std::move(next));
  book_.run_exclusive(eng, false, [this, eng, shared, passes](result<engagements::snapshot> state,
                                                             std::function<void()> finished) {
    if (!state) {
      finished();
      return retry_later(eng);
    }
    append_guarded_step(eng, std::move(*state), shared, std::move(finished), passes);
  });
}

void sla_watcher::append_guarded_step(const std::string& eng, engagements::snapshot s,
                                      std::shared_ptr<const step_fn> next, std::function<void()> finished,
                                      int passes) {
  auto req = (*next)(*s);
  if (!req) return finished();
  // An automatic acceptance may close: its hook carries the agreement (§9.8).
  req->closing_agreement = closing_agreement_of(*s, req->events);
  if (passes <= 0) {
    finished();
    return retry_later(eng);
  }
  req->expect_heads = guarded_heads(*s);
  storage_.append(std::move(*req), [this, eng, next, finished = std::move(finished),
                                    passes](result<appended> out) mutable {
    if (!out && !stale_heads(out.err())) {
      finished();
      return retry_later(eng);
    }
    // Stored, stored before (the state has not seen it yet) or raced: read the
    // channels up to their heads and take the next step due.
    book_.catch_up(eng, [this, eng, next, finished = std::move(finished),
                         passes](result<engagements::snapshot> state) mutable {
      if (!state) {
        finished();
        return retry_later(eng);
      }
      append_guarded_step(eng, std::move(*state), next, std::move(finished), passes - 1);
    });
  });
}

}  // namespace parley
