#include "storage/sqlite_backup.hpp"

#include "storage/error_counts.hpp"
#include "storage/fsync_path.hpp"
#include "storage/random_hex.hpp"
#include "storage/sqlite_db.hpp"

#include <system_error>

namespace parley {
namespace {

error failed(const std::string& what) { return storage_fault(what); }

error failed(const std::string& what, const sqlite_db& db) { return failed(what + ": " + db.errmsg()); }

std::filesystem::path directory_of(const std::filesystem::path& file) {
  return file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
}

// The file under construction next to `dest`, removed unless it was renamed.
class partial_file {
 public:
  explicit partial_file(const std::filesystem::path& dest) : path_(dest.string() + ".partial") {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  ~partial_file() {
    if (renamed_) return;
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

  // fsync, rename to `dest`, fsync of the directory.
  result<void> keep_as(const std::filesystem::path& dest) {
    if (auto synced = fsync_path(path_); !synced) return synced;
    std::error_code ec;
    std::filesystem::rename(path_, dest, ec);
    if (ec) return failed("cannot rename " + path_.string() + " to " + dest.string() + ": " + ec.message());
    renamed_ = true;
    return fsync_path(directory_of(dest));
  }

 private:
  std::filesystem::path path_;
  bool renamed_ = false;
};

result<std::string> single_text(sqlite_db& db, const char* sql) {
  statement st;
  if (st.prepare(db.get(), sql) != SQLITE_OK) return failed("cannot read the database", db);
  int rc = st.step();
  if (rc != SQLITE_ROW) return failed("cannot read the database", db);
  return std::string(st.column_text(0));
}

// quick_check answers "ok", or a line per problem found.
result<void> check(sqlite_db& db, const std::string& what) {
  auto verdict = single_text(db, "PRAGMA quick_check");
  if (!verdict) return verdict.err();
  if (*verdict != "ok") return failed(what + " is damaged: " + *verdict);
  return {};
}

}  // namespace

result<backup_summary> backup_database(const std::filesystem::path& source, const std::filesystem::path& dest) {
  if (std::filesystem::exists(dest)) return failed(dest.string() + " exists already");
  // Read and write, not create: a WAL database is read through its -shm.
  sqlite_db from;
  if (from.open(source.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX) != SQLITE_OK)
    return failed("cannot open database " + source.string(), from);
  sqlite3_busy_timeout(from.get(), 10000);
  auto id = single_text(from, "SELECT value FROM meta WHERE key = 'db_id'");
  if (!id) return failed(source.string() + " is not a Parley database");

  partial_file out(dest);
  {
    sqlite_db to;
    if (to.open(out.path().string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX) != SQLITE_OK)
      return failed("cannot create " + out.path().string(), to);
    // One step copies every page inside one read transaction: the snapshot
    // of one moment, whatever commits meanwhile.
    sqlite3_backup* copy = sqlite3_backup_init(to.get(), "main", from.get(), "main");
    if (!copy) return failed("cannot start the backup", to);
    int rc = sqlite3_backup_step(copy, -1);
    sqlite3_backup_finish(copy);
    if (rc != SQLITE_DONE) return failed(std::string("the backup failed: ") + sqlite3_errstr(rc));
    // The copied header says WAL; a backup is one self-contained file.
    if (to.exec("PRAGMA journal_mode=DELETE") != SQLITE_OK) return failed("cannot finish the backup", to);
    if (auto checked = check(to, "the backup"); !checked) return checked.err();
  }
  if (auto kept = out.keep_as(dest); !kept) return kept.err();
  return backup_summary{static_cast<std::int64_t>(std::filesystem::file_size(dest)), *id};
}

result<std::string> restore_database(const std::filesystem::path& backup, const std::filesystem::path& dest) {
  if (std::filesystem::exists(dest)) return failed(dest.string() + " exists already");
  partial_file out(dest);
  std::error_code ec;
  std::filesystem::copy_file(backup, out.path(), ec);
  if (ec) return failed("cannot copy " + backup.string() + ": " + ec.message());
  const std::string id = random_hex(16);
  {
    sqlite_db db;
    if (db.open(out.path().string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX) != SQLITE_OK)
      return failed("cannot open the backup " + backup.string(), db);
    if (auto checked = check(db, "the backup " + backup.string()); !checked) return checked.err();
    statement set_id;
    if (set_id.prepare(db.get(), "UPDATE meta SET value = ?1 WHERE key = 'db_id'") != SQLITE_OK)
      return failed(backup.string() + " is not a Parley backup", db);
    set_id.bind(1, std::string_view(id));
    if (set_id.step() != SQLITE_DONE || sqlite3_changes(db.get()) != 1)
      return failed(backup.string() + " is not a Parley backup", db);
    set_id.reset();
    if (db.exec("PRAGMA journal_mode=WAL") != SQLITE_OK) return failed("cannot restore", db);
  }
  // A WAL or shared-memory file left by the database that was there would be
  // replayed onto this one.
  for (const char* suffix : {"-wal", "-shm"}) std::filesystem::remove(dest.string() + suffix, ec);
  if (auto kept = out.keep_as(dest); !kept) return kept.err();
  return id;
}

}  // namespace parley
