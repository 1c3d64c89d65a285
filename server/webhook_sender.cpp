#include "server/webhook_sender.hpp"

#include "protocol/webhook_signature.hpp"
#include "storage/clock.hpp"
#include "storage/log.hpp"

#include <boost/asio/post.hpp>

namespace parley {
namespace net = boost::asio;

webhook_sender::webhook_sender(net::any_io_executor executor, webhook_outbox& outbox, webhook_transport transport,
                               webhook_sender_settings settings, metrics& stats)
    : executor_(executor),
      outbox_(outbox),
      transport_(std::move(transport)),
      settings_(std::move(settings)),
      stats_(stats),
      timer_(executor) {
  if (settings_.concurrency < 1) settings_.concurrency = 1;
}

void webhook_sender::start() {
  net::post(executor_, [self = shared_from_this()] { self->tick(); });
}

void webhook_sender::poke() {
  if (stopped_.load() || poked_.exchange(true)) return;
  net::post(executor_, [self = shared_from_this()] {
    self->poked_.store(false);
    self->wake_at(self->last_claim_ + self->settings_.min_claim_gap);
  });
}

void webhook_sender::stop() {
  stopped_.store(true);
  net::post(executor_, [self = shared_from_this()] { self->timer_.cancel(); });
}

void webhook_sender::wake_at(clock::time_point at) {
  if (stopped_.load()) return;
  if (armed_for_ && *armed_for_ <= at) return;
  armed_for_ = at;
  timer_.expires_at(at);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec) return;  // re-armed earlier, or stopped
    self->armed_for_.reset();
    self->tick();
  });
}

void webhook_sender::tick() {
  if (stopped_.load()) return;
  auto now = clock::now();
  if (now - last_stats_ >= settings_.stats_every) refresh_stats();
  if (claiming_) {
    claim_again_ = true;
    return;
  }
  int free = settings_.concurrency - in_flight();
  if (free <= 0) return wake_at(now + settings_.idle_poll);
  claiming_ = true;
  last_claim_ = now;
  // Queues being sent are asked for too (this owner's own lease does not
  // exclude them) and skipped, so that they do not take the places of others.
  outbox_.claim_webhooks(settings_.owner, now_ms(), settings_.lease_ms, settings_.concurrency,
                         [self = shared_from_this()](result<std::vector<webhook_entry>> claimed) {
                           net::post(self->executor_, [self, claimed = std::move(claimed)]() mutable {
                             self->on_claimed(std::move(claimed));
                           });
                         });
}

void webhook_sender::on_claimed(result<std::vector<webhook_entry>> claimed) {
  claiming_ = false;
  if (stopped_.load()) return;
  if (!claimed) {
    log_event(log_level::warn, "webhook_claim_failed", {{"error", claimed.err().message}});
  } else {
    // Entries beyond the free places stay leased to this owner: the next claim takes them up.
    for (auto& entry : *claimed) {
      if (in_flight() >= settings_.concurrency) break;
      if (sending_.count(entry.eng)) continue;
      send(std::move(entry));
    }
  }
  auto now = clock::now();
  wake_at(now + settings_.idle_poll);
  if (claim_again_) {
    claim_again_ = false;
    wake_at(last_claim_ + settings_.min_claim_gap);
  }
}

void webhook_sender::send(webhook_entry entry) {
  sending_.insert(entry.eng);
  stats_.webhooks_in_flight.store(in_flight(), std::memory_order_relaxed);
  webhook_request request;
  request.event_id = entry.id;
  request.signature = webhook_signature_header(settings_.secret, now_ms() / 1000, entry.body);
  request.body = entry.body;
  transport_(std::move(request), [self = shared_from_this(), entry = std::move(entry)](result<void> verdict) mutable {
    net::post(self->executor_, [self, entry = std::move(entry), verdict = std::move(verdict)]() mutable {
      self->on_sent(entry, std::move(verdict));
    });
  });
}

void webhook_sender::on_sent(const webhook_entry& entry, result<void> verdict) {
  // Stopping: the outcome is not recorded; the lease lapses and the entry is sent again.
  if (stopped_.load()) return;
  webhook_outcome outcome;
  outcome.at = now_ms();
  if (verdict) {
    outcome.kind = webhook_outcome::delivered;
    bump(stats_.webhooks_delivered);
  } else {
    outcome.error = verdict.err().message.substr(0, 200);
    std::uniform_real_distribution<double> draw(0.0, 1.0);
    auto next = webhook_next_attempt(settings_.retry, entry.attempts + 1, entry.ts, outcome.at, draw(random_));
    if (next) {
      outcome.kind = webhook_outcome::retry;
      outcome.next_at = *next;
      bump(stats_.webhooks_retried);
    } else {
      outcome.kind = webhook_outcome::failed;
      bump(stats_.webhooks_failed);
    }
    log_event(next ? log_level::info : log_level::warn, next ? "webhook_retry" : "webhook_failed",
              {{"id", entry.id},
               {"eng", entry.eng},
               {"attempts", std::to_string(entry.attempts + 1)},
               {"error", outcome.error}});
  }
  outbox_.finish_webhook(settings_.owner, entry.eng, entry.id, std::move(outcome),
                         [self = shared_from_this(), eng = entry.eng, id = entry.id](result<void> done) {
                           if (!done) {
                             // Another instance took the queue over (our lease lapsed): it sends the entry.
                             log_event(log_level::warn, "webhook_finish_refused",
                                       {{"id", id}, {"eng", eng}, {"error", done.err().message}});
                           }
                           net::post(self->executor_, [self, eng] {
                             self->sending_.erase(eng);
                             self->stats_.webhooks_in_flight.store(self->in_flight(), std::memory_order_relaxed);
                             self->on_finished();
                           });
                         });
}

void webhook_sender::on_finished() {
  // The queue's next entry may be due now: no need to wait for the poll.
  wake_at(last_claim_ + settings_.min_claim_gap);
}

void webhook_sender::refresh_stats() {
  last_stats_ = clock::now();
  stats_.webhooks_in_flight.store(in_flight(), std::memory_order_relaxed);
  outbox_.webhook_stats([self = shared_from_this()](result<webhook_queue_stats> s) {
    if (!s) return;
    self->stats_.webhook_queue_depth.store(s->pending, std::memory_order_relaxed);
    self->stats_.webhook_oldest_pending_ts.store(s->oldest_pending_ts, std::memory_order_relaxed);
  });
}

}  // namespace parley
