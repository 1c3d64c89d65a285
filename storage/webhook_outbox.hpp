#pragma once
// The webhook outbox (protocol §9.8): what the platform is to be told, stored
// in the same atomic step as the event or record that causes it, and handed
// out to a sender one engagement queue at a time, so that per engagement a
// hook is sent only after the earlier ones succeeded (or failed for good).
//
// Both engines implement it. Leases make it safe with several instances: a
// claim leases an engagement's queue to one owner (an instance) until
// `lease_until`; another owner may claim it only after that, so a crashed
// sender's entries are taken over once its lease lapses.
//
// Threading: as engine (any thread; handlers run on the engine's threads).
#include "protocol/result.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace parley {

enum class webhook_state { pending, delivered, failed };

inline const char* webhook_state_name(webhook_state s) {
  switch (s) {
    case webhook_state::pending: return "pending";
    case webhook_state::delivered: return "delivered";
    case webhook_state::failed: return "failed";
  }
  return "pending";
}

// The state a name stands for (nullopt for anything else).
inline std::optional<webhook_state> parse_webhook_state(const std::string& s) {
  for (auto st : {webhook_state::pending, webhook_state::delivered, webhook_state::failed})
    if (s == webhook_state_name(st)) return st;
  return std::nullopt;
}

struct webhook_entry {
  std::string id;    // stable across retries: Parley-Event-Id and the body's "id"
  std::string eng;   // the engagement whose queue it is in
  std::string type;  // "engagement.phase", "decision.recorded", ... (protocol §9.8)
  std::int64_t ts = 0;  // created, Unix ms (the body's "ts")
  std::string body;     // the exact JSON POSTed: {"id","type","eng","ts","data"}
  webhook_state state = webhook_state::pending;
  int attempts = 0;             // POSTs made so far
  std::int64_t next_at = 0;     // Unix ms: not sent before
  std::string last_error;       // why the last attempt failed ("" before one did)
  std::int64_t delivered_at = 0;  // Unix ms, once delivered
};

// What became of one attempt, as the sender reports it.
struct webhook_outcome {
  enum kind_t { delivered, retry, failed } kind = delivered;
  std::int64_t at = 0;       // Unix ms of the attempt's end
  std::int64_t next_at = 0;  // retry: when to try again
  std::string error;         // retry, failed: why ("HTTP 500", "timeout", ...)
};

struct webhook_page {
  std::vector<webhook_entry> entries;  // oldest first
  std::optional<std::string> next;     // the id to page on from (as `after`), none at the end
};

// Listings page by at most this many entries.
constexpr int max_webhook_page = 200;

struct webhook_queue_stats {
  std::uint64_t pending = 0;          // entries pending in every queue
  std::int64_t oldest_pending_ts = 0;  // ts of the oldest pending entry (0: none)
};

class webhook_outbox {
 public:
  virtual ~webhook_outbox() = default;

  // Stores entries caused by no event (notify.digest), each at the end of its
  // engagement's queue, atomically. An id stored before is left as it was.
  virtual void enqueue_webhooks(std::vector<webhook_entry> entries, std::function<void(result<void>)> done) = 0;

  // Leases to `owner` up to `limit` engagement queues whose first pending
  // entry is due (next_at <= now) and which no other owner holds a live lease
  // on, until now + lease_ms, and answers those first entries (at most one per
  // engagement: order within an engagement is kept).
  virtual void claim_webhooks(std::string owner, std::int64_t now, std::int64_t lease_ms, int limit,
                              std::function<void(result<std::vector<webhook_entry>>)> handler) = 0;

  // Records the outcome of sending entry `id` of `eng` and releases the lease.
  // delivered and failed take it out of the pending queue (the next one becomes
  // first); retry keeps it first with attempts + 1, next_at and the error.
  // `conflict` when `owner` no longer holds the lease (another took it over:
  // nothing is changed).
  virtual void finish_webhook(std::string owner, std::string eng, std::string id, webhook_outcome outcome,
                              std::function<void(result<void>)> done) = 0;

  // A page of the entries in `state`, oldest first, after entry id `after`
  // ("" for the first page); `limit` is clamped to 1..max_webhook_page.
  virtual void list_webhooks(webhook_state state, std::string after, int limit,
                             std::function<void(result<webhook_page>)> handler) = 0;

  // Re-queues a failed entry: pending again, due at `now`, attempts 0, in its
  // original place in its engagement's queue. `not_found` for an unknown id;
  // `conflict` when it is not failed.
  virtual void retry_webhook(std::string id, std::int64_t now, std::function<void(result<webhook_entry>)> handler) = 0;

  virtual void webhook_stats(std::function<void(result<webhook_queue_stats>)> handler) = 0;
};

}  // namespace parley
