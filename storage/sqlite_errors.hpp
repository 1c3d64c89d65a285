#pragma once
// How the embedded engine's two connections (sqlite_writer, sqlite_reader)
// report SQLite failures: at start-up as an exception, afterwards as an
// `unavailable` or `internal` answer.
#include "protocol/result.hpp"
#include "storage/sqlite_db.hpp"

#include <filesystem>
#include <string>
#include <string_view>

namespace parley {

// How long a connection waits for a lock held by the other one before SQLITE_BUSY.
constexpr int sqlite_busy_timeout_ms = 5000;

// Busy, locked, I/O and full-disk failures are the storage being unreachable
// for now (`unavailable`); anything else is a fault of ours (`internal`).
// Logs the failure.
error storage_error(int rc, const sqlite_db& db, std::string_view what);

// Steps a statement that returns no rows and resets it; the storage_error
// (about `what`) when it fails.
result<void> run_statement(statement& st, sqlite_db& db, const char* what);

// Start-up only: throws std::runtime_error "cannot open database <path>: <what>".
[[noreturn]] void throw_open_error(const std::filesystem::path& path, const std::string& what);

// Prepares `sql` on `db`, or throws as throw_open_error does.
void prepare_or_throw(const std::filesystem::path& path, sqlite_db& db, statement& st, std::string_view sql);

}  // namespace parley
