#pragma once
// The embedded engine's tables and their migrations.
#include "protocol/result.hpp"
#include "storage/sqlite_db.hpp"

#include <string>

namespace parley {

// Creates the tables of a new database, or checks (and migrates) those of an
// existing one, in one write transaction on `db`. Returns the database id,
// made on first use: a wiped data directory gets a new one, so its epochs
// change. The error says why the database cannot be used.
result<std::string> migrate_schema(sqlite_db& db);

}  // namespace parley
