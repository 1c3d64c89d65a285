#include "server/backup_command.hpp"

#include "storage/clock.hpp"
#include "storage/database_lock.hpp"
#include "storage/fsync_path.hpp"
#include "storage/sqlite_backup.hpp"
#include "storage/sqlite_db.hpp"

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <set>
#include <system_error>

namespace parley {
namespace {
namespace fs = std::filesystem;

constexpr const char* backup_usage = "usage: parley backup --data-dir DIR [--files-dir DIR] DEST\n";
constexpr const char* restore_usage = "usage: parley restore --data-dir DIR [--files-dir DIR] [--force] SRC\n";

struct arguments {
  std::optional<fs::path> data_dir, files_dir, target;
  bool force = false;
};

// Empty when the words parse; otherwise why not.
std::string parse(const std::vector<std::string>& args, bool allow_force, arguments& out) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto next = [&]() -> const std::string* { return i + 1 < args.size() ? &args[++i] : nullptr; };
    if (a == "--data-dir" || a == "--files-dir") {
      const auto* v = next();
      if (!v || v->empty()) return a + " needs a directory";
      (a == "--data-dir" ? out.data_dir : out.files_dir) = *v;
    } else if (a == "--force" && allow_force) {
      out.force = true;
    } else if (a.size() > 1 && a[0] == '-') {
      return "unknown option " + a;
    } else if (out.target) {
      return "one directory only";
    } else {
      out.target = a;
    }
  }
  if (!out.data_dir) return "--data-dir is required";
  if (!out.target) return "no directory given";
  if (!out.files_dir) out.files_dir = *out.data_dir / "files";
  for (auto* p : {&out.data_dir, &out.files_dir, &out.target}) {
    **p = fs::absolute(**p).lexically_normal();
    // `backups/today/` names the directory `today`, not an empty name inside it.
    if (!(*p)->has_filename() && (*p)->has_parent_path()) **p = (*p)->parent_path();
  }
  return {};
}

struct copied {
  std::int64_t files = 0;
  std::int64_t bytes = 0;
};

// Copies the stored files under `from` (<ab>/<cd>/<sha256>; not the staging
// directory tmp/) into `to`, each fsynced with its directory. A file that is
// there already is kept: a name is its content's hash.
result<copied> copy_files(const fs::path& from, const fs::path& to) {
  copied done;
  std::error_code ec;
  if (!fs::is_directory(from, ec)) return done;
  std::set<fs::path> touched_dirs;
  for (auto it = fs::recursive_directory_iterator(from, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    auto rel = fs::relative(it->path(), from, ec);
    if (ec) break;
    if (*rel.begin() == "tmp") {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    auto dest = to / rel;
    if (fs::exists(dest)) continue;
    fs::create_directories(dest.parent_path(), ec);
    if (ec) return make_error(errc::unavailable, "cannot create " + dest.parent_path().string() + ": " + ec.message());
    fs::copy_file(it->path(), dest, ec);
    if (ec) return make_error(errc::unavailable, "cannot copy " + it->path().string() + ": " + ec.message());
    if (auto synced = fsync_path(dest); !synced) return synced.err();
    for (auto dir = dest.parent_path(); dir != to.parent_path() && touched_dirs.insert(dir).second;) dir = dir.parent_path();
    ++done.files;
    done.bytes += static_cast<std::int64_t>(fs::file_size(dest));
  }
  if (ec) return make_error(errc::unavailable, "cannot read " + from.string() + ": " + ec.message());
  for (const auto& dir : touched_dirs)
    if (auto synced = fsync_path(dir); !synced) return synced.err();
  return done;
}

// Checkpoints a database's WAL into its file and leaves it a single file, so
// that it can be moved aside whole.
result<void> fold_wal(const fs::path& db_path) {
  sqlite_db db;
  if (db.open(db_path.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX) != SQLITE_OK ||
      db.exec("PRAGMA journal_mode=DELETE") != SQLITE_OK)
    return make_error(errc::internal, "cannot open " + db_path.string() + ": " + db.errmsg());
  return {};
}

}  // namespace

int backup_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  arguments a;
  if (auto why = parse(args, false, a); !why.empty()) {
    err << "parley backup: " << why << "\n" << backup_usage;
    return 2;
  }
  const fs::path db_path = *a.data_dir / "parley.db";
  const fs::path dest = *a.target;
  auto fail = [&](const std::string& why) {
    err << "parley backup: " << why << "\n";
    return 1;
  };
  std::error_code ec;
  if (!fs::exists(db_path)) return fail("no database at " + db_path.string());
  if (fs::exists(dest)) return fail(dest.string() + " exists already");
  // Built under a temporary name, so that DEST exists only once whole.
  const fs::path partial = dest.string() + ".partial";
  fs::remove_all(partial, ec);
  ::umask(077);
  if (!fs::create_directories(partial, ec)) return fail("cannot create " + partial.string() + ": " + ec.message());
  auto abandon = [&](const std::string& why) {
    fs::remove_all(partial, ec);
    return fail(why);
  };
  auto db = backup_database(db_path, partial / "parley.db");
  if (!db) return abandon(db.err().message);
  // After the snapshot: every file it names was stored before it was named.
  auto files = copy_files(*a.files_dir, partial / "files");
  if (!files) return abandon(files.err().message);
  if (auto synced = fsync_path(partial); !synced) return abandon(synced.err().message);
  fs::rename(partial, dest, ec);
  if (ec) return abandon("cannot rename " + partial.string() + ": " + ec.message());
  if (auto synced = fsync_path(dest.parent_path()); !synced) return fail(synced.err().message);
  out << "parley backup: " << db_path.string() << " (database " << db->db_id << ") to " << dest.string() << ": "
      << db->bytes << " bytes of database, " << files->files << " files (" << files->bytes << " bytes)\n";
  return 0;
}

int restore_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  arguments a;
  if (auto why = parse(args, true, a); !why.empty()) {
    err << "parley restore: " << why << "\n" << restore_usage;
    return 2;
  }
  auto fail = [&](const std::string& why) {
    err << "parley restore: " << why << "\n";
    return 1;
  };
  const fs::path backup_db = *a.target / "parley.db";
  const fs::path db_path = *a.data_dir / "parley.db";
  std::error_code ec;
  if (!fs::exists(backup_db)) return fail("no backup at " + a.target->string() + " (it holds no parley.db)");
  ::umask(077);
  fs::create_directories(*a.data_dir, ec);
  if (ec) return fail("cannot create " + a.data_dir->string() + ": " + ec.message());
  try {
    // Held to the end: no server may start on the directory meanwhile.
    database_lock lock(db_path);
    std::string kept_as;
    if (fs::exists(db_path)) {
      if (!a.force)
        return fail(db_path.string() + " exists; --force restores over it and keeps it as parley.db.before-restore-<ms>");
      if (auto folded = fold_wal(db_path); !folded) return fail(folded.err().message);
      kept_as = db_path.string() + ".before-restore-" + std::to_string(now_ms());
      fs::rename(db_path, kept_as, ec);
      if (ec) return fail("cannot move " + db_path.string() + " aside: " + ec.message());
    }
    // Files first: the database names them.
    auto files = copy_files(*a.target / "files", *a.files_dir);
    if (!files) return fail(files.err().message);
    auto id = restore_database(backup_db, db_path);
    if (!id) return fail(id.err().message);
    out << "parley restore: " << a.target->string() << " to " << db_path.string() << " (new database " << *id
        << ": a new epoch, clients re-sync), " << files->files << " files";
    if (!kept_as.empty()) out << "; the database that was there is " << kept_as;
    out << "\n";
    return 0;
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

}  // namespace parley
