#include "storage/sqlite_db.hpp"

namespace parley {

int sqlite_db::open(const std::string& path, int flags) {
  close();
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    // sqlite3_open_v2 may hand back a handle even on failure; it only carries the message.
    open_error_ = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    close();
    return rc;
  }
  // Extended codes tell SQLITE_IOERR_FSYNC from other I/O errors in logs.
  sqlite3_extended_result_codes(db_, 1);
  return SQLITE_OK;
}

void sqlite_db::close() {
  if (db_) {
    // close_v2 defers the close until every statement is finalised, so the
    // order in which owners are destroyed does not matter.
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }
}

int sqlite_db::exec(const char* sql) { return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr); }

std::string sqlite_db::errmsg() const { return db_ ? sqlite3_errmsg(db_) : open_error_; }

int statement::prepare(sqlite3* db, std::string_view sql) {
  sqlite3_finalize(stmt_);
  stmt_ = nullptr;
  return sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt_,
                            nullptr);
}

std::string_view statement::column_text(int index) const {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
  if (!p) return {};
  return {p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index))};
}

}  // namespace parley
