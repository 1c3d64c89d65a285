#include "server/metrics.hpp"

#include "storage/clock.hpp"
#include "storage/engine.hpp"
#include "storage/error_counts.hpp"

#include <sstream>

namespace parley {

std::string metrics::render(const engine_stats& storage,
                            const std::array<std::size_t, engagement_phase_count>& engagements_by_phase,
                            const engagement_loads& loads) const {
  std::ostringstream out;
  auto line = [&](const char* name, const char* type, const char* help, auto value) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
        << name << ' ' << value << '\n';
  };
  auto load = [](const auto& a) { return a.load(std::memory_order_relaxed); };
  line("parley_ws_connections", "gauge", "Open WebSocket connections.", load(ws_connections));
  line("parley_ws_connections_total", "counter", "WebSocket connections accepted.", load(ws_connections_total));
  line("parley_posts_accepted_total", "counter", "Posts stored and acknowledged.", load(posts_accepted));
  line("parley_posts_refused_total", "counter", "Posts answered with an error.", load(posts_refused));
  line("parley_deliveries_total", "counter", "Events written to WebSocket connections.", load(deliveries));
  line("parley_frames_sent_total", "counter", "WebSocket frames sent (a frame may batch several events).", load(frames_sent));
  line("parley_slow_consumer_closes_total", "counter", "Connections closed with 4001.", load(slow_consumer_closes));
  line("parley_write_timeouts_total", "counter", "Connections closed because a write did not complete.", load(write_timeouts));
  line("parley_http_requests_total", "counter", "HTTP requests served.", load(http_requests));
  line("parley_accept_pauses_total", "counter", "Pauses of accepting: out of descriptors or memory.", load(accept_pauses));
  line("parley_connections_refused_total", "counter", "Connections refused over a connection cap.", load(connections_refused));
  line("parley_tls_handshake_failures_total", "counter", "TLS handshakes refused, broken or not done in time.",
       load(tls_handshake_failures));
  line("parley_auth_failures_total", "counter", "Tokens refused.", load(auth_failures));
  line("parley_policy_closes_total", "counter", "WebSocket connections closed with 4003 or 4008.", load(policy_closes));
  line("parley_rate_limited_total", "counter", "Requests refused by a per-user rate limit.", load(rate_limited));
  line("parley_uploads_total", "counter", "Files uploaded and stored.", load(uploads));
  line("parley_upload_bytes_total", "counter", "Bytes of files uploaded and stored.", load(upload_bytes));
  line("parley_uploads_refused_total", "counter", "Uploads refused (size, quota, rate, access, name).", load(uploads_refused));
  line("parley_downloads_total", "counter", "File downloads answered with the file.", load(downloads));
  line("parley_read_markers_stored_total", "counter", "Read markers written to storage (batched).", load(read_markers_stored));
  line("parley_read_markers_pushed_total", "counter", "Read markers that moved forward and were pushed to members.", load(read_markers_pushed));
  out << "# HELP parley_webhook_deliveries_total Webhook POSTs by outcome (delivered, retry later, failed for good).\n"
         "# TYPE parley_webhook_deliveries_total counter\n";
  for (const auto& [result, count] : {std::pair{"delivered", &webhooks_delivered}, std::pair{"retry", &webhooks_retried},
                                      std::pair{"failed", &webhooks_failed}})
    out << "parley_webhook_deliveries_total{result=\"" << result << "\"} " << load(*count) << '\n';
  line("parley_webhook_in_flight", "gauge", "Webhook POSTs in flight on this instance.", load(webhooks_in_flight));
  line("parley_webhook_queue_depth", "gauge", "Webhooks pending in the outbox (every instance's).", load(webhook_queue_depth));
  auto oldest = load(webhook_oldest_pending_ts);
  auto now = now_ms();
  line("parley_webhook_oldest_pending_seconds", "gauge", "Age of the oldest pending webhook (0: none).",
       oldest > 0 && now > oldest ? (now - oldest) / 1000.0 : 0.0);
  line("parley_storage_appends_total", "counter", "Events stored.", storage.appends);
  line("parley_storage_transactions_total", "counter", "Storage commits (group commit: fewer than appends).", storage.transactions);
  line("parley_storage_duplicates_total", "counter", "Posts answered from the idempotency key.", storage.duplicates);
  line("parley_storage_up", "gauge", "1 while storage is reachable (as /readyz).", storage.up ? 1 : 0);
  out << "# HELP parley_storage_errors_total Storage operations that failed: refused with a full queue (busy), "
         "storage unreachable or not writable (unavailable), an answer storage should not give (internal).\n"
         "# TYPE parley_storage_errors_total counter\n";
  for (auto kind : storage_error_kinds)
    out << "parley_storage_errors_total{engine=\"" << storage.engine << "\",kind=\"" << storage_error_name(kind)
        << "\"} " << storage_errors(kind) << '\n';
  if (storage.wal_bytes)
    line("parley_sqlite_wal_bytes", "gauge", "Size of the SQLite write-ahead log.", *storage.wal_bytes);
  if (!storage.links.empty()) {
    out << "# HELP parley_redis_link_up 1 while the Redis connection is up.\n# TYPE parley_redis_link_up gauge\n";
    for (const auto& [link, up] : storage.links) out << "parley_redis_link_up{link=\"" << link << "\"} " << (up ? 1 : 0) << '\n';
    line("parley_redis_link_losses_total", "counter", "Times a Redis connection went down.", storage.link_losses);
  }
  if (storage.durable)
    line("parley_redis_durable", "gauge", "1 when Redis is configured to keep what it acknowledged (AOF, fsync).",
         *storage.durable ? 1 : 0);
  out << "# HELP parley_engagements_loaded Engagements whose state this instance holds, by phase.\n"
         "# TYPE parley_engagements_loaded gauge\n";
  for (std::size_t p = 0; p < engagement_phase_count; ++p)
    out << "parley_engagements_loaded{phase=\"" << phase_name(static_cast<engagement_phase>(p)) << "\"} "
        << engagements_by_phase[p] << '\n';
  out << "# HELP parley_engagement_loads_total Engagements loaded, from a stored snapshot or from their events alone.\n"
         "# TYPE parley_engagement_loads_total counter\n"
      << "parley_engagement_loads_total{from=\"snapshot\"} " << loads.from_snapshot << '\n'
      << "parley_engagement_loads_total{from=\"events\"} " << loads.from_events << '\n';
  line("parley_engagement_events_replayed_total", "counter", "Events read and applied by loads (those after a snapshot).",
       loads.events_replayed);
  line("parley_engagement_snapshots_saved_total", "counter", "Engagement snapshots stored.", loads.snapshots_saved);
  post_latency.render(out, "parley_post_latency_seconds", "From a post's arrival to its acknowledgement (stored, fsynced).");
  fanout_latency.render(out, "parley_fanout_latency_seconds", "From a commit to its event handed to the sockets of one worker's members.");
  join_latency.render(out, "parley_join_latency_seconds", "From a join's arrival to its reply.");
  return out.str();
}

}  // namespace parley
