// The embedded engine's webhook outbox (sqlite_outbox.hpp). An engagement's
// queue is its pending entries in `n` order (n: AUTOINCREMENT, so the order
// of insertion, never reused); webhook_queues holds each non-empty queue's
// first entry and when it is due (kept with every change of the queue), and a
// lease row says which owner sends that entry now.
#include "storage/sqlite_outbox.hpp"

#include "storage/sqlite_errors.hpp"

#include <algorithm>
#include <optional>
#include <utility>

namespace parley {
namespace {

// The columns every read of an entry selects, in entry_at's order (the claim
// names them with their table).
#define PARLEY_ENTRY_COLUMNS "id, eng, type, ts, body, state, attempts, next_at, last_error, delivered_at"

webhook_entry entry_at(const statement& st) {
  webhook_entry e;
  e.id = std::string(st.column_text(0));
  e.eng = std::string(st.column_text(1));
  e.type = std::string(st.column_text(2));
  e.ts = st.column_int64(3);
  e.body = std::string(st.column_text(4));
  e.state = parse_webhook_state(std::string(st.column_text(5))).value_or(webhook_state::pending);
  e.attempts = static_cast<int>(st.column_int64(6));
  e.next_at = st.column_int64(7);
  e.last_error = std::string(st.column_text(8));
  e.delivered_at = st.column_int64(9);
  return e;
}

}  // namespace

sqlite_outbox_writer::sqlite_outbox_writer(const std::filesystem::path& path, sqlite_db& db) : db_(db) {
  prepare_or_throw(path, db, insert_,
                   "INSERT INTO webhook_outbox (id, eng, type, ts, body, state, attempts, next_at) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6) ON CONFLICT (id) DO NOTHING");
  // The first pending entry of each engagement (webhook_queues), when due and
  // not leased by another owner, the longest due first: the due queues only
  // are read, however many entries wait behind their heads.
  prepare_or_throw(path, db, first_due_,
                   "SELECT o.id, o.eng, o.type, o.ts, o.body, o.state, o.attempts, o.next_at, o.last_error, "
                   "o.delivered_at FROM webhook_queues q JOIN webhook_outbox o ON o.n = q.head "
                   "WHERE q.next_at <= ?1 AND NOT EXISTS (SELECT 1 FROM webhook_leases l "
                   "WHERE l.eng = q.eng AND l.owner <> ?2 AND l.until > ?1) ORDER BY q.next_at, q.head LIMIT ?3");
  prepare_or_throw(path, db, add_queue_,
                   "INSERT INTO webhook_queues (eng, head, next_at) VALUES (?1, ?2, ?3) ON CONFLICT (eng) DO NOTHING");
  prepare_or_throw(path, db, find_head_,
                   "SELECT n, next_at FROM webhook_outbox WHERE eng = ?1 AND state = 'pending' ORDER BY n LIMIT 1");
  prepare_or_throw(path, db, set_head_,
                   "INSERT INTO webhook_queues (eng, head, next_at) VALUES (?1, ?2, ?3) "
                   "ON CONFLICT (eng) DO UPDATE SET head = excluded.head, next_at = excluded.next_at");
  prepare_or_throw(path, db, drop_queue_, "DELETE FROM webhook_queues WHERE eng = ?1");
  prepare_or_throw(path, db, lease_holder_, "SELECT owner FROM webhook_leases WHERE eng = ?1");
  prepare_or_throw(path, db, take_lease_,
                   "INSERT INTO webhook_leases (eng, owner, until) VALUES (?1, ?2, ?3) "
                   "ON CONFLICT (eng) DO UPDATE SET owner = excluded.owner, until = excluded.until");
  prepare_or_throw(path, db, release_, "DELETE FROM webhook_leases WHERE eng = ?1 AND owner = ?2");
  prepare_or_throw(path, db, entry_state_, "SELECT eng, state FROM webhook_outbox WHERE id = ?1");
  prepare_or_throw(path, db, set_outcome_,
                   "UPDATE webhook_outbox SET state = ?2, attempts = attempts + 1, next_at = ?3, last_error = ?4, "
                   "delivered_at = ?5 WHERE id = ?1");
  prepare_or_throw(path, db, requeue_,
                   "UPDATE webhook_outbox SET state = 'pending', attempts = 0, next_at = ?2 WHERE id = ?1");
  prepare_or_throw(path, db, read_entry_, "SELECT " PARLEY_ENTRY_COLUMNS " FROM webhook_outbox WHERE id = ?1");
  prepare_or_throw(path, db, prune_,
                   "DELETE FROM webhook_outbox WHERE n IN (SELECT n FROM webhook_outbox "
                   "WHERE state = 'delivered' AND delivered_at < ?1 ORDER BY delivered_at LIMIT ?2)");
}

result<void> sqlite_outbox_writer::insert(const webhook_entry& e) {
  insert_.bind(1, std::string_view(e.id));
  insert_.bind(2, std::string_view(e.eng));
  insert_.bind(3, std::string_view(e.type));
  insert_.bind(4, e.ts);
  insert_.bind(5, std::string_view(e.body));
  insert_.bind(6, e.next_at);
  if (auto stored = run_statement(insert_, db_, "cannot store the webhook"); !stored) return stored;
  if (sqlite3_changes(db_.get()) == 0) return {};  // stored before
  // The first entry of an empty queue is its head.
  add_queue_.bind(1, std::string_view(e.eng));
  add_queue_.bind(2, sqlite3_last_insert_rowid(db_.get()));
  add_queue_.bind(3, e.next_at);
  return run_statement(add_queue_, db_, "cannot store the webhook queue");
}

// After the queue of `eng` changed: its first pending entry, or no queue.
result<void> sqlite_outbox_writer::refresh_head(const std::string& eng) {
  std::optional<std::pair<std::int64_t, std::int64_t>> head;
  {
    statement_use use(find_head_);
    find_head_.bind(1, std::string_view(eng));
    int rc = find_head_.step();
    if (rc == SQLITE_ROW)
      head.emplace(find_head_.column_int64(0), find_head_.column_int64(1));
    else if (rc != SQLITE_DONE)
      return storage_error(rc, db_, "cannot read the webhook queue");
  }
  if (!head) {
    drop_queue_.bind(1, std::string_view(eng));
    return run_statement(drop_queue_, db_, "cannot store the webhook queue");
  }
  set_head_.bind(1, std::string_view(eng));
  set_head_.bind(2, head->first);
  set_head_.bind(3, head->second);
  return run_statement(set_head_, db_, "cannot store the webhook queue");
}

result<std::vector<webhook_entry>> sqlite_outbox_writer::claim(const std::string& owner, std::int64_t now,
                                                              std::int64_t lease_ms, int limit) {
  std::vector<webhook_entry> out;
  if (limit <= 0) return out;
  limit = std::min(limit, max_webhook_page);
  {
    statement_use use(first_due_);
    first_due_.bind(1, now);
    first_due_.bind(2, std::string_view(owner));
    first_due_.bind(3, std::int64_t{limit});
    int rc;
    while ((rc = first_due_.step()) == SQLITE_ROW) out.push_back(entry_at(first_due_));
    if (rc != SQLITE_DONE) return storage_error(rc, db_, "cannot claim webhooks");
  }
  for (const auto& e : out) {
    take_lease_.bind(1, std::string_view(e.eng));
    take_lease_.bind(2, std::string_view(owner));
    take_lease_.bind(3, now + std::max<std::int64_t>(lease_ms, 1));
    if (auto taken = run_statement(take_lease_, db_, "cannot lease a webhook queue"); !taken) return taken.err();
  }
  return out;
}

// The lease decides: whoever holds it (lapsed or not, as long as no one took
// it over) may record the outcome; anyone else changes nothing.
result<void> sqlite_outbox_writer::finish(const std::string& owner, const std::string& eng, const std::string& id,
                                          const webhook_outcome& outcome) {
  {
    statement_use use(lease_holder_);
    lease_holder_.bind(1, std::string_view(eng));
    int rc = lease_holder_.step();
    if (rc == SQLITE_DONE || (rc == SQLITE_ROW && lease_holder_.column_text(0) != owner))
      return make_error(errc::conflict, "the webhook queue of " + eng + " is not leased to " + owner);
    if (rc != SQLITE_ROW) return storage_error(rc, db_, "cannot read the webhook lease");
  }
  {
    statement_use use(entry_state_);
    entry_state_.bind(1, std::string_view(id));
    int rc = entry_state_.step();
    if (rc == SQLITE_DONE || (rc == SQLITE_ROW && entry_state_.column_text(0) != eng))
      return make_error(errc::not_found, "no webhook " + id + " in " + eng);
    if (rc != SQLITE_ROW) return storage_error(rc, db_, "cannot read the webhook");
    if (entry_state_.column_text(1) != webhook_state_name(webhook_state::pending))
      return make_error(errc::conflict, "webhook " + id + " is not pending");
  }
  webhook_state state = outcome.kind == webhook_outcome::delivered ? webhook_state::delivered
                        : outcome.kind == webhook_outcome::failed  ? webhook_state::failed
                                                                   : webhook_state::pending;
  // A std::string, never an empty string_view: that binds NULL.
  const std::string error = outcome.kind == webhook_outcome::delivered ? std::string() : outcome.error;
  set_outcome_.bind(1, std::string_view(id));
  set_outcome_.bind(2, std::string_view(webhook_state_name(state)));
  set_outcome_.bind(3, outcome.kind == webhook_outcome::retry ? outcome.next_at : outcome.at);
  set_outcome_.bind(4, std::string_view(error));
  set_outcome_.bind(5, outcome.kind == webhook_outcome::delivered ? outcome.at : std::int64_t{0});
  if (auto set = run_statement(set_outcome_, db_, "cannot record the webhook's outcome"); !set) return set;
  if (auto refreshed = refresh_head(eng); !refreshed) return refreshed;
  release_.bind(1, std::string_view(eng));
  release_.bind(2, std::string_view(owner));
  return run_statement(release_, db_, "cannot release the webhook lease");
}

result<webhook_entry> sqlite_outbox_writer::retry(const std::string& id, std::int64_t now) {
  webhook_entry e;
  {
    statement_use use(read_entry_);
    read_entry_.bind(1, std::string_view(id));
    int rc = read_entry_.step();
    if (rc == SQLITE_DONE) return make_error(errc::not_found, "no webhook " + id);
    if (rc != SQLITE_ROW) return storage_error(rc, db_, "cannot read the webhook");
    e = entry_at(read_entry_);
  }
  if (e.state != webhook_state::failed) return make_error(errc::conflict, "webhook " + id + " has not failed");
  requeue_.bind(1, std::string_view(id));
  requeue_.bind(2, now);
  if (auto set = run_statement(requeue_, db_, "cannot re-queue the webhook"); !set) return set.err();
  if (auto refreshed = refresh_head(e.eng); !refreshed) return refreshed.err();
  e.state = webhook_state::pending;
  e.attempts = 0;
  e.next_at = now;
  return e;
}

result<void> sqlite_outbox_writer::prune(std::int64_t before) {
  prune_.bind(1, before);
  prune_.bind(2, std::int64_t{webhook_prune_batch});
  return run_statement(prune_, db_, "cannot prune delivered webhooks");
}

sqlite_outbox_reader::sqlite_outbox_reader(const std::filesystem::path& path, sqlite_db& db) : db_(db) {
  prepare_or_throw(path, db, position_, "SELECT n FROM webhook_outbox WHERE id = ?1");
  prepare_or_throw(path, db, list_,
                   "SELECT " PARLEY_ENTRY_COLUMNS " FROM webhook_outbox WHERE state = ?1 AND n > ?2 "
                   "ORDER BY n LIMIT ?3");
  prepare_or_throw(path, db, stats_, "SELECT count(*), coalesce(min(ts), 0) FROM webhook_outbox WHERE state = 'pending'");
}

result<webhook_page> sqlite_outbox_reader::list(webhook_state state, const std::string& after, int limit) {
  limit = std::clamp(limit, 1, max_webhook_page);
  std::int64_t from = 0;
  if (!after.empty()) {
    statement_use use(position_);
    position_.bind(1, std::string_view(after));
    int rc = position_.step();
    if (rc == SQLITE_DONE) return make_error(errc::not_found, "no webhook " + after);
    if (rc != SQLITE_ROW) return storage_error(rc, db_, "cannot list webhooks");
    from = position_.column_int64(0);
  }
  webhook_page page;
  statement_use use(list_);
  list_.bind(1, std::string_view(webhook_state_name(state)));
  list_.bind(2, from);
  // One more than the page: whether a next page exists, without counting.
  list_.bind(3, std::int64_t{limit} + 1);
  int rc;
  while ((rc = list_.step()) == SQLITE_ROW) page.entries.push_back(entry_at(list_));
  if (rc != SQLITE_DONE) return storage_error(rc, db_, "cannot list webhooks");
  if (page.entries.size() > static_cast<std::size_t>(limit)) {
    page.entries.resize(static_cast<std::size_t>(limit));
    page.next = page.entries.back().id;
  }
  return page;
}

result<webhook_queue_stats> sqlite_outbox_reader::stats() {
  statement_use use(stats_);
  int rc = stats_.step();
  if (rc != SQLITE_ROW) return storage_error(rc, db_, "cannot count webhooks");
  webhook_queue_stats out;
  out.pending = static_cast<std::uint64_t>(stats_.column_int64(0));
  out.oldest_pending_ts = stats_.column_int64(1);
  return out;
}

}  // namespace parley
