#pragma once
// The Redis engine's webhook outbox (webhook_outbox.hpp; keys and scripts:
// redis_scripts.hpp). Each engagement's queue, its entries and its lease live
// in the engagement's slot and change only inside scripts, so a claim, an
// outcome and a re-queue are atomic per engagement, and an append stores its
// hooks in its own script. The global indices (which engagements have due
// entries, the entries by state) cannot be written by those scripts in a
// Redis Cluster: they are written right after each script, and rebuilt from
// the per-engagement keys at start and periodically (reindex), so a write lost
// with a crashed instance delays a hook but never loses it. Loop thread only.
#include "protocol/result.hpp"
#include "storage/engine.hpp"
#include "storage/redis_router.hpp"
#include "storage/redis_reply.hpp"
#include "storage/webhook_outbox.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

struct claim_round;

class redis_outbox {
 public:
  // Runs a script by its source (EVALSHA, or EVAL when Redis does not know it).
  using script_runner =
      std::function<void(std::string_view source, std::vector<std::string> args, redis_connection::reply_handler)>;

  redis_outbox(redis_router& cmd, script_runner run, std::int64_t retention_ms)
      : cmd_(cmd), run_(std::move(run)), retention_ms_(retention_ms) {}

  // Indexes hooks an append script stored.
  void stored(const std::vector<webhook_entry>& hooks);

  void enqueue(std::vector<webhook_entry> entries, std::function<void(result<void>)> done);
  void claim(std::string owner, std::int64_t now, std::int64_t lease_ms, int limit,
             std::function<void(result<std::vector<webhook_entry>>)> done);
  void finish(std::string owner, std::string eng, std::string id, webhook_outcome outcome,
              std::function<void(result<void>)> done);
  void list(webhook_state state, std::string after, int limit, std::function<void(result<webhook_page>)> done);
  void retry(std::string id, std::int64_t now, std::function<void(result<webhook_entry>)> done);
  void stats(std::function<void(result<webhook_queue_stats>)> done);

  // Rebuilds the global indices from the queues of engagements `engs` (the
  // engine pages through its engagement list).
  void reindex(std::vector<std::string> engs, std::function<void(result<void>)> done);

 private:
  void claim_from(std::shared_ptr<claim_round> round);
  void fetch_entries(std::vector<std::string> ids,
                     std::function<void(result<std::vector<std::optional<webhook_entry>>>)> done);
  void index_pending(const webhook_entry& e);
  std::string listing_score(std::int64_t ts);
  void prune_delivered(std::int64_t now);

  redis_router& cmd_;
  script_runner run_;
  std::int64_t retention_ms_;
  std::uint64_t ordinal_ = 0;
};

// An entry reply of the webhook scripts (fields from `first` on, in the order
// redis_scripts.hpp lists) as an entry; nullopt for a malformed or empty one.
std::optional<webhook_entry> decode_webhook_entry(const redis_value& v, std::size_t first);

}  // namespace parley
