#include "storage/sqlite_schema.hpp"

#include "storage/error_counts.hpp"
#include "storage/random_hex.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace parley {
namespace {

// Version 1: meta, events, channels, decision_log, read_markers.
// Tables added later within version 1 (CREATE TABLE IF NOT EXISTS makes them
// in an older database too): user_availability (protocol §9.3), sealed
// (protocol §9.7: a review's sealed payload beside its event), engagement_files
// and engagement_file_totals (protocol §9.6), webhook_outbox,
// webhook_queues and webhook_leases (protocol §9.8, sqlite_outbox.hpp),
// due_index (the timers of every engagement, sqlite_due_index.hpp), snapshots
// (each engagement's state with the revision it reflects, engine::save_snapshot).
constexpr std::int64_t current_schema_version = 1;

constexpr const char* schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  ch TEXT NOT NULL,
  seq INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  sender TEXT NOT NULL,
  cid TEXT,
  json TEXT NOT NULL,
  PRIMARY KEY (ch, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS events_idempotency ON events (ch, sender, cid) WHERE cid IS NOT NULL;
CREATE TABLE IF NOT EXISTS channels (
  ch TEXT PRIMARY KEY,
  head INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS decision_log (
  eng TEXT NOT NULL,
  n INTEGER NOT NULL,
  json TEXT NOT NULL,
  hash TEXT NOT NULL,
  PRIMARY KEY (eng, n)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS read_markers (
  user TEXT NOT NULL,
  ch TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (user, ch)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS read_markers_by_channel ON read_markers (ch, seq);
CREATE TABLE IF NOT EXISTS user_availability (
  user TEXT PRIMARY KEY,
  availability TEXT NOT NULL DEFAULT '',
  set_at INTEGER NOT NULL DEFAULT 0,
  last_seen INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sealed (
  ch TEXT NOT NULL,
  seq INTEGER NOT NULL,
  payload TEXT NOT NULL,
  PRIMARY KEY (ch, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS engagement_files (
  eng TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  name TEXT NOT NULL,
  size INTEGER NOT NULL,
  type TEXT NOT NULL,
  by TEXT NOT NULL,
  ts INTEGER NOT NULL,
  PRIMARY KEY (eng, sha256)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS engagement_file_totals (
  eng TEXT PRIMARY KEY,
  bytes INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS webhook_outbox (
  n INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  eng TEXT NOT NULL,
  type TEXT NOT NULL,
  ts INTEGER NOT NULL,
  body TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  delivered_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS webhook_queue_heads ON webhook_outbox (eng, n) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS webhook_by_state ON webhook_outbox (state, n);
CREATE INDEX IF NOT EXISTS webhook_delivered ON webhook_outbox (delivered_at) WHERE state = 'delivered';
CREATE TABLE IF NOT EXISTS webhook_queues (
  eng TEXT PRIMARY KEY,
  head INTEGER NOT NULL,
  next_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS webhook_queues_due ON webhook_queues (next_at, head);
CREATE TABLE IF NOT EXISTS due_index (
  key TEXT PRIMARY KEY,
  due INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS due_index_by_due ON due_index (due, key);
CREATE TABLE IF NOT EXISTS snapshots (
  eng TEXT PRIMARY KEY,
  revision INTEGER NOT NULL,
  state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_leases (
  eng TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  until INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

// The meta value of `key` after checking or setting it; `make` gives the value
// of a database that has none yet.
template <class Check, class Make>
result<std::string> meta_value(sqlite_db& db, statement& get, statement& put, std::string_view key, Check check,
                               Make make) {
  get.bind(1, key);
  int rc = get.step();
  if (rc == SQLITE_ROW) {
    std::string value(get.column_text(0));
    get.reset();
    if (auto checked = check(value); !checked) return checked.err();
    return value;
  }
  get.reset();
  if (rc != SQLITE_DONE) return storage_fault(db.errmsg());
  std::string value = make();
  put.bind(1, key);
  put.bind(2, std::string_view(value));
  if (put.step() != SQLITE_DONE) return storage_fault(db.errmsg());
  put.reset();
  return value;
}

result<std::string> migrate_inside_transaction(sqlite_db& db) {
  if (db.exec(schema_sql) != SQLITE_OK) return storage_fault("cannot create the schema: " + db.errmsg());
  statement get, put;
  if (get.prepare(db.get(), "SELECT value FROM meta WHERE key = ?1") != SQLITE_OK ||
      put.prepare(db.get(), "INSERT INTO meta (key, value) VALUES (?1, ?2)") != SQLITE_OK)
    return storage_fault(db.errmsg());

  auto version = meta_value(
      db, get, put, "schema_version",
      [](const std::string& v) -> result<void> {
        if (std::atoll(v.c_str()) > current_schema_version)
          return storage_fault("schema version " + v + " is newer than this server supports (" +
                                                std::to_string(current_schema_version) + ")");
        // Migrations from older versions go here, inside this transaction.
        return {};
      },
      [] { return std::to_string(current_schema_version); });
  if (!version) return version.err();

  // The database id makes epochs: a wiped data directory gets a new id, so
  // clients holding seqs of the old log see a different epoch and re-sync.
  return meta_value(
      db, get, put, "db_id", [](const std::string&) -> result<void> { return {}; }, [] { return random_hex(16); });
}

}  // namespace

result<std::string> migrate_schema(sqlite_db& db) {
  if (db.exec("BEGIN IMMEDIATE") != SQLITE_OK) return storage_fault(db.errmsg());
  auto db_id = migrate_inside_transaction(db);
  if (!db_id) {
    db.exec("ROLLBACK");
    return db_id;
  }
  if (db.exec("COMMIT") != SQLITE_OK) return storage_fault(db.errmsg());
  return db_id;
}

}  // namespace parley
