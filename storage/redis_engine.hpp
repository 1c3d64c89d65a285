#pragma once
// The shared engine: Redis streams, Lua scripts and PUB/SUB (DESIGN §2), for
// several Parley instances on one Redis. Same semantics as local_engine.
#include "protocol/result.hpp"
#include "protocol/signing.hpp"
#include "storage/engine.hpp"
#include "storage/redis_endpoint.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace parley {

struct redis_engine_options {
  // One server, or with several hosts (redis://h1:p1,h2:p2) a Redis Cluster.
  std::string url = "redis://127.0.0.1:6379";
  // A Redis Cluster even when the URL names one node (to ask for the map).
  bool cluster = false;
  // This process's name among the instances (its probe channel is named after it).
  std::string instance = "parley";
  // A command without a reply after this long fails with `unavailable`.
  std::chrono::milliseconds command_timeout{3000};
  // How often the subscribe connection is checked by publishing a probe to
  // itself; a probe not back within command_timeout drops that connection.
  std::chrono::milliseconds probe_interval{1000};
  // Operations (appends, reads, lookups) waiting for Redis at most: past it
  // they are answered `unavailable` at once, so memory stays bounded when
  // Redis is slow.
  std::size_t max_in_flight = 10000;
  // Events of one watched channel buffered while a gap is read from its
  // stream: past it the buffer is dropped and the stream read delivers them.
  std::size_t max_gap_buffer = 10000;
  // Acknowledged = durable (protocol §6): unless Redis is configured so that
  // it cannot lose what it acknowledged (appendonly yes, appendfsync always,
  // maxmemory-policy noeviction), the engine is not ready and appends are
  // answered `unavailable`. Only tests that simulate data loss turn it off.
  bool require_durable = true;
  // Failover without loss: an append is acknowledged only once this many
  // replicas have it (WAIT after the append script); past wait_timeout it is
  // answered `unavailable` although stored, and its retry (same cid) waits again.
  int wait_replicas = 0;
  std::chrono::milliseconds wait_timeout{1000};
  // The settings are asked again this often while connected (CONFIG SET can
  // change them at any time).
  std::chrono::milliseconds durability_recheck{10000};
  // Signs every decision record (protocol §9.11); null: records carry no kid/sig.
  std::shared_ptr<const ed25519_key> signer;
  // Stores the webhooks appends cause (protocol §9.8) in their append script.
  // Off (no --webhook-url): nothing is stored, so the outbox cannot grow.
  bool webhooks = false;
  // How often the global webhook indices are rebuilt from the engagements'
  // queues (also on every new command connection), so that an index write
  // lost with a crashed instance delays a hook by at most this long.
  std::chrono::milliseconds webhook_reindex_interval{10 * 60 * 1000};
};

// Throws std::runtime_error at start-up for a bad URL. Connecting is not
// waited for: ready() is false until the command connection is up, and the
// engine reconnects by itself whenever Redis goes away.
std::unique_ptr<engine> make_redis_engine(const redis_engine_options& options);

}  // namespace parley
