#include "storage/sqlite_due_index.hpp"

#include "storage/engine.hpp"
#include "storage/sqlite_errors.hpp"

#include <algorithm>

namespace parley {
namespace {
constexpr std::string_view complete_key = "due_index_complete";
}  // namespace

sqlite_due_index::sqlite_due_index(const std::filesystem::path& path, sqlite_db& db) : db_(db) {
  prepare_or_throw(path, db, upsert_,
                   "INSERT INTO due_index (key, due) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET due = ?2");
  prepare_or_throw(path, db, remove_, "DELETE FROM due_index WHERE key = ?1");
  prepare_or_throw(path, db, due_, "SELECT key FROM due_index WHERE due <= ?1 ORDER BY due, key LIMIT ?2");
  prepare_or_throw(path, db, lease_, "UPDATE due_index SET due = ?2 WHERE key = ?1");
  prepare_or_throw(path, db, read_flag_, "SELECT value FROM meta WHERE key = ?1");
  prepare_or_throw(path, db, write_flag_,
                   "INSERT INTO meta (key, value) VALUES (?1, '1') ON CONFLICT (key) DO UPDATE SET value = '1'");
}

result<void> sqlite_due_index::set(const std::string& key, std::optional<std::int64_t> due) {
  if (!due) {
    remove_.bind(1, std::string_view(key));
    return run_statement(remove_, db_, "cannot remove a due");
  }
  upsert_.bind(1, std::string_view(key));
  upsert_.bind(2, *due);
  return run_statement(upsert_, db_, "cannot store a due");
}

result<std::vector<std::string>> sqlite_due_index::claim(std::int64_t now, std::int64_t lease_ms, int limit) {
  std::vector<std::string> out;
  {
    statement_use use(due_);
    due_.bind(1, now);
    due_.bind(2, std::int64_t{std::clamp(limit, 1, max_due_claim)});
    int rc;
    while ((rc = due_.step()) == SQLITE_ROW) out.emplace_back(due_.column_text(0));
    if (rc != SQLITE_DONE) return storage_error(rc, db_, "cannot read the due index");
  }
  for (const auto& key : out) {
    lease_.bind(1, std::string_view(key));
    lease_.bind(2, now + std::max<std::int64_t>(lease_ms, 1));
    if (auto leased = run_statement(lease_, db_, "cannot lease a due"); !leased) return leased.err();
  }
  return out;
}

result<bool> sqlite_due_index::complete() {
  statement_use use(read_flag_);
  read_flag_.bind(1, complete_key);
  int rc = read_flag_.step();
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) return storage_error(rc, db_, "cannot read the due index's state");
  return false;
}

result<void> sqlite_due_index::mark_complete() {
  write_flag_.bind(1, complete_key);
  return run_statement(write_flag_, db_, "cannot store the due index's state");
}

}  // namespace parley
