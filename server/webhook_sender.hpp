#pragma once
// Sends the webhook outbox (protocol §9.8) to the platform. A loop on one
// executor claims up to `concurrency` engagement queues (minus those it is
// sending) under a lease named after this instance, POSTs each queue's first
// entry, signed, and records the outcome: delivered, retry at the next time
// of the schedule (webhook_retry), or failed once the budget is spent. Per
// engagement one entry is in flight at a time, so order is kept; across
// engagements at most `concurrency` are, so a receiver that never answers
// costs that many connections, each until the deadline.
//
// Delivery is at least once: an instance that stops or crashes while a POST
// is in flight records nothing, and its lease lapses; whoever claims the
// queue next sends the entry again, with the same Parley-Event-Id. Receivers
// dedupe by that id.
//
// It wakes at least every `idle_poll`, and soon after poke() (a commit that
// may have stored hooks), though not more often than `min_claim_gap`.
//
// Threading: poke() and stop() may be called from any thread; everything
// else runs on the executor given (one thread, or a strand).
#include "protocol/webhook_retry.hpp"
#include "server/metrics.hpp"
#include "server/webhook_client.hpp"
#include "storage/webhook_outbox.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>

namespace parley {

struct webhook_sender_settings {
  std::string owner;   // this instance's name: the lease holder
  std::string secret;  // signs every body
  webhook_retry_policy retry;
  int concurrency = 8;
  // Longer than the client's deadline, so that a live sender's lease never
  // lapses under a POST in flight.
  std::int64_t lease_ms = 30000;
  std::chrono::milliseconds idle_poll{1000};
  std::chrono::milliseconds min_claim_gap{50};
  std::chrono::milliseconds stats_every{1000};
};

// One POST: the signed request, and the verdict (success: a 2xx).
using webhook_transport = std::function<void(webhook_request, std::function<void(result<void>)>)>;

class webhook_sender : public std::enable_shared_from_this<webhook_sender> {
 public:
  webhook_sender(boost::asio::any_io_executor executor, webhook_outbox& outbox, webhook_transport transport,
                 webhook_sender_settings settings, metrics& stats);

  void start();
  // Something may be due: claim soon.
  void poke();
  // No claim or outcome is recorded after this; POSTs in flight keep their
  // lease (see above). The outbox must outlive the call only.
  void stop();

  int in_flight() const { return static_cast<int>(sending_.size()); }

 private:
  using clock = std::chrono::steady_clock;
  void wake_at(clock::time_point at);
  void tick();
  void on_claimed(result<std::vector<webhook_entry>> claimed);
  void send(webhook_entry entry);
  void on_sent(const webhook_entry& entry, result<void> verdict);
  void on_finished();
  void refresh_stats();

  boost::asio::any_io_executor executor_;
  webhook_outbox& outbox_;
  webhook_transport transport_;
  webhook_sender_settings settings_;
  metrics& stats_;
  boost::asio::steady_timer timer_;
  std::optional<clock::time_point> armed_for_;
  clock::time_point last_claim_{};
  clock::time_point last_stats_{};
  bool claiming_ = false;
  bool claim_again_ = false;
  std::set<std::string> sending_;  // engagements with a POST in flight
  std::atomic<bool> poked_{false};
  std::atomic<bool> stopped_{false};
  std::mt19937_64 random_{std::random_device{}()};
};

}  // namespace parley
