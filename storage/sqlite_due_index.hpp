#pragma once
// The shared due index on SQLite (engine::set_due, claim_due): a table of
// keys and their dues, indexed by due, on the writer's connection, so that a
// claim and the leases it takes are one write. Writer thread only.
#include "protocol/result.hpp"
#include "storage/sqlite_db.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace parley {

class sqlite_due_index {
 public:
  // Prepares the statements (after the migration); throws as prepare_or_throw does.
  sqlite_due_index(const std::filesystem::path& path, sqlite_db& db);

  result<void> set(const std::string& key, std::optional<std::int64_t> due);
  result<std::vector<std::string>> claim(std::int64_t now, std::int64_t lease_ms, int limit);
  result<bool> complete();
  result<void> mark_complete();

 private:
  sqlite_db& db_;
  statement upsert_, remove_, due_, lease_, read_flag_, write_flag_;
};

}  // namespace parley
