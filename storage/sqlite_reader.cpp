// The embedded engine's reader (DESIGN §2): windows of a channel, pages of a
// decision log, the engagement list and cid lookups, all from committed state.
#include "storage/sqlite_reader.hpp"

#include "protocol/decision_log.hpp"
#include "protocol/hex.hpp"
#include "storage/append_plan.hpp"
#include "storage/error_counts.hpp"
#include "storage/log.hpp"
#include "storage/sqlite_errors.hpp"

#include <algorithm>
#include <memory>
#include <utility>

namespace parley {

namespace {
constexpr int max_read_limit = 1000;
}  // namespace

sqlite_reader::sqlite_reader(const std::filesystem::path& path, std::string db_id, std::size_t max_queue)
    : path_(path), db_id_(std::move(db_id)), queue_(max_queue) {
  open();
  thread_ = std::thread([this] { loop(); });
}

sqlite_reader::~sqlite_reader() {
  close_queue();
  finish();
}

void sqlite_reader::open() {
  if (db_.open(path_.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX) != SQLITE_OK)
    throw_open_error(path_, db_.errmsg());
  // Reads go through a memory map of the file (no copy into the page cache
  // for pages already mapped), up to 256 MiB.
  std::string pragmas = "PRAGMA query_only=ON; PRAGMA mmap_size=268435456; PRAGMA busy_timeout=" +
                        std::to_string(sqlite_busy_timeout_ms) + ";";
  if (db_.exec(pragmas.c_str()) != SQLITE_OK) throw_open_error(path_, db_.errmsg());

  prepare_or_throw(path_, db_, read_head_, "SELECT head FROM channels WHERE ch = ?1");
  prepare_or_throw(path_, db_, read_after_,
                   "SELECT seq, json FROM events WHERE ch = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3");
  prepare_or_throw(path_, db_, read_before_,
                   "SELECT seq, json FROM events WHERE ch = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3");
  prepare_or_throw(path_, db_, read_tail_, "SELECT seq, json FROM events WHERE ch = ?1 ORDER BY seq DESC LIMIT ?2");
  prepare_or_throw(path_, db_, read_between_,
                   "SELECT seq, json FROM events WHERE ch = ?1 AND seq > ?2 AND seq < ?3 ORDER BY seq LIMIT ?4");
  prepare_or_throw(path_, db_, read_records_,
                   "SELECT json FROM decision_log WHERE eng = ?1 AND n > ?2 ORDER BY n LIMIT ?3");
  prepare_or_throw(path_, db_, read_cid_,
                   "SELECT seq, ts, json FROM events WHERE ch = ?1 AND sender = ?2 AND cid = ?3");
  prepare_or_throw(path_, db_, read_markers_, "SELECT user, seq FROM read_markers WHERE ch = ?1 ORDER BY seq DESC LIMIT ?2");
  prepare_or_throw(path_, db_, read_sealed_, "SELECT payload FROM sealed WHERE ch = ?1 AND seq = ?2");
  prepare_or_throw(path_, db_, read_snapshot_, "SELECT state FROM snapshots WHERE eng = ?1");
  // A range of the channels' primary key: "eng:<id>" sorts as <id> does, and
  // the few other channels of each engagement in the range are skipped.
  prepare_or_throw(path_, db_, list_engagements_after_,
                   "SELECT substr(ch, 5) FROM channels WHERE ch > ?1 AND ch < 'eng;' AND ch NOT GLOB 'eng:*:*' "
                   "ORDER BY ch LIMIT ?2");
  outbox_ = std::make_unique<sqlite_outbox_reader>(path_, db_);
}

std::string sqlite_reader::epoch_of(std::string_view ch) const {
  return sha256_hex(db_id_ + "\n" + std::string(ch)).substr(0, 16);
}

void sqlite_reader::close_queue() { queue_.close(); }

void sqlite_reader::finish() {
  if (thread_.joinable()) thread_.join();
  db_.close();
}

void sqlite_reader::post(read_job job) {
  admission admitted = queue_.push(job);
  if (admitted == admission::queued) return;
  if (admitted == admission::full)
    log_event(log_level::warn, "storage_busy", {{"engine", "local"}, {"queue", "reader"}});
  error refusal = refusal_of(admitted);
  job(&refusal);
}

void sqlite_reader::read(read_query q, std::function<void(result<channel_window>)> handler) {
  post([this, q = std::move(q), handler = std::move(handler)](const error* refused) {
    if (refused) return handler(*refused);
    handler(do_read(q));
  });
}

void sqlite_reader::read_records(std::string eng, std::int64_t after, int limit,
                                 std::function<void(result<records_page>)> handler) {
  post([this, eng = std::move(eng), after, limit, handler = std::move(handler)](const error* refused) {
    if (refused) return handler(*refused);
    handler(do_read_records(eng, after, limit));
  });
}

void sqlite_reader::list_engagements_after(std::string after, int limit,
                                           std::function<void(result<engagement_ids_page>)> handler) {
  post([this, after = std::move(after), limit, handler = std::move(handler)](const error* refused) {
    if (refused) return handler(*refused);
    handler(do_list_engagements_after(after, limit));
  });
}

void sqlite_reader::find_by_cid(std::string ch, std::string sender_id, std::string cid,
                                std::function<void(result<std::optional<committed_event>>)> handler) {
  post([this, ch = std::move(ch), sender_id = std::move(sender_id), cid = std::move(cid),
        handler = std::move(handler)](const error* refused) {
    if (refused) return handler(*refused);
    handler(do_find_by_cid(ch, sender_id, cid));
  });
}

void sqlite_reader::read_markers(std::string ch, std::function<void(result<std::vector<read_marker>>)> handler) {
  post([this, ch = std::move(ch), handler = std::move(handler)](const error* refused) {
    if (refused) return handler(*refused);
    handler(do_read_markers(ch));
  });
}

void sqlite_reader::load_snapshot(std::string eng,
                                  std::function<void(result<std::optional<std::string>>)> handler) {
  post([this, eng = std::move(eng), handler = std::move(handler)](const error* refused) {
    if (refused) return handler(*refused);
    handler(do_load_snapshot(eng));
  });
}

void sqlite_reader::user_records(std::vector<std::string> user_ids,
                                 std::function<void(result<std::vector<user_record>>)> handler) {
  if (user_ids.size() > max_user_lookup) user_ids.resize(max_user_lookup);
  post([this, user_ids = std::move(user_ids), handler = std::move(handler)](const error* refused) {
    if (refused) return handler(*refused);
    handler(do_user_records(user_ids));
  });
}

void sqlite_reader::sealed(std::string ch, std::vector<std::int64_t> seqs,
                           std::function<void(result<sealed_payloads>)> handler) {
  if (seqs.size() > max_sealed_lookup) seqs.resize(max_sealed_lookup);
  post([this, ch = std::move(ch), seqs = std::move(seqs), handler = std::move(handler)](const error* refused) {
    if (refused) return handler(*refused);
    handler(do_sealed(ch, seqs));
  });
}

void sqlite_reader::find_files(std::string eng, std::vector<std::string> hashes,
                               std::function<void(result<file_lookup>)> handler) {
  if (hashes.size() > max_file_lookup) hashes.resize(max_file_lookup);
  post([this, eng = std::move(eng), hashes = std::move(hashes), handler = std::move(handler)](const error* refused) {
    if (refused) return handler(*refused);
    handler(do_find_files(eng, hashes));
  });
}

void sqlite_reader::list_webhooks(webhook_state state, std::string after, int limit,
                                  std::function<void(result<webhook_page>)> handler) {
  post([this, state, after = std::move(after), limit, handler = std::move(handler)](const error* refused) {
    if (refused) return handler(*refused);
    handler(outbox_->list(state, after, limit));
  });
}

void sqlite_reader::webhook_stats(std::function<void(result<webhook_queue_stats>)> handler) {
  post([this, handler = std::move(handler)](const error* refused) {
    if (refused) return handler(*refused);
    handler(outbox_->stats());
  });
}

void sqlite_reader::loop() {
  // Ends once the queue is closed and everything in it has run.
  for (std::vector<read_job> jobs; queue_.take(jobs, 1); jobs.clear()) jobs.front()(nullptr);
}

// Head and events come from one read transaction, so they agree with each
// other even while the writer commits.
result<channel_window> sqlite_reader::do_read(const read_query& q) {
  channel_window out;
  out.epoch = epoch_of(q.ch);
  int limit = std::clamp(q.limit, 1, max_read_limit);

  int rc = db_.exec("BEGIN");
  if (rc != SQLITE_OK) return storage_error(rc, db_, "cannot read");
  struct end_read {
    sqlite_db& db;
    ~end_read() { db.exec("COMMIT"); }
  } end{db_};

  {
    statement_use use(read_head_);
    read_head_.bind(1, std::string_view(q.ch));
    rc = read_head_.step();
    if (rc == SQLITE_ROW) {
      out.head = read_head_.column_int64(0);
    } else if (rc != SQLITE_DONE) {
      return storage_error(rc, db_, "cannot read the channel head");
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
  if (rc != SQLITE_DONE) return storage_error(rc, db_, "cannot read events");
  if (descending) std::reverse(out.events.begin(), out.events.end());
  return out;
}

// Seqs are gap-free from 1 to the head, so every window is the ascending
// range [lo, hi]: read from its oldest event on, it stops at the byte bound
// without holding the rest.
result<channel_window> sqlite_reader::read_bounded(const read_query& q, int limit, channel_window out) {
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
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return storage_error(rc, db_, "cannot read events");
  return out;
}

result<records_page> sqlite_reader::do_read_records(const std::string& eng, std::int64_t after, int limit) {
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
    if (!record) return storage_fault("decision log of " + eng + " holds a malformed record");
    out.records.push_back(std::move(*record));
  }
  if (rc != SQLITE_DONE) return storage_error(rc, db_, "cannot read the decision log");
  return out;
}

result<std::vector<read_marker>> sqlite_reader::do_read_markers(const std::string& ch) {
  std::vector<read_marker> markers;
  statement_use use(read_markers_);
  read_markers_.bind(1, std::string_view(ch));
  read_markers_.bind(2, static_cast<std::int64_t>(max_read_markers));
  int rc;
  while ((rc = read_markers_.step()) == SQLITE_ROW)
    markers.push_back({std::string(read_markers_.column_text(0)), read_markers_.column_int64(1)});
  if (rc != SQLITE_DONE) return storage_error(rc, db_, "cannot read the read markers");
  return markers;
}

result<std::optional<std::string>> sqlite_reader::do_load_snapshot(const std::string& eng) {
  statement_use use(read_snapshot_);
  read_snapshot_.bind(1, std::string_view(eng));
  int rc = read_snapshot_.step();
  if (rc == SQLITE_ROW) return std::optional<std::string>(read_snapshot_.column_text(0));
  if (rc != SQLITE_DONE) return storage_error(rc, db_, "cannot read a snapshot");
  return std::optional<std::string>();
}

result<engagement_ids_page> sqlite_reader::do_list_engagements_after(const std::string& after, int limit) {
  limit = std::clamp(limit, 1, max_engagements_page);
  std::string from = "eng:" + after;
  std::vector<std::string> ids;
  statement_use use(list_engagements_after_);
  list_engagements_after_.bind(1, std::string_view(from));
  list_engagements_after_.bind(2, std::int64_t{limit} + 1);
  int rc;
  while ((rc = list_engagements_after_.step()) == SQLITE_ROW) ids.emplace_back(list_engagements_after_.column_text(0));
  if (rc != SQLITE_DONE) return storage_error(rc, db_, "cannot list engagements");
  return engagement_page_of(std::move(ids), limit);
}

result<std::optional<committed_event>> sqlite_reader::do_find_by_cid(const std::string& ch, const std::string& sender,
                                                                     const std::string& cid) {
  statement_use use(read_cid_);
  read_cid_.bind(1, std::string_view(ch));
  read_cid_.bind(2, std::string_view(sender));
  read_cid_.bind(3, std::string_view(cid));
  int rc = read_cid_.step();
  if (rc == SQLITE_DONE) return std::optional<committed_event>{};
  if (rc != SQLITE_ROW) return storage_error(rc, db_, "cannot look up the cid");
  return std::optional<committed_event>{
      stored_commit(ch, read_cid_.column_int64(0), read_cid_.column_int64(1), std::string(read_cid_.column_text(2)))};
}

// One statement for the batch: `IN (?1, ..., ?n)`, n ≤ max_user_lookup,
// prepared for the lookup (the size varies).
result<std::vector<user_record>> sqlite_reader::do_user_records(const std::vector<std::string>& user_ids) {
  std::vector<user_record> out;
  if (user_ids.empty()) return out;
  std::string sql = "SELECT user, availability, set_at, last_seen FROM user_availability WHERE user IN (";
  for (std::size_t i = 0; i < user_ids.size(); ++i) sql += (i ? ",?" : "?") + std::to_string(i + 1);
  sql += ")";
  statement st;
  if (int rc = st.prepare(db_.get(), sql); rc != SQLITE_OK) return storage_error(rc, db_, "cannot read users");
  for (std::size_t i = 0; i < user_ids.size(); ++i) st.bind(static_cast<int>(i + 1), std::string_view(user_ids[i]));
  int rc;
  while ((rc = st.step()) == SQLITE_ROW)
    out.push_back({std::string(st.column_text(0)), std::string(st.column_text(1)), st.column_int64(2), st.column_int64(3)});
  if (rc != SQLITE_DONE) return storage_error(rc, db_, "cannot read users");
  return out;
}

result<sealed_payloads> sqlite_reader::do_sealed(const std::string& ch, const std::vector<std::int64_t>& seqs) {
  sealed_payloads out;
  for (auto seq : seqs) {
    statement_use use(read_sealed_);
    read_sealed_.bind(1, std::string_view(ch));
    read_sealed_.bind(2, seq);
    int rc = read_sealed_.step();
    if (rc == SQLITE_ROW)
      out.emplace(seq, std::string(read_sealed_.column_text(0)));
    else if (rc != SQLITE_DONE)
      return storage_error(rc, db_, "cannot read sealed payloads");
  }
  return out;
}

// The total and the entries from one read transaction, so that they agree.
result<file_lookup> sqlite_reader::do_find_files(const std::string& eng, const std::vector<std::string>& hashes) {
  file_lookup out;
  if (int rc = db_.exec("BEGIN"); rc != SQLITE_OK) return storage_error(rc, db_, "cannot read files");
  auto finish = [this](result<file_lookup> r) {
    db_.exec("COMMIT");
    return r;
  };
  {
    statement st;
    if (int rc = st.prepare(db_.get(), "SELECT bytes FROM engagement_file_totals WHERE eng = ?1"); rc != SQLITE_OK)
      return finish(storage_error(rc, db_, "cannot read files"));
    st.bind(1, std::string_view(eng));
    int rc = st.step();
    if (rc == SQLITE_ROW) out.total = static_cast<std::uint64_t>(st.column_int64(0));
    else if (rc != SQLITE_DONE) return finish(storage_error(rc, db_, "cannot read files"));
  }
  if (!hashes.empty()) {
    std::string sql = "SELECT sha256, name, size, type, by, ts FROM engagement_files WHERE eng = ?1 AND sha256 IN (";
    for (std::size_t i = 0; i < hashes.size(); ++i) sql += (i ? ",?" : "?") + std::to_string(i + 2);
    sql += ")";
    statement st;
    if (int rc = st.prepare(db_.get(), sql); rc != SQLITE_OK) return finish(storage_error(rc, db_, "cannot read files"));
    st.bind(1, std::string_view(eng));
    for (std::size_t i = 0; i < hashes.size(); ++i) st.bind(static_cast<int>(i + 2), std::string_view(hashes[i]));
    int rc;
    while ((rc = st.step()) == SQLITE_ROW)
      out.found.push_back({std::string(st.column_text(0)), std::string(st.column_text(1)),
                           static_cast<std::uint64_t>(st.column_int64(2)), std::string(st.column_text(3)),
                           std::string(st.column_text(4)), st.column_int64(5)});
    if (rc != SQLITE_DONE) return finish(storage_error(rc, db_, "cannot read files"));
  }
  return finish(std::move(out));
}

}  // namespace parley
