#pragma once
// `parley backup` and `parley restore` for the embedded engine: the database
// (storage/sqlite_backup.hpp) and the uploaded files of a data directory,
// taken while the server runs and put back while it is stopped.
#include <ostream>
#include <string>
#include <vector>

namespace parley {

// `args` are the words after "backup": --data-dir D [--files-dir F] DEST.
// DEST is a new directory holding parley.db and files/. Exit status 0 (one
// summary line on `out`), 1 when the backup failed (the reason on `err`, and
// no DEST), 2 for bad usage.
int backup_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// `args` are the words after "restore": --data-dir D [--files-dir F] [--force] SRC.
// Refused while a server runs on D, and when D holds a database unless
// --force (which keeps it as parley.db.before-restore-<ms>). Exit status as
// for backup_command.
int restore_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace parley
