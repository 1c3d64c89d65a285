#include "storage/sqlite_errors.hpp"

#include "storage/error_counts.hpp"
#include "storage/log.hpp"

#include <stdexcept>

namespace parley {

error storage_error(int rc, const sqlite_db& db, std::string_view what) {
  int primary = rc & 0xff;
  bool transient = primary == SQLITE_BUSY || primary == SQLITE_LOCKED || primary == SQLITE_IOERR ||
                   primary == SQLITE_FULL || primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY ||
                   primary == SQLITE_NOMEM;
  log_event(primary == SQLITE_FULL ? log_level::error : log_level::warn, "storage_error",
            {{"what", std::string(what)}, {"sqlite", db.errmsg()}, {"code", std::to_string(rc)}});
  return (transient ? storage_unavailable : storage_fault)(std::string(what) + ": " + db.errmsg());
}

result<void> run_statement(statement& st, sqlite_db& db, const char* what) {
  int rc = st.step();
  st.reset();
  if (rc != SQLITE_DONE) return storage_error(rc, db, what);
  return {};
}

void throw_open_error(const std::filesystem::path& path, const std::string& what) {
  throw std::runtime_error("cannot open database " + path.string() + ": " + what);
}

void prepare_or_throw(const std::filesystem::path& path, sqlite_db& db, statement& st, std::string_view sql) {
  if (st.prepare(db.get(), sql) != SQLITE_OK) throw_open_error(path, db.errmsg());
}

}  // namespace parley
