#pragma once
// A thin RAII layer over the SQLite C API: one connection and its prepared
// statements. Nothing here throws; every call returns the SQLite result code,
// so the engine decides what an error means (start-up failure or an
// `unavailable` answer on the write path).
//
// A connection is used by one thread only (opened with SQLITE_OPEN_NOMUTEX).
#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace parley {

class sqlite_db {
 public:
  sqlite_db() = default;
  ~sqlite_db() { close(); }
  sqlite_db(const sqlite_db&) = delete;
  sqlite_db& operator=(const sqlite_db&) = delete;

  // Opens `path` with sqlite3_open_v2 flags. On failure the handle is closed
  // and the message kept for errmsg().
  int open(const std::string& path, int flags);
  void close();

  // Runs SQL that returns no rows (PRAGMA with no result, BEGIN, COMMIT, ...).
  int exec(const char* sql);

  sqlite3* get() const { return db_; }
  // The message of the last failed call on this connection.
  std::string errmsg() const;

 private:
  sqlite3* db_ = nullptr;
  std::string open_error_;
};

class statement {
 public:
  statement() = default;
  ~statement() { sqlite3_finalize(stmt_); }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  int prepare(sqlite3* db, std::string_view sql);

  // Text and blobs are bound without a copy (SQLITE_STATIC): the caller keeps
  // them alive until the statement is reset. Parameters count from 1.
  void bind(int index, std::int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
  void bind(int index, std::string_view text) {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  }
  void bind_null(int index) { sqlite3_bind_null(stmt_, index); }

  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(stmt_); }

  // Columns count from 0. A text column stays valid until the next step or reset.
  std::int64_t column_int64(int index) const { return sqlite3_column_int64(stmt_, index); }
  std::string_view column_text(int index) const;

  // Ends the current use: a statement left half-stepped would hold its read
  // snapshot open and keep a later COMMIT or checkpoint waiting.
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// Resets a statement when the scope that uses it ends, on every path.
class statement_use {
 public:
  explicit statement_use(statement& s) : s_(s) {}
  ~statement_use() { s_.reset(); }
  statement_use(const statement_use&) = delete;
  statement_use& operator=(const statement_use&) = delete;

 private:
  statement& s_;
};

}  // namespace parley
