#pragma once
// Posts `sla` events when an engagement misses a service level (protocol §4),
// `proposal_expired` when an open proposal outlives the TTL (§9.4), and a
// delivery's warning and automatic acceptance when its review window ends (§9.6).
// Engagements are kept in a heap by the time of their next miss: an idle
// engagement costs nothing per tick, one timer waits for the earliest. Each
// due is also mirrored to the shared due index (due_claims.hpp), through
// which any instance finds what is due in an engagement it does not hold.
#include "protocol/service_levels.hpp"
#include "server/availability_book.hpp"
#include "server/due_timer.hpp"
#include "server/engagements.hpp"
#include "storage/engine.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

namespace parley {

class sla_watcher {
 public:
  // `mirror`: where each engagement's next due is also kept (the shared index).
  sla_watcher(boost::asio::io_context& ioc, engine& storage, engagements& book, sla_windows windows,
              due_timer::mirror_fn mirror);

  // The engagement changed: watch for its next miss. Any thread.
  void schedule(const engagement_state& s);
  // Its due was claimed from the shared index: its next due is set anew
  // (mirrored, replacing the claim), firing at once when it has come. Any thread.
  void look_claimed(const std::string& eng);
  void stop();
  // Reveals the engagement's reviews when that is due (protocol §9.7,
  // sla_watcher_reviews.cpp): called after a review is stored. Any thread.
  void reveal_reviews(const std::string& eng);
  // Where the availability of the user who owes a reply is known (protocol
  // §9.3): the reply's due moves to the end of their away period. Set before start().
  void use_availability(availability_book& known) { known_ = &known; }

 private:
  // The earliest of everything the watcher posts for the engagement.
  std::optional<std::int64_t> due_of(const engagement_state& s) const;
  // On the watcher's thread; no due: the engagement has nothing to wait for.
  void schedule_at(const std::string& eng, std::optional<std::int64_t> due);
  // Takes the dues schedule() gathered, on the watcher's thread.
  void take_scheduled();
  void post_misses(const std::string& eng);
  void post_with(const std::string& eng, const engagement_state& s, const std::optional<owing_availability>& owing);
  std::optional<owing_availability> cached_owing(const engagement_state& s) const;
  void append_sla(const std::string& eng, append_request req);
  void retry_later(const std::string& eng);
  // Automatic workflow steps (an expiry, a delivery's review step) are
  // decided like posts: within the engagement's exclusive ops, each appended
  // guarded by the heads its state was read at, then the state caught up and
  // the next step due taken, at most `passes` appends per round.
  using step_fn = std::function<std::optional<append_request>(const engagement_state&)>;
  void post_guarded_steps(const std::string& eng, step_fn next, int passes);
  void append_guarded_step(const std::string& eng, engagements::snapshot s, std::shared_ptr<const step_fn> next,
                           std::function<void()> finished, int passes);
  // Proposals whose TTL has passed (sla_watcher_expiry.cpp).
  void post_expiries(const std::string& eng);
  // Deliveries' warnings and automatic acceptances (sla_watcher_deliveries.cpp).
  void post_review_steps(const std::string& eng);
  // The reveal of reviews (sla_watcher_reviews.cpp): one guarded append
  // within the engagement's exclusive ops, keyed by the engagement.
  void post_reveal(const std::string& eng);
  void append_reveal(const std::string& eng, engagements::snapshot s, std::function<void()> finished, int passes);

  boost::asio::io_context& ioc_;
  engine& storage_;
  engagements& book_;
  sla_windows windows_;
  due_timer due_;  // the next due per engagement
  // Dues from schedule(), on their way to the watcher's thread: one post
  // carries all that came meanwhile, not one post (and wake-up) per event.
  std::mutex scheduled_mutex_;
  std::vector<std::pair<std::string, std::optional<std::int64_t>>> scheduled_;
  bool stopped_ = false;
  availability_book* known_ = nullptr;
};

}  // namespace parley
