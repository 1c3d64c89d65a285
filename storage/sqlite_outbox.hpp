#pragma once
// The embedded engine's webhook outbox (webhook_outbox.hpp) in SQL: the
// writer's half (inserts, claims, outcomes, re-queues, pruning) runs on the
// writer's connection inside its transactions; the reader's half (listings,
// counts) on the reader's connection. Tables: sqlite_schema.cpp.
#include "protocol/result.hpp"
#include "storage/sqlite_db.hpp"
#include "storage/webhook_hooks.hpp"
#include "storage/webhook_outbox.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace parley {

// Pruning removes at most this many rows per claim, so one claim stays short.
constexpr int webhook_prune_batch = 500;

class sqlite_outbox_writer {
 public:
  // Prepares the statements on the writer's connection (after the migration);
  // throws as prepare_or_throw does.
  sqlite_outbox_writer(const std::filesystem::path& path, sqlite_db& db);

  // Adds `e` at the end of its engagement's queue; an id stored before is left as it was.
  result<void> insert(const webhook_entry& e);
  result<std::vector<webhook_entry>> claim(const std::string& owner, std::int64_t now, std::int64_t lease_ms,
                                           int limit);
  result<void> finish(const std::string& owner, const std::string& eng, const std::string& id,
                      const webhook_outcome& outcome);
  result<webhook_entry> retry(const std::string& id, std::int64_t now);
  // Deletes delivered entries older than `before` (at most webhook_prune_batch).
  result<void> prune(std::int64_t before);

 private:
  result<void> refresh_head(const std::string& eng);

  sqlite_db& db_;
  statement add_queue_, find_head_, set_head_, drop_queue_;
  statement insert_, first_due_, lease_holder_, take_lease_, release_, entry_state_, set_outcome_,
      requeue_, read_entry_, prune_;
};

class sqlite_outbox_reader {
 public:
  sqlite_outbox_reader(const std::filesystem::path& path, sqlite_db& db);

  result<webhook_page> list(webhook_state state, const std::string& after, int limit);
  result<webhook_queue_stats> stats();

 private:
  sqlite_db& db_;
  statement position_, list_, stats_;
};

}  // namespace parley
