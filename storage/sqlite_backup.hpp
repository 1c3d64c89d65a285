#pragma once
// Backups of the embedded database: SQLite's online backup API copies it as
// one consistent snapshot while a server goes on committing (a WAL reader
// blocks no writer), and a restore makes such a copy the database again.
#include "protocol/result.hpp"

#include <cstdint>
#include <filesystem>
#include <string>

namespace parley {

struct backup_summary {
  std::int64_t bytes = 0;
  std::string db_id;  // of the database copied
};

// Copies the database at `source` into the new file `dest` (refused when it
// exists): a snapshot of what was committed when the copy began, written as
// a single file (no WAL), checked (quick_check) and fsynced before it gets
// its name.
result<backup_summary> backup_database(const std::filesystem::path& source, const std::filesystem::path& dest);

// Makes the backup file `backup` the database at `dest`, which must not
// exist (its -wal and -shm are removed: they belong to another database).
// The copy is checked, gets a new database id, so that clients holding seqs
// of the log they saw meet a new epoch and re-sync (protocol §3), and is in
// WAL mode and fsynced before it gets its name. Returns the new id.
result<std::string> restore_database(const std::filesystem::path& backup, const std::filesystem::path& dest);

}  // namespace parley
