// The embedded engine's writer (DESIGN §2).
//
// Durability (protocol §6): WAL with synchronous=FULL, so every COMMIT fsyncs
// the WAL before it returns, and a handler is called only after its COMMIT.
// An acknowledged append therefore survives a crash of the process and of the
// machine. Group commit pays that fsync once for every append waiting in the
// queue.
#include "storage/sqlite_writer.hpp"

#include "storage/clock.hpp"
#include "storage/error_counts.hpp"
#include "storage/log.hpp"
#include "storage/sqlite_errors.hpp"
#include "storage/sqlite_schema.hpp"
#include "storage/webhook_hooks.hpp"

#include <algorithm>
#include <map>
#include <utility>

namespace parley {

sqlite_writer::sqlite_writer(const std::filesystem::path& path, std::size_t max_batch, std::size_t max_queue,
                             std::shared_ptr<const ed25519_key> signer, bool webhooks)
    : path_(path), max_batch_(max_batch), signer_(std::move(signer)), webhooks_(webhooks), queue_(max_queue) {
  open();
  thread_ = std::thread([this] { loop(); });
}

sqlite_writer::~sqlite_writer() {
  close_queue();
  finish();
}

void sqlite_writer::open() {
  if (db_.open(path_.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX) != SQLITE_OK)
    throw_open_error(path_, db_.errmsg());

  // Set first: a process that just handed the database over (--reuse-port)
  // may still be closing its connections, which takes locks for a moment.
  sqlite3_busy_timeout(db_.get(), sqlite_busy_timeout_ms);
  // The first statement reads the header: a file that is not a database fails here.
  {
    statement wal;
    if (wal.prepare(db_.get(), "PRAGMA journal_mode=WAL") != SQLITE_OK) throw_open_error(path_, db_.errmsg());
    if (wal.step() != SQLITE_ROW) throw_open_error(path_, db_.errmsg());
    if (wal.column_text(0) != "wal")
      throw_open_error(path_, "cannot switch to WAL mode (journal_mode is " + std::string(wal.column_text(0)) + ")");
  }
  // SQLite silently falls back to read-only for a write-protected file.
  if (sqlite3_db_readonly(db_.get(), "main") == 1) throw_open_error(path_, "the file is read-only");
  // FULL: in WAL mode every COMMIT fsyncs the WAL, so an acknowledged append
  // survives a power loss, not only a crash of the process. temp_store in
  // memory: each job's savepoint journal would otherwise be a file created
  // and deleted inside every transaction. A 32 MiB page cache keeps the
  // channels' heads and the recent pages of the indexes in memory. A
  // checkpoint every 10000 WAL pages (about 40 MiB) rather than SQLite's 1000:
  // events are stored by channel, so a batch touches a page per channel, and
  // a rarer checkpoint writes each such page back once for many batches.
  std::string pragmas = "PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY; "
                        "PRAGMA cache_size=-32768; PRAGMA wal_autocheckpoint=10000; PRAGMA busy_timeout=" +
                        std::to_string(sqlite_busy_timeout_ms) + ";";
  if (db_.exec(pragmas.c_str()) != SQLITE_OK) throw_open_error(path_, db_.errmsg());

  auto db_id = migrate_schema(db_);
  if (!db_id) throw_open_error(path_, db_id.err().message);
  db_id_ = std::move(*db_id);

  prepare_or_throw(path_, db_, find_cid_,
                   "SELECT seq, ts, json FROM events WHERE ch = ?1 AND sender = ?2 AND cid = ?3");
  prepare_or_throw(path_, db_, insert_event_,
                   "INSERT INTO events (ch, seq, ts, sender, cid, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  prepare_or_throw(
      path_, db_, upsert_channel_,
      "INSERT INTO channels (ch, head) VALUES (?1, ?2) ON CONFLICT (ch) DO UPDATE SET head = excluded.head");
  prepare_or_throw(path_, db_, load_head_, "SELECT head FROM channels WHERE ch = ?1");
  prepare_or_throw(path_, db_, load_ts_, "SELECT ts FROM events WHERE ch = ?1 AND seq = ?2");
  prepare_or_throw(path_, db_, last_record_, "SELECT n, hash FROM decision_log WHERE eng = ?1 ORDER BY n DESC LIMIT 1");
  prepare_or_throw(path_, db_, insert_record_, "INSERT INTO decision_log (eng, n, json, hash) VALUES (?1, ?2, ?3, ?4)");
  prepare_or_throw(path_, db_, insert_sealed_, "INSERT INTO sealed (ch, seq, payload) VALUES (?1, ?2, ?3)");
  // A snapshot replaces only one that reflects no more events (engine::save_snapshot).
  prepare_or_throw(path_, db_, upsert_snapshot_,
                   "INSERT INTO snapshots (eng, revision, state) VALUES (?1, ?2, ?3) "
                   "ON CONFLICT (eng) DO UPDATE SET revision = excluded.revision, state = excluded.state "
                   "WHERE excluded.revision >= snapshots.revision");
  prepare_or_throw(path_, db_, upsert_marker_,
                   "INSERT INTO read_markers (user, ch, seq) VALUES (?1, ?2, ?3) "
                   "ON CONFLICT (user, ch) DO UPDATE SET seq = max(seq, excluded.seq)");
  prepare_or_throw(path_, db_, upsert_availability_,
                   "INSERT INTO user_availability (user, availability, set_at, last_seen) VALUES (?1, ?2, ?3, ?3) "
                   "ON CONFLICT (user) DO UPDATE SET availability = excluded.availability, set_at = excluded.set_at, "
                   "last_seen = max(last_seen, excluded.last_seen)");
  prepare_or_throw(path_, db_, upsert_last_seen_,
                   "INSERT INTO user_availability (user, last_seen) VALUES (?1, ?2) "
                   "ON CONFLICT (user) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)");
  prepare_or_throw(path_, db_, find_file_,
                   "SELECT name, size, type, by, ts FROM engagement_files WHERE eng = ?1 AND sha256 = ?2");
  prepare_or_throw(path_, db_, insert_file_,
                   "INSERT INTO engagement_files (eng, sha256, name, size, type, by, ts) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  prepare_or_throw(path_, db_, file_total_, "SELECT bytes FROM engagement_file_totals WHERE eng = ?1");
  prepare_or_throw(path_, db_, add_file_total_,
                   "INSERT INTO engagement_file_totals (eng, bytes) VALUES (?1, ?2) "
                   "ON CONFLICT (eng) DO UPDATE SET bytes = bytes + excluded.bytes");
  // The statements every batch runs, prepared once rather than parsed each time.
  prepare_or_throw(path_, db_, begin_, "BEGIN IMMEDIATE");
  prepare_or_throw(path_, db_, commit_, "COMMIT");
  prepare_or_throw(path_, db_, savepoint_, "SAVEPOINT job");
  prepare_or_throw(path_, db_, release_, "RELEASE job");
  prepare_or_throw(path_, db_, rollback_to_, "ROLLBACK TO job");
  outbox_ = std::make_unique<sqlite_outbox_writer>(path_, db_);
  due_ = std::make_unique<sqlite_due_index>(path_, db_);
}

int sqlite_writer::run(statement& s) {
  statement_use use(s);
  int rc = s.step();
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

void sqlite_writer::set_sink(std::function<void(const committed_event&)> sink) { sink_ = std::move(sink); }

void sqlite_writer::append(append_request req, std::function<void(result<appended>)> handler) {
  write_job job = append_job{std::move(req), std::move(handler)};
  admission admitted = queue_.push(job);
  if (admitted == admission::queued) return;
  // Logged outside the queue's lock; the log limits itself.
  if (admitted == admission::full)
    log_event(log_level::warn, "storage_busy", {{"engine", "local"}, {"queue", "writer"}});
  std::get<append_job>(job).handler(refusal_of(admitted));
}

void sqlite_writer::set_read_marker(std::string user_id, std::string ch, std::int64_t seq) {
  write_job job = marker_job{std::move(user_id), std::move(ch), seq};
  queue_.push(job);
}

void sqlite_writer::set_availability(std::string user_id, std::string availability, std::int64_t set_at,
                                     std::function<void(result<void>)> done) {
  write_job job = user_job{std::move(user_id), std::move(availability), set_at, std::move(done)};
  admission admitted = queue_.push(job);
  if (admitted != admission::queued) std::get<user_job>(job).handler(refusal_of(admitted));
}

void sqlite_writer::set_last_seen(std::string user_id, std::int64_t at) {
  write_job job = user_job{std::move(user_id), std::nullopt, at, nullptr};
  queue_.push(job);
}

void sqlite_writer::add_file(std::string eng, file_entry f, std::uint64_t max_total,
                             std::function<void(result<file_added>)> done) {
  write_job job = file_job{std::move(eng), std::move(f), max_total, std::move(done), {}};
  admission admitted = queue_.push(job);
  if (admitted != admission::queued) std::get<file_job>(job).handler(refusal_of(admitted));
}

void sqlite_writer::push_task(std::function<result<void>()> apply, std::function<void(result<void>)> answer) {
  write_job job = task_job{std::move(apply), std::move(answer)};
  admission admitted = queue_.push(job);
  if (admitted != admission::queued) std::get<task_job>(job).answer(refusal_of(admitted));
}

template <class T>
void sqlite_writer::push_query(std::function<result<T>()> apply, std::function<void(result<T>)> handler) {
  auto value = std::make_shared<std::optional<T>>();
  push_task(
      [apply = std::move(apply), value]() -> result<void> {
        auto got = apply();
        if (!got) return got.err();
        value->emplace(std::move(*got));
        return {};
      },
      [value, handler = std::move(handler)](result<void> done) {
        if (!done) return handler(done.err());
        handler(std::move(**value));
      });
}

// Stored only when webhooks are on: without a receiver nothing would ever
// take them out again.
void sqlite_writer::enqueue_webhooks(std::vector<webhook_entry> entries, std::function<void(result<void>)> done) {
  if (!webhooks_ || entries.empty()) return done({});
  auto shared = std::make_shared<std::vector<webhook_entry>>(std::move(entries));
  push_task(
      [this, shared]() -> result<void> {
        for (const auto& e : *shared)
          if (auto stored = outbox_->insert(e); !stored) return stored;
        return {};
      },
      std::move(done));
}

void sqlite_writer::claim_webhooks(std::string owner, std::int64_t now, std::int64_t lease_ms, int limit,
                                   std::function<void(result<std::vector<webhook_entry>>)> handler) {
  push_query<std::vector<webhook_entry>>(
      [this, owner = std::move(owner), now, lease_ms, limit]() -> result<std::vector<webhook_entry>> {
        // Claims come at the sender's pace: a fitting time to prune a little.
        if (auto pruned = outbox_->prune(now - webhook_retention_ms); !pruned) return pruned.err();
        return outbox_->claim(owner, now, lease_ms, limit);
      },
      std::move(handler));
}

void sqlite_writer::finish_webhook(std::string owner, std::string eng, std::string id, webhook_outcome outcome,
                                   std::function<void(result<void>)> done) {
  push_task(
      [this, owner = std::move(owner), eng = std::move(eng), id = std::move(id), outcome = std::move(outcome)] {
        return outbox_->finish(owner, eng, id, outcome);
      },
      std::move(done));
}

void sqlite_writer::retry_webhook(std::string id, std::int64_t now,
                                  std::function<void(result<webhook_entry>)> handler) {
  push_query<webhook_entry>([this, id = std::move(id), now] { return outbox_->retry(id, now); }, std::move(handler));
}

void sqlite_writer::save_snapshot(std::string eng, std::int64_t revision, std::string text,
                                  std::function<void(result<void>)> done) {
  push_task(
      [this, eng = std::move(eng), revision, text = std::move(text)] {
        upsert_snapshot_.bind(1, std::string_view(eng));
        upsert_snapshot_.bind(2, revision);
        upsert_snapshot_.bind(3, std::string_view(text));
        return run_statement(upsert_snapshot_, db_, "cannot store a snapshot");
      },
      std::move(done));
}

void sqlite_writer::set_due(std::string key, std::optional<std::int64_t> due) {
  push_task([this, key = std::move(key), due] { return due_->set(key, due); }, [](result<void>) {});
}

void sqlite_writer::claim_due(std::int64_t now, std::int64_t lease_ms, int limit,
                              std::function<void(result<std::vector<std::string>>)> handler) {
  push_query<std::vector<std::string>>([this, now, lease_ms, limit] { return due_->claim(now, lease_ms, limit); },
                                      std::move(handler));
}

void sqlite_writer::due_index_complete(std::function<void(result<bool>)> handler) {
  push_query<bool>([this] { return due_->complete(); }, std::move(handler));
}

void sqlite_writer::mark_due_index_complete(std::function<void(result<void>)> done) {
  push_task([this] { return due_->mark_complete(); }, std::move(done));
}

engine_stats sqlite_writer::stats() const { return counters_.snapshot(); }

void sqlite_writer::close_queue() { queue_.close(); }

// Drains before it joins: the loop ends only once the queue is empty, so
// every append queued before close_queue() is committed and answered.
void sqlite_writer::finish() {
  if (thread_.joinable()) thread_.join();
  db_.close();
}

void sqlite_writer::loop() {
  // A commit costs an fsync and the wake-ups of the threads it answers,
  // whatever it carries. Under a steady load a commit that starts at once
  // after the last one carries a post or two: the next one waits until
  // `group_commit_window` after the last began, gathering what comes in the
  // meantime. An append that arrives on a quiet writer starts at once.
  constexpr auto group_commit_window = std::chrono::milliseconds(2);
  auto gather_until = std::chrono::steady_clock::time_point::min();
  for (std::vector<write_job> batch; queue_.take(batch, max_batch_, gather_until); batch.clear()) {
    gather_until = std::chrono::steady_clock::now() + group_commit_window;
    run_batch(batch);
  }
}

// One transaction for the whole batch; each job inside its own savepoint, so
// a job that fails is undone alone and the others still commit. Handlers and
// the sink run only after COMMIT has returned, i.e. after the fsync.
void sqlite_writer::run_batch(std::vector<write_job>& jobs) {
  std::vector<result<appended>> outcomes(jobs.size(), appended{});
  head_map batch_heads;  // heads as of the savepoints released so far

  auto fail_all = [&](const error& err) {
    for (auto& out : outcomes)
      if (out) out = err;
    // The in-memory heads may be ahead of what is on disk: load them again.
    heads_.clear();
    healthy_.store(false);
  };

  bool failed = false;
  int rc = run(begin_);
  if (rc != SQLITE_OK) {
    fail_all(storage_error(rc, db_, "cannot begin a transaction"));
    failed = true;
  }

  for (std::size_t i = 0; i < jobs.size() && !failed; ++i) {
    const bool savepoint = !one_statement(jobs[i]);
    rc = savepoint ? run(savepoint_) : SQLITE_OK;
    if (rc != SQLITE_OK) {
      fail_all(storage_error(rc, db_, "cannot begin a savepoint"));
      failed = true;
      break;
    }
    head_map request_heads;
    result<void> applied;
    if (auto* job = std::get_if<append_job>(&jobs[i]))
      applied = apply_append(job->req, outcomes[i].value(), request_heads, batch_heads);
    else if (auto* marker = std::get_if<marker_job>(&jobs[i]))
      applied = apply_marker(*marker);
    else if (auto* file = std::get_if<file_job>(&jobs[i]))
      applied = apply_file(*file);
    else if (auto* task = std::get_if<task_job>(&jobs[i]))
      applied = task->apply();
    else
      applied = apply_user(std::get<user_job>(jobs[i]));

    if (applied && savepoint) {
      rc = run(release_);
      if (rc != SQLITE_OK) applied = storage_error(rc, db_, "cannot release a savepoint");
    }
    if (applied) {
      for (auto& [ch, head] : request_heads) batch_heads[ch] = head;
      continue;
    }
    outcomes[i] = applied.err();
    // Some errors (disk full, I/O) make SQLite roll back the whole
    // transaction on its own: then nothing of this batch is stored.
    if (sqlite3_get_autocommit(db_.get())) {
      fail_all(storage_unavailable("transaction rolled back: " + applied.err().message));
      failed = true;
      break;
    }
    if (savepoint) {
      run(rollback_to_);
      run(release_);
    }
  }

  if (!failed) {
    // The batch's channel heads, then COMMIT: either failing undoes the batch.
    result<void> committed = store_heads(batch_heads);
    if (committed && (rc = run(commit_)) != SQLITE_OK) committed = storage_error(rc, db_, "cannot commit");
    if (!committed) {
      if (!sqlite3_get_autocommit(db_.get())) db_.exec("ROLLBACK");
      fail_all(committed.err());
      failed = true;
    }
  }

  if (!failed) {
    healthy_.store(true);
    for (auto& [ch, head] : batch_heads) heads_[ch] = head;
    std::uint64_t stored = 0, duplicates = 0;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (!std::holds_alternative<append_job>(jobs[i]) || !outcomes[i]) continue;
      if (outcomes[i]->duplicate)
        ++duplicates;
      else
        stored += outcomes[i]->committed.size();
    }
    counters_.transactions.fetch_add(1);
    counters_.appends.fetch_add(stored);
    counters_.duplicates.fetch_add(duplicates);
  }

  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (auto* file = std::get_if<file_job>(&jobs[i])) {
      file->handler(outcomes[i] ? result<file_added>(std::move(file->outcome)) : result<file_added>(outcomes[i].err()));
      continue;
    }
    if (auto* task = std::get_if<task_job>(&jobs[i])) {
      task->answer(outcomes[i] ? result<void>() : result<void>(outcomes[i].err()));
      continue;
    }
    if (auto* user = std::get_if<user_job>(&jobs[i]); user && user->handler) {
      user->handler(outcomes[i] ? result<void>() : result<void>(outcomes[i].err()));
      continue;
    }
    auto* job = std::get_if<append_job>(&jobs[i]);
    if (!job) continue;
    result<appended>& out = outcomes[i];
    if (out && !out->duplicate && sink_)
      for (const auto& ev : out->committed) sink_(ev);
    if (job->handler) job->handler(std::move(out));
  }
}

// A job that writes with one statement needs no savepoint of its own: SQLite
// undoes a statement that fails, and nothing else of the job was written. A
// plain message or status is one such job (its channel's head is written
// with the batch's, store_heads).
bool sqlite_writer::one_statement(const write_job& job) const {
  if (std::holds_alternative<marker_job>(job) || std::holds_alternative<user_job>(job)) return true;
  const auto* append = std::get_if<append_job>(&job);
  return append && append->req.events.size() == 1 && !append->req.record && !append->req.sealed && !webhooks_;
}

// The committed head of `ch` as seen by the job being applied: its own
// earlier events first, then the jobs released earlier in this batch, then
// the committed cache, then the database.
result<channel_head> sqlite_writer::head_of(const std::string& ch, const head_map& request_heads,
                                            const head_map& batch_heads) {
  if (auto it = request_heads.find(ch); it != request_heads.end()) return it->second;
  if (auto it = batch_heads.find(ch); it != batch_heads.end()) return it->second;
  if (auto it = heads_.find(ch); it != heads_.end()) return it->second;

  // Not touched by this batch, so the database holds its committed head.
  channel_head head;
  {
    statement_use use(load_head_);
    load_head_.bind(1, std::string_view(ch));
    int rc = load_head_.step();
    if (rc == SQLITE_ROW)
      head.seq = load_head_.column_int64(0);
    else if (rc != SQLITE_DONE)
      return storage_error(rc, db_, "cannot load the channel head");
  }
  if (head.seq > 0) {
    statement_use use(load_ts_);
    load_ts_.bind(1, std::string_view(ch));
    load_ts_.bind(2, head.seq);
    int rc = load_ts_.step();
    if (rc == SQLITE_ROW)
      head.ts = load_ts_.column_int64(0);
    else if (rc != SQLITE_DONE)
      return storage_error(rc, db_, "cannot load the channel head");
  }
  heads_[ch] = head;
  return head;
}

result<log_tail> sqlite_writer::last_record(const std::string& eng) {
  log_tail tail;
  statement_use use(last_record_);
  last_record_.bind(1, std::string_view(eng));
  int rc = last_record_.step();
  if (rc == SQLITE_ROW) {
    tail.n = last_record_.column_int64(0);
    tail.hash = std::string(last_record_.column_text(1));
  } else if (rc != SQLITE_DONE) {
    return storage_error(rc, db_, "cannot read the decision log");
  }
  return tail;
}

result<void> sqlite_writer::store_record(const sealed_record& record) {
  statement_use use(insert_record_);
  insert_record_.bind(1, std::string_view(record.eng));
  insert_record_.bind(2, record.n);
  insert_record_.bind(3, std::string_view(record.json));
  insert_record_.bind(4, std::string_view(record.hash));
  int rc = insert_record_.step();
  if (rc != SQLITE_DONE) return storage_error(rc, db_, "cannot store the decision record");
  return {};
}

// Checks the request, answers a known cid with what it stored, checks the
// expected heads, then plans the append (append_plan.hpp) from the heads as
// this job sees them and the decision log's tail, and writes the plan.
result<void> sqlite_writer::apply_append(append_request& req, appended& out, head_map& request_heads,
                                         const head_map& batch_heads) {
  if (auto checked = check_append(req); !checked) return checked;

  const event& first = req.events.front();
  if (!first.cid.empty()) {
    statement_use use(find_cid_);
    find_cid_.bind(1, std::string_view(first.ch));
    find_cid_.bind(2, std::string_view(first.from.id));
    find_cid_.bind(3, std::string_view(first.cid));
    int rc = find_cid_.step();
    if (rc == SQLITE_ROW) {
      out.duplicate = true;
      out.committed.push_back(stored_commit(first.ch, find_cid_.column_int64(0), find_cid_.column_int64(1),
                                            std::string(find_cid_.column_text(2))));
      return {};
    }
    if (rc != SQLITE_DONE) return storage_error(rc, db_, "cannot look up the cid");
  }

  for (const auto& [ch, expected] : req.expect_heads) {
    auto head = head_of(ch, request_heads, batch_heads);
    if (!head) return head.err();
    if (head->seq != expected) return stale_head(ch, head->seq, expected);
  }

  std::map<std::string, channel_head> heads;
  for (const auto& ev : req.events) {
    auto head = head_of(ev.ch, request_heads, batch_heads);
    if (!head) return head.err();
    heads.emplace(ev.ch, *head);
  }
  log_tail tail;
  if (req.record) {
    auto last = last_record(record_engagement(*req.record));
    if (!last) return last.err();
    tail = std::move(*last);
  }
  append_plan plan = plan_append(std::move(req.events), req.record, heads, now_ms(), tail, signer_.get());
  if (plan.record)
    if (auto stored = store_record(*plan.record); !stored) return stored;
  // The hooks in the same savepoint: stored with the events or not at all.
  if (auto hooked = store_hooks(req, plan); !hooked) return hooked;
  // Beside the first event, in its savepoint: stored with it or not at all.
  if (req.sealed) {
    statement_use use(insert_sealed_);
    insert_sealed_.bind(1, std::string_view(plan.events.front().ch));
    insert_sealed_.bind(2, plan.events.front().seq);
    insert_sealed_.bind(3, std::string_view(*req.sealed));
    int rc = insert_sealed_.step();
    if (rc != SQLITE_DONE) return storage_error(rc, db_, "cannot store the sealed payload");
  }

  for (std::size_t i = 0; i < plan.events.size(); ++i) {
    event& ev = plan.events[i];
    auto json = std::make_shared<const std::string>(serialize_event(ev));
    statement_use use(insert_event_);
    insert_event_.bind(1, std::string_view(ev.ch));
    insert_event_.bind(2, ev.seq);
    insert_event_.bind(3, ev.ts);
    insert_event_.bind(4, std::string_view(ev.from.id));
    // Only the first event carries the idempotency key of the request.
    if (i == 0 && !ev.cid.empty())
      insert_event_.bind(5, std::string_view(ev.cid));
    else
      insert_event_.bind_null(5);
    insert_event_.bind(6, std::string_view(*json));
    int rc = insert_event_.step();
    if (rc != SQLITE_DONE) return storage_error(rc, db_, "cannot store the event");
    out.committed.push_back(own_commit(std::move(ev), std::move(json)));
  }

  // The heads are written once per batch (store_heads), not once per append.
  for (const auto& [ch, head] : plan.heads) request_heads[ch] = head;
  return {};
}

result<void> sqlite_writer::store_heads(const head_map& heads) {
  for (const auto& [ch, head] : heads) {
    statement_use use(upsert_channel_);
    upsert_channel_.bind(1, std::string_view(ch));
    upsert_channel_.bind(2, head.seq);
    int rc = upsert_channel_.step();
    if (rc != SQLITE_DONE) return storage_error(rc, db_, "cannot store the channel head");
  }
  return {};
}

result<void> sqlite_writer::store_hooks(const append_request& req, const append_plan& plan) {
  if (!webhooks_) return {};
  hook_context context{req.record ? req.record->attach_to : 0, req.closing_agreement};
  for (const auto& e : webhook_entries_of(plan, context))
    if (auto stored = outbox_->insert(e); !stored) return stored;
  return {};
}

result<void> sqlite_writer::apply_marker(const marker_job& job) {
  statement_use use(upsert_marker_);
  upsert_marker_.bind(1, std::string_view(job.user_id));
  upsert_marker_.bind(2, std::string_view(job.ch));
  upsert_marker_.bind(3, job.seq);
  int rc = upsert_marker_.step();
  if (rc != SQLITE_DONE) return storage_error(rc, db_, "cannot store the read marker");
  return {};
}

result<void> sqlite_writer::apply_user(const user_job& job) {
  statement& st = job.availability ? upsert_availability_ : upsert_last_seen_;
  statement_use use(st);
  st.bind(1, std::string_view(job.user_id));
  if (job.availability) {
    st.bind(2, std::string_view(*job.availability));
    st.bind(3, job.at);
  } else {
    st.bind(2, job.at);
  }
  int rc = st.step();
  if (rc != SQLITE_DONE) return storage_error(rc, db_, "cannot store the user's availability");
  return {};
}

// The entry and the running total change together, in the job's savepoint.
result<void> sqlite_writer::apply_file(file_job& job) {
  std::uint64_t total = 0;
  {
    statement_use use(file_total_);
    file_total_.bind(1, std::string_view(job.eng));
    int rc = file_total_.step();
    if (rc == SQLITE_ROW)
      total = static_cast<std::uint64_t>(file_total_.column_int64(0));
    else if (rc != SQLITE_DONE)
      return storage_error(rc, db_, "cannot read the engagement's file total");
  }
  {
    statement_use use(find_file_);
    find_file_.bind(1, std::string_view(job.eng));
    find_file_.bind(2, std::string_view(job.entry.sha256));
    int rc = find_file_.step();
    if (rc == SQLITE_ROW) {
      file_entry stored{job.entry.sha256, std::string(find_file_.column_text(0)),
                        static_cast<std::uint64_t>(find_file_.column_int64(1)), std::string(find_file_.column_text(2)),
                        std::string(find_file_.column_text(3)), find_file_.column_int64(4)};
      job.outcome = {false, std::move(stored), total};
      return {};
    }
    if (rc != SQLITE_DONE) return storage_error(rc, db_, "cannot look up the file");
  }
  if (job.max_total && total + job.entry.size > job.max_total)
    return make_error(errc::too_large, "the engagement's files would exceed " + std::to_string(job.max_total) + " bytes");
  {
    statement_use use(insert_file_);
    insert_file_.bind(1, std::string_view(job.eng));
    insert_file_.bind(2, std::string_view(job.entry.sha256));
    insert_file_.bind(3, std::string_view(job.entry.name));
    insert_file_.bind(4, static_cast<std::int64_t>(job.entry.size));
    insert_file_.bind(5, std::string_view(job.entry.type));
    insert_file_.bind(6, std::string_view(job.entry.by));
    insert_file_.bind(7, job.entry.ts);
    int rc = insert_file_.step();
    if (rc != SQLITE_DONE) return storage_error(rc, db_, "cannot store the file entry");
  }
  {
    statement_use use(add_file_total_);
    add_file_total_.bind(1, std::string_view(job.eng));
    add_file_total_.bind(2, static_cast<std::int64_t>(job.entry.size));
    int rc = add_file_total_.step();
    if (rc != SQLITE_DONE) return storage_error(rc, db_, "cannot store the engagement's file total");
  }
  job.outcome = {true, job.entry, total + job.entry.size};
  return {};
}

}  // namespace parley
