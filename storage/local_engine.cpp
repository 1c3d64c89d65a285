// The embedded engine on SQLite (DESIGN §2).
//
// Durability (protocol §6): WAL with synchronous=FULL, so every COMMIT fsyncs
// the WAL before it returns, and a handler is called only after its COMMIT.
// An acknowledged append therefore survives a crash of the process and of the
// machine. Group commit pays that fsync once for every append waiting in the
// queue.
//
// Threads: one writer thread owns the write connection and the in-memory
// channel heads; one reader thread owns a second connection and answers
// read() and read_records() from committed state while the writer writes.
#include "storage/local_engine.hpp"

#include "protocol/decision_log.hpp"
#include "protocol/hex.hpp"
#include "storage/append_plan.hpp"
#include "storage/clock.hpp"
#include "storage/log.hpp"
#include "storage/refusals.hpp"
#include "storage/sqlite_db.hpp"
#include "storage/sqlite_schema.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <variant>

namespace parley {
namespace {

constexpr int max_read_limit = 1000;
constexpr int busy_timeout_ms = 5000;

// Busy, locked, I/O and full-disk failures are the storage being unreachable
// for now (`unavailable`); anything else is a fault of ours (`internal`).
error storage_error(int rc, const sqlite_db& db, std::string_view what) {
  int primary = rc & 0xff;
  bool transient = primary == SQLITE_BUSY || primary == SQLITE_LOCKED || primary == SQLITE_IOERR ||
                   primary == SQLITE_FULL || primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY ||
                   primary == SQLITE_NOMEM;
  log_event(primary == SQLITE_FULL ? log_level::error : log_level::warn, "storage_error",
            {{"what", std::string(what)}, {"sqlite", db.errmsg()}, {"code", std::to_string(rc)}});
  return make_error(transient ? errc::unavailable : errc::internal,
                    std::string(what) + ": " + db.errmsg());
}

struct append_job {
  append_request req;
  std::function<void(result<appended>)> handler;
};

struct marker_job {
  std::string user_id;
  std::string ch;
  std::int64_t seq = 0;
};

using write_job = std::variant<append_job, marker_job>;

using head_map = std::unordered_map<std::string, channel_head>;

class local_engine final : public engine {
 public:
  explicit local_engine(const local_engine_options& options);
  ~local_engine() override { stop(); }

  void set_sink(std::function<void(const committed_event&)> sink) override;
  void append(append_request req, std::function<void(result<appended>)> handler) override;
  void read(read_query q, std::function<void(result<channel_window>)> handler) override;
  void read_records(std::string eng, std::int64_t after, int limit,
                    std::function<void(result<records_page>)> handler) override;
  void list_engagements(std::function<void(result<std::vector<std::string>>)> handler) override;
  void presence_update(const std::string& ch, const user& who, bool present) override;
  void presence_members(const std::string& ch, std::function<void(result<std::vector<user>>)> handler) override;
  void find_by_cid(std::string ch, std::string sender_id, std::string cid,
                   std::function<void(result<std::optional<committed_event>>)> handler) override;
  void set_read_marker(std::string user_id, std::string ch, std::int64_t seq) override;
  engine_stats stats() const override;
  bool ready() const override { return ready_.load() && !stopped_.load(); }
  void stop() override;

 private:
  [[noreturn]] void fail(const std::string& what) const;
  void lock_database();
  void open_writer();
  void open_reader();
  void prepare(sqlite_db& db, statement& st, std::string_view sql);

  void writer_loop();
  void run_batch(std::vector<write_job>& jobs);
  result<void> apply_append(append_request& req, appended& out, head_map& request_heads,
                            const head_map& batch_heads);
  result<void> apply_marker(const marker_job& job);
  result<channel_head> head_of(const std::string& ch, const head_map& request_heads, const head_map& batch_heads);
  result<log_tail> last_record(const std::string& eng);
  result<void> store_record(const sealed_record& record);

  void reader_loop();
  void post_read(std::function<void(const error*)> job);
  result<channel_window> do_read(const read_query& q);
  result<channel_window> read_bounded(const read_query& q, int limit, channel_window out);
  result<records_page> do_read_records(const std::string& eng, std::int64_t after, int limit);
  result<std::vector<std::string>> do_list_engagements();
  result<std::optional<committed_event>> do_find_by_cid(const std::string& ch, const std::string& sender,
                                                        const std::string& cid);

  // Derived, never stored: no write on a read, and a new database id (a wiped
  // data directory) changes every epoch.
  std::string epoch_of(std::string_view ch) const {
    return sha256_hex(db_id_ + "\n" + std::string(ch)).substr(0, 16);
  }

  std::filesystem::path path_;
  std::size_t max_batch_;
  std::size_t max_queue_;
  std::shared_ptr<const ed25519_key> signer_;
  std::string db_id_;
  int lock_fd_ = -1;

  // Writer connection and its statements: used on the writer thread only.
  sqlite_db wdb_;
  statement find_cid_, insert_event_, upsert_channel_, load_head_, load_ts_;
  statement last_record_, insert_record_, upsert_marker_;
  head_map heads_;  // committed heads, loaded on first use

  // Reader connection and its statements: used on the reader thread only.
  sqlite_db rdb_;
  statement read_head_, read_after_, read_before_, read_tail_, read_between_, read_records_, list_engagements_, read_cid_;

  std::function<void(const committed_event&)> sink_;

  // One instance: presence is this process's own, in memory.
  std::mutex presence_mutex_;
  std::unordered_map<std::string, std::map<std::string, user>> presence_;

  std::mutex write_mutex_;
  std::condition_variable write_cv_;
  std::deque<write_job> write_queue_;

  std::mutex read_mutex_;
  std::condition_variable read_cv_;
  // A job runs with no error on the reader thread, or with the error to
  // answer on the caller's thread (the engine is stopping, the queue is full).
  std::deque<std::function<void(const error*)>> read_queue_;

  bool stopping_ = false;  // guarded by both queue mutexes: no job is queued after it is set
  std::mutex stop_mutex_;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> ready_{true};

  std::atomic<std::uint64_t> appends_{0};
  std::atomic<std::uint64_t> transactions_{0};
  std::atomic<std::uint64_t> duplicates_{0};

  std::thread writer_;
  std::thread reader_;
};

local_engine::local_engine(const local_engine_options& options)
    : path_(options.db_path),
      max_batch_(static_cast<std::size_t>(std::max(1, options.max_batch))),
      max_queue_(std::max<std::size_t>(1, options.max_queue)),
      signer_(options.signer) {
  if (path_.empty()) throw std::runtime_error("cannot open database: no path given");
  if (path_.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(path_.parent_path(), ec);
    if (ec) fail("cannot create directory " + path_.parent_path().string() + ": " + ec.message());
  }
  lock_database();
  open_writer();
  open_reader();
  writer_ = std::thread([this] { writer_loop(); });
  reader_ = std::thread([this] { reader_loop(); });
}

void local_engine::fail(const std::string& what) const {
  if (lock_fd_ >= 0) ::close(lock_fd_);
  throw std::runtime_error("cannot open database " + path_.string() + ": " + what);
}

// The channel heads live in this process's memory, so a second server on the
// same database would hand out the same seqs. An advisory lock on a sibling
// file turns that mistake into a start-up error. The kernel drops it when the
// process dies, so a crash never leaves it behind.
void local_engine::lock_database() {
  std::string lock_path = path_.string() + ".lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) fail(std::string("cannot create ") + lock_path + ": " + std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(lock_fd_);
    lock_fd_ = -1;
    if (err == EWOULDBLOCK) fail("in use by another Parley process");
    fail(std::string("cannot lock ") + lock_path + ": " + std::strerror(err));
  }
}

void local_engine::prepare(sqlite_db& db, statement& st, std::string_view sql) {
  if (st.prepare(db.get(), sql) != SQLITE_OK) fail(db.errmsg());
}

void local_engine::open_writer() {
  if (wdb_.open(path_.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX) != SQLITE_OK)
    fail(wdb_.errmsg());

  // The first statement reads the header: a file that is not a database fails here.
  {
    statement wal;
    if (wal.prepare(wdb_.get(), "PRAGMA journal_mode=WAL") != SQLITE_OK) fail(wdb_.errmsg());
    if (wal.step() != SQLITE_ROW) fail(wdb_.errmsg());
    if (wal.column_text(0) != "wal")
      fail("cannot switch to WAL mode (journal_mode is " + std::string(wal.column_text(0)) + ")");
  }
  // SQLite silently falls back to read-only for a write-protected file.
  if (sqlite3_db_readonly(wdb_.get(), "main") == 1) fail("the file is read-only");
  // FULL: in WAL mode every COMMIT fsyncs the WAL, so an acknowledged append
  // survives a power loss, not only a crash of the process.
  std::string pragmas = "PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF; PRAGMA busy_timeout=" +
                        std::to_string(busy_timeout_ms) + ";";
  if (wdb_.exec(pragmas.c_str()) != SQLITE_OK) fail(wdb_.errmsg());

  auto db_id = migrate_schema(wdb_);
  if (!db_id) fail(db_id.err().message);
  db_id_ = std::move(*db_id);

  prepare(wdb_, find_cid_, "SELECT seq, ts, json FROM events WHERE ch = ?1 AND sender = ?2 AND cid = ?3");
  prepare(wdb_, insert_event_, "INSERT INTO events (ch, seq, ts, sender, cid, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  prepare(wdb_, upsert_channel_,
          "INSERT INTO channels (ch, head) VALUES (?1, ?2) ON CONFLICT (ch) DO UPDATE SET head = excluded.head");
  prepare(wdb_, load_head_, "SELECT head FROM channels WHERE ch = ?1");
  prepare(wdb_, load_ts_, "SELECT ts FROM events WHERE ch = ?1 AND seq = ?2");
  prepare(wdb_, last_record_, "SELECT n, hash FROM decision_log WHERE eng = ?1 ORDER BY n DESC LIMIT 1");
  prepare(wdb_, insert_record_, "INSERT INTO decision_log (eng, n, json, hash) VALUES (?1, ?2, ?3, ?4)");
  prepare(wdb_, upsert_marker_,
          "INSERT INTO read_markers (user, ch, seq) VALUES (?1, ?2, ?3) "
          "ON CONFLICT (user, ch) DO UPDATE SET seq = max(seq, excluded.seq)");
}

void local_engine::open_reader() {
  if (rdb_.open(path_.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX) != SQLITE_OK) fail(rdb_.errmsg());
  std::string pragmas = "PRAGMA query_only=ON; PRAGMA busy_timeout=" + std::to_string(busy_timeout_ms) + ";";
  if (rdb_.exec(pragmas.c_str()) != SQLITE_OK) fail(rdb_.errmsg());

  prepare(rdb_, read_head_, "SELECT head FROM channels WHERE ch = ?1");
  prepare(rdb_, read_after_, "SELECT seq, json FROM events WHERE ch = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3");
  prepare(rdb_, read_before_, "SELECT seq, json FROM events WHERE ch = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3");
  prepare(rdb_, read_tail_, "SELECT seq, json FROM events WHERE ch = ?1 ORDER BY seq DESC LIMIT ?2");
  prepare(rdb_, read_between_,
          "SELECT seq, json FROM events WHERE ch = ?1 AND seq > ?2 AND seq < ?3 ORDER BY seq LIMIT ?4");
  prepare(rdb_, read_records_, "SELECT json FROM decision_log WHERE eng = ?1 AND n > ?2 ORDER BY n LIMIT ?3");
  prepare(rdb_, read_cid_, "SELECT seq, ts, json FROM events WHERE ch = ?1 AND sender = ?2 AND cid = ?3");
  prepare(rdb_, list_engagements_,
          "SELECT substr(ch, 5) FROM channels WHERE ch GLOB 'eng:*' AND ch NOT GLOB 'eng:*:*' ORDER BY ch");
}

void local_engine::set_sink(std::function<void(const committed_event&)> sink) {
  std::lock_guard lock(write_mutex_);
  sink_ = std::move(sink);
}

void local_engine::append(append_request req, std::function<void(result<appended>)> handler) {
  error refusal;
  bool stopping = false;
  {
    std::lock_guard lock(write_mutex_);
    stopping = stopping_;
    if (stopping_) {
      refusal = storage_stopping();
    } else if (write_queue_.size() >= max_queue_) {
      refusal = storage_busy();
    } else {
      write_queue_.push_back(append_job{std::move(req), std::move(handler)});
      write_cv_.notify_one();
      return;
    }
  }
  // Logged outside the queue's lock; the log limits itself.
  if (!stopping) log_event(log_level::warn, "storage_busy", {{"engine", "local"}, {"queue", "writer"}});
  handler(std::move(refusal));
}

void local_engine::set_read_marker(std::string user_id, std::string ch, std::int64_t seq) {
  std::lock_guard lock(write_mutex_);
  if (stopping_ || write_queue_.size() >= max_queue_) return;
  write_queue_.push_back(marker_job{std::move(user_id), std::move(ch), seq});
  write_cv_.notify_one();
}

engine_stats local_engine::stats() const {
  engine_stats s;
  s.appends = appends_.load();
  s.transactions = transactions_.load();
  s.duplicates = duplicates_.load();
  return s;
}

// Drains before it joins: every append queued before stop() is committed and
// answered. Later appends are answered `unavailable` at once. Must not be
// called from a handler (it would wait for the thread it runs on).
void local_engine::stop() {
  std::lock_guard stop_lock(stop_mutex_);
  if (stopped_.load()) return;
  {
    std::scoped_lock lock(write_mutex_, read_mutex_);
    stopping_ = true;
  }
  write_cv_.notify_all();
  read_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (reader_.joinable()) reader_.join();
  rdb_.close();
  wdb_.close();
  if (lock_fd_ >= 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
  }
  stopped_.store(true);
}

// ---- writer ----

void local_engine::writer_loop() {
  std::vector<write_job> batch;
  for (;;) {
    batch.clear();
    {
      std::unique_lock lock(write_mutex_);
      write_cv_.wait(lock, [this] { return !write_queue_.empty() || stopping_; });
      if (write_queue_.empty()) return;  // stopping, and everything is answered
      while (!write_queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(write_queue_.front()));
        write_queue_.pop_front();
      }
    }
    run_batch(batch);
  }
}

// One transaction for the whole batch; each job inside its own savepoint, so
// a job that fails is undone alone and the others still commit. Handlers and
// the sink run only after COMMIT has returned, i.e. after the fsync.
void local_engine::run_batch(std::vector<write_job>& jobs) {
  std::vector<result<appended>> outcomes(jobs.size(), appended{});
  head_map batch_heads;  // heads as of the savepoints released so far

  auto fail_all = [&](const error& err) {
    for (auto& out : outcomes)
      if (out) out = err;
    // The in-memory heads may be ahead of what is on disk: load them again.
    heads_.clear();
    ready_.store(false);
  };

  bool failed = false;
  int rc = wdb_.exec("BEGIN IMMEDIATE");
  if (rc != SQLITE_OK) {
    fail_all(storage_error(rc, wdb_, "cannot begin a transaction"));
    failed = true;
  }

  for (std::size_t i = 0; i < jobs.size() && !failed; ++i) {
    rc = wdb_.exec("SAVEPOINT job");
    if (rc != SQLITE_OK) {
      fail_all(storage_error(rc, wdb_, "cannot begin a savepoint"));
      failed = true;
      break;
    }
    head_map request_heads;
    result<void> applied;
    if (auto* job = std::get_if<append_job>(&jobs[i]))
      applied = apply_append(job->req, outcomes[i].value(), request_heads, batch_heads);
    else
      applied = apply_marker(std::get<marker_job>(jobs[i]));

    if (applied) {
      rc = wdb_.exec("RELEASE job");
      if (rc != SQLITE_OK) applied = storage_error(rc, wdb_, "cannot release a savepoint");
    }
    if (applied) {
      for (auto& [ch, head] : request_heads) batch_heads[ch] = head;
      continue;
    }
    outcomes[i] = applied.err();
    // Some errors (disk full, I/O) make SQLite roll back the whole
    // transaction on its own: then nothing of this batch is stored.
    if (sqlite3_get_autocommit(wdb_.get())) {
      fail_all(make_error(errc::unavailable, "transaction rolled back: " + applied.err().message));
      failed = true;
      break;
    }
    wdb_.exec("ROLLBACK TO job");
    wdb_.exec("RELEASE job");
  }

  if (!failed) {
    rc = wdb_.exec("COMMIT");
    if (rc != SQLITE_OK) {
      error err = storage_error(rc, wdb_, "cannot commit");
      if (!sqlite3_get_autocommit(wdb_.get())) wdb_.exec("ROLLBACK");
      fail_all(err);
      failed = true;
    }
  }

  if (!failed) {
    ready_.store(true);
    for (auto& [ch, head] : batch_heads) heads_[ch] = head;
    std::uint64_t stored = 0, duplicates = 0;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (!std::holds_alternative<append_job>(jobs[i]) || !outcomes[i]) continue;
      if (outcomes[i]->duplicate)
        ++duplicates;
      else
        stored += outcomes[i]->committed.size();
    }
    transactions_.fetch_add(1);
    appends_.fetch_add(stored);
    duplicates_.fetch_add(duplicates);
  }

  for (std::size_t i = 0; i < jobs.size(); ++i) {
    auto* job = std::get_if<append_job>(&jobs[i]);
    if (!job) continue;
    result<appended>& out = outcomes[i];
    if (out && !out->duplicate && sink_)
      for (const auto& ev : out->committed) sink_(ev);
    if (job->handler) job->handler(std::move(out));
  }
}

// The committed head of `ch` as seen by the job being applied: its own
// earlier events first, then the jobs released earlier in this batch, then
// the committed cache, then the database.
result<channel_head> local_engine::head_of(const std::string& ch, const head_map& request_heads,
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
      return storage_error(rc, wdb_, "cannot load the channel head");
  }
  if (head.seq > 0) {
    statement_use use(load_ts_);
    load_ts_.bind(1, std::string_view(ch));
    load_ts_.bind(2, head.seq);
    int rc = load_ts_.step();
    if (rc == SQLITE_ROW)
      head.ts = load_ts_.column_int64(0);
    else if (rc != SQLITE_DONE)
      return storage_error(rc, wdb_, "cannot load the channel head");
  }
  heads_[ch] = head;
  return head;
}

result<log_tail> local_engine::last_record(const std::string& eng) {
  log_tail tail;
  statement_use use(last_record_);
  last_record_.bind(1, std::string_view(eng));
  int rc = last_record_.step();
  if (rc == SQLITE_ROW) {
    tail.n = last_record_.column_int64(0);
    tail.hash = std::string(last_record_.column_text(1));
  } else if (rc != SQLITE_DONE) {
    return storage_error(rc, wdb_, "cannot read the decision log");
  }
  return tail;
}

result<void> local_engine::store_record(const sealed_record& record) {
  statement_use use(insert_record_);
  insert_record_.bind(1, std::string_view(record.eng));
  insert_record_.bind(2, record.n);
  insert_record_.bind(3, std::string_view(record.json));
  insert_record_.bind(4, std::string_view(record.hash));
  int rc = insert_record_.step();
  if (rc != SQLITE_DONE) return storage_error(rc, wdb_, "cannot store the decision record");
  return {};
}

// Checks the request, answers a known cid with what it stored, checks the
// expected heads, then plans the append (append_plan.hpp) from the heads as
// this job sees them and the decision log's tail, and writes the plan.
result<void> local_engine::apply_append(append_request& req, appended& out, head_map& request_heads,
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
    if (rc != SQLITE_DONE) return storage_error(rc, wdb_, "cannot look up the cid");
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
    if (rc != SQLITE_DONE) return storage_error(rc, wdb_, "cannot store the event");
    out.committed.push_back(own_commit(std::move(ev), std::move(json)));
  }

  for (const auto& [ch, head] : plan.heads) {
    request_heads[ch] = head;
    statement_use use(upsert_channel_);
    upsert_channel_.bind(1, std::string_view(ch));
    upsert_channel_.bind(2, head.seq);
    int rc = upsert_channel_.step();
    if (rc != SQLITE_DONE) return storage_error(rc, wdb_, "cannot store the channel head");
  }
  return {};
}

result<void> local_engine::apply_marker(const marker_job& job) {
  statement_use use(upsert_marker_);
  upsert_marker_.bind(1, std::string_view(job.user_id));
  upsert_marker_.bind(2, std::string_view(job.ch));
  upsert_marker_.bind(3, job.seq);
  int rc = upsert_marker_.step();
  if (rc != SQLITE_DONE) return storage_error(rc, wdb_, "cannot store the read marker");
  return {};
}

// ---- reader ----

void local_engine::post_read(std::function<void(const error*)> job) {
  error refusal;
  bool stopping = false;
  {
    std::lock_guard lock(read_mutex_);
    stopping = stopping_;
    if (stopping_) {
      refusal = storage_stopping();
    } else if (read_queue_.size() >= max_queue_) {
      refusal = storage_busy();
    } else {
      read_queue_.push_back(std::move(job));
      read_cv_.notify_one();
      return;
    }
  }
  if (!stopping) log_event(log_level::warn, "storage_busy", {{"engine", "local"}, {"queue", "reader"}});
  job(&refusal);
}

void local_engine::read(read_query q, std::function<void(result<channel_window>)> handler) {
  post_read([this, q = std::move(q), handler = std::move(handler)](const error* refused) {
    if (refused) return handler(*refused);
    handler(do_read(q));
  });
}

void local_engine::read_records(std::string eng, std::int64_t after, int limit,
                                std::function<void(result<records_page>)> handler) {
  post_read([this, eng = std::move(eng), after, limit, handler = std::move(handler)](const error* refused) {
    if (refused) return handler(*refused);
    handler(do_read_records(eng, after, limit));
  });
}

void local_engine::list_engagements(std::function<void(result<std::vector<std::string>>)> handler) {
  post_read([this, handler = std::move(handler)](const error* refused) {
    if (refused) return handler(*refused);
    handler(do_list_engagements());
  });
}

void local_engine::find_by_cid(std::string ch, std::string sender_id, std::string cid,
                               std::function<void(result<std::optional<committed_event>>)> handler) {
  post_read([this, ch = std::move(ch), sender_id = std::move(sender_id), cid = std::move(cid),
             handler = std::move(handler)](const error* refused) {
    if (refused) return handler(*refused);
    handler(do_find_by_cid(ch, sender_id, cid));
  });
}

void local_engine::presence_update(const std::string& ch, const user& who, bool present) {
  std::lock_guard lock(presence_mutex_);
  if (present) {
    presence_[ch][who.id] = who;
    return;
  }
  auto it = presence_.find(ch);
  if (it == presence_.end()) return;
  it->second.erase(who.id);
  if (it->second.empty()) presence_.erase(it);
}

void local_engine::presence_members(const std::string& ch, std::function<void(result<std::vector<user>>)> handler) {
  std::vector<user> members;
  {
    std::lock_guard lock(presence_mutex_);
    if (auto it = presence_.find(ch); it != presence_.end())
      for (const auto& [id, who] : it->second) members.push_back(who);
  }
  handler(std::move(members));
}

void local_engine::reader_loop() {
  for (;;) {
    std::function<void(const error*)> job;
    {
      std::unique_lock lock(read_mutex_);
      read_cv_.wait(lock, [this] { return !read_queue_.empty() || stopping_; });
      if (read_queue_.empty()) return;
      job = std::move(read_queue_.front());
      read_queue_.pop_front();
    }
    job(nullptr);
  }
}

// Head and events come from one read transaction, so they agree with each
// other even while the writer commits.
result<channel_window> local_engine::do_read(const read_query& q) {
  channel_window out;
  out.epoch = epoch_of(q.ch);
  int limit = std::clamp(q.limit, 1, max_read_limit);

  int rc = rdb_.exec("BEGIN");
  if (rc != SQLITE_OK) return storage_error(rc, rdb_, "cannot read");
  struct end_read {
    sqlite_db& db;
    ~end_read() { db.exec("COMMIT"); }
  } end{rdb_};

  {
    statement_use use(read_head_);
    read_head_.bind(1, std::string_view(q.ch));
    rc = read_head_.step();
    if (rc == SQLITE_ROW) {
      out.head = read_head_.column_int64(0);
    } else if (rc != SQLITE_DONE) {
      return storage_error(rc, rdb_, "cannot read the channel head");
    }
  }
  if (out.head == 0) return out;
  if (q.max_bytes > 0) return read_bounded(q, limit, std::move(out));

  statement* st = nullptr;
  bool descending = false;
  if (q.after && q.before) {
    st = &read_between_;
    st->bind(2, *q.after);
    st->bind(3, *q.before);
    st->bind(4, std::int64_t{limit});
  } else if (q.after) {
    st = &read_after_;
    st->bind(2, *q.after);
    st->bind(3, std::int64_t{limit});
  } else if (q.before) {
    st = &read_before_;
    st->bind(2, *q.before);
    st->bind(3, std::int64_t{limit});
    descending = true;
  } else {
    st = &read_tail_;
    st->bind(2, std::int64_t{limit});
    descending = true;
  }
  statement_use use(*st);
  st->bind(1, std::string_view(q.ch));
  while ((rc = st->step()) == SQLITE_ROW)
    out.events.push_back(stored_event{st->column_int64(0), std::make_shared<const std::string>(st->column_text(1))});
  if (rc != SQLITE_DONE) return storage_error(rc, rdb_, "cannot read events");
  if (descending) std::reverse(out.events.begin(), out.events.end());
  return out;
}

// Seqs are gap-free from 1 to the head, so every window is the ascending
// range [lo, hi]: read from its oldest event on, it stops at the byte bound
// without holding the rest.
result<channel_window> local_engine::read_bounded(const read_query& q, int limit, channel_window out) {
  std::int64_t lo = 1, hi = out.head;
  if (q.before) hi = std::min(hi, *q.before - 1);
  if (q.after) {
    if (*q.after >= hi) return out;
    lo = std::max<std::int64_t>(1, *q.after + 1);
    hi = std::min(hi, lo + limit - 1);
  } else {
    lo = std::max<std::int64_t>(1, hi - limit + 1);
  }
  if (lo > hi) return out;
  statement_use use(read_between_);
  read_between_.bind(1, std::string_view(q.ch));
  read_between_.bind(2, lo - 1);
  read_between_.bind(3, hi + 1);
  read_between_.bind(4, std::int64_t{limit});
  std::size_t used = 0;
  int rc;
  while ((rc = read_between_.step()) == SQLITE_ROW) {
    auto json = read_between_.column_text(1);
    if (!out.events.empty() && used + json.size() > q.max_bytes) {
      out.truncated = true;
      break;
    }
    used += json.size();
    out.events.push_back(stored_event{read_between_.column_int64(0), std::make_shared<const std::string>(json)});
  }
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return storage_error(rc, rdb_, "cannot read events");
  return out;
}

result<records_page> local_engine::do_read_records(const std::string& eng, std::int64_t after, int limit) {
  records_page out;
  limit = std::clamp(limit, 1, max_records_page);
  statement_use use(read_records_);
  read_records_.bind(1, std::string_view(eng));
  read_records_.bind(2, std::max<std::int64_t>(after, 0));
  // One more than the page: whether there is a next page, without counting.
  read_records_.bind(3, static_cast<std::int64_t>(limit) + 1);
  int rc;
  while ((rc = read_records_.step()) == SQLITE_ROW) {
    if (out.records.size() == static_cast<std::size_t>(limit)) {
      out.next = std::max<std::int64_t>(after, 0) + limit;
      continue;
    }
    auto record = parse_record(read_records_.column_text(0));
    if (!record) return make_error(errc::internal, "decision log of " + eng + " holds a malformed record");
    out.records.push_back(std::move(*record));
  }
  if (rc != SQLITE_DONE) return storage_error(rc, rdb_, "cannot read the decision log");
  return out;
}

result<std::vector<std::string>> local_engine::do_list_engagements() {
  std::vector<std::string> ids;
  statement_use use(list_engagements_);
  int rc;
  while ((rc = list_engagements_.step()) == SQLITE_ROW) ids.emplace_back(list_engagements_.column_text(0));
  if (rc != SQLITE_DONE) return storage_error(rc, rdb_, "cannot list engagements");
  return ids;
}

result<std::optional<committed_event>> local_engine::do_find_by_cid(const std::string& ch, const std::string& sender,
                                                                   const std::string& cid) {
  statement_use use(read_cid_);
  read_cid_.bind(1, std::string_view(ch));
  read_cid_.bind(2, std::string_view(sender));
  read_cid_.bind(3, std::string_view(cid));
  int rc = read_cid_.step();
  if (rc == SQLITE_DONE) return std::optional<committed_event>{};
  if (rc != SQLITE_ROW) return storage_error(rc, rdb_, "cannot look up the cid");
  return std::optional<committed_event>{stored_commit(ch, read_cid_.column_int64(0), read_cid_.column_int64(1),
                                                     std::string(read_cid_.column_text(2)))};
}

}  // namespace

std::unique_ptr<engine> make_local_engine(const local_engine_options& options) {
  return std::make_unique<local_engine>(options);
}

}  // namespace parley
