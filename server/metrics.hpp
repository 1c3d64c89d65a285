#pragma once
// Counters for /metrics (Prometheus text format). Relaxed atomics: they are
// statistics, not synchronisation.
#include "protocol/engagement.hpp"
#include "server/latency_histogram.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace parley {

struct engine_stats;

// How this instance loaded engagements since it started (server/engagements.hpp).
struct engagement_loads {
  std::uint64_t from_snapshot = 0;  // loads that started from a stored snapshot
  std::uint64_t from_events = 0;    // loads that replayed every event (no usable snapshot)
  std::uint64_t events_replayed = 0;
  std::uint64_t snapshots_saved = 0;
};

struct metrics {
  std::atomic<std::int64_t> ws_connections{0};
  std::atomic<std::uint64_t> ws_connections_total{0};
  std::atomic<std::uint64_t> posts_accepted{0};
  std::atomic<std::uint64_t> posts_refused{0};
  std::atomic<std::uint64_t> deliveries{0};   // events written to sockets
  std::atomic<std::uint64_t> frames_sent{0};  // WebSocket frames (one may batch several events)
  std::atomic<std::uint64_t> slow_consumer_closes{0};
  std::atomic<std::uint64_t> write_timeouts{0};
  std::atomic<std::uint64_t> http_requests{0};
  std::atomic<std::uint64_t> accept_pauses{0};        // out of descriptors or memory
  std::atomic<std::uint64_t> connections_refused{0};  // over a connection cap
  std::atomic<std::uint64_t> tls_handshake_failures{0};  // refused, broken or past the deadline
  std::atomic<std::uint64_t> auth_failures{0};
  std::atomic<std::uint64_t> policy_closes{0};        // 4003 and 4008
  std::atomic<std::uint64_t> rate_limited{0};  // requests refused by a per-user limit
  std::atomic<std::uint64_t> uploads{0};          // files stored (protocol §9.6), repeats included
  std::atomic<std::uint64_t> upload_bytes{0};
  std::atomic<std::uint64_t> uploads_refused{0};
  std::atomic<std::uint64_t> downloads{0};
  std::atomic<std::uint64_t> read_markers_stored{0};
  std::atomic<std::uint64_t> read_markers_pushed{0};
  // Webhooks (protocol §9.8): outcomes of POSTs, and the outbox as the sender last read it.
  std::atomic<std::uint64_t> webhooks_delivered{0};
  std::atomic<std::uint64_t> webhooks_retried{0};
  std::atomic<std::uint64_t> webhooks_failed{0};
  std::atomic<std::int64_t> webhooks_in_flight{0};
  std::atomic<std::uint64_t> webhook_queue_depth{0};
  std::atomic<std::int64_t> webhook_oldest_pending_ts{0};  // Unix ms, 0: none pending

  // From a post's arrival to its acknowledgement (committed, fsynced); from a
  // commit to its event handed to the members' sockets on a worker; from a
  // join's arrival to its reply.
  latency_histogram post_latency;
  latency_histogram fanout_latency;
  latency_histogram join_latency;

  std::string render(const engine_stats& storage,
                     const std::array<std::size_t, engagement_phase_count>& engagements_by_phase,
                     const engagement_loads& loads) const;
};

inline void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

}  // namespace parley
