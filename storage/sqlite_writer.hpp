#pragma once
// The embedded engine's writer: the write connection, its thread, and group
// commit. Every job waiting in its queue (appends and read markers) goes into
// one transaction, and each append is answered only after that COMMIT.
// It keeps the in-memory channel heads, which no other thread touches.
#include "protocol/signing.hpp"
#include "storage/append_plan.hpp"
#include "storage/engine.hpp"
#include "storage/job_queue.hpp"
#include "storage/sqlite_db.hpp"
#include "storage/sqlite_due_index.hpp"
#include "storage/sqlite_outbox.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

namespace parley {

class sqlite_writer {
 public:
  // Opens (creating when missing) and migrates the database, then starts the
  // thread. Throws std::runtime_error when the database cannot be used.
  // With `webhooks`, every append stores the hooks it causes (webhook_hooks.hpp).
  sqlite_writer(const std::filesystem::path& path, std::size_t max_batch, std::size_t max_queue,
                std::shared_ptr<const ed25519_key> signer, bool webhooks = false);
  ~sqlite_writer();
  sqlite_writer(const sqlite_writer&) = delete;
  sqlite_writer& operator=(const sqlite_writer&) = delete;

  // The database id (sqlite_schema.hpp), from which epochs are derived.
  const std::string& db_id() const { return db_id_; }

  // Set before the first append (engine.hpp): the queue's lock, taken by that
  // append and then by the writer thread, publishes it to the thread.
  void set_sink(std::function<void(const committed_event&)> sink);
  void append(append_request req, std::function<void(result<appended>)> handler);
  // Dropped when the queue is full or closed: a read marker is advisory.
  void set_read_marker(std::string user_id, std::string ch, std::int64_t seq);
  // engine::set_availability and engine::set_last_seen.
  void set_availability(std::string user_id, std::string availability, std::int64_t set_at,
                        std::function<void(result<void>)> done);
  void set_last_seen(std::string user_id, std::int64_t at);
  // engine::add_file.
  void add_file(std::string eng, file_entry f, std::uint64_t max_total, std::function<void(result<file_added>)> done);

  // The writing half of webhook_outbox (engine.hpp): each a job of the
  // queue, in a transaction like the appends.
  void enqueue_webhooks(std::vector<webhook_entry> entries, std::function<void(result<void>)> done);
  void claim_webhooks(std::string owner, std::int64_t now, std::int64_t lease_ms, int limit,
                      std::function<void(result<std::vector<webhook_entry>>)> handler);
  void finish_webhook(std::string owner, std::string eng, std::string id, webhook_outcome outcome,
                      std::function<void(result<void>)> done);
  void retry_webhook(std::string id, std::int64_t now, std::function<void(result<webhook_entry>)> handler);
  // The due index (engine::set_due and friends).
  void set_due(std::string key, std::optional<std::int64_t> due);
  void claim_due(std::int64_t now, std::int64_t lease_ms, int limit,
                 std::function<void(result<std::vector<std::string>>)> handler);
  void due_index_complete(std::function<void(result<bool>)> handler);
  void mark_due_index_complete(std::function<void(result<void>)> done);
  // engine::save_snapshot.
  void save_snapshot(std::string eng, std::int64_t revision, std::string text, std::function<void(result<void>)> done);

  engine_stats stats() const;
  // False from a failed transaction until the next one commits.
  bool healthy() const { return healthy_.load(); }

  // From now on appends are answered `unavailable` at once; those queued
  // before still commit and are answered.
  void close_queue();
  // After close_queue(): commits what is queued, joins the thread and closes
  // the connection. Must not be called from a handler (it would wait for the
  // thread it runs on).
  void finish();

 private:
  struct append_job {
    append_request req;
    std::function<void(result<appended>)> handler;
  };
  struct marker_job {
    std::string user_id;
    std::string ch;
    std::int64_t seq = 0;
  };
  // A user's availability (with its handler) or, without one, their last_seen.
  struct user_job {
    std::string user_id;
    std::optional<std::string> availability;
    std::int64_t at = 0;
    std::function<void(result<void>)> handler;
  };
  // An upload for an engagement's index of files; `outcome` is filled by apply_file.
  struct file_job {
    std::string eng;
    file_entry entry;
    std::uint64_t max_total = 0;
    std::function<void(result<file_added>)> handler;
    file_added outcome;
  };
  // Other work (the webhook outbox, the due index): `apply` runs on the
  // writer thread inside the job's savepoint; `answer` runs after the
  // commit, with its outcome.
  struct task_job {
    std::function<result<void>()> apply;
    std::function<void(result<void>)> answer;
  };
  using write_job = std::variant<append_job, marker_job, user_job, file_job, task_job>;
  using head_map = std::unordered_map<std::string, channel_head>;

  void open();
  void loop();
  void run_batch(std::vector<write_job>& jobs);
  result<void> apply_append(append_request& req, appended& out, head_map& request_heads, const head_map& batch_heads);
  result<void> apply_marker(const marker_job& job);
  result<void> apply_user(const user_job& job);
  result<void> apply_file(file_job& job);
  void push_task(std::function<result<void>()> apply, std::function<void(result<void>)> answer);
  // A task with a value: `apply` gives it on the writer thread, `handler`
  // gets it after the commit (or the error).
  template <class T>
  void push_query(std::function<result<T>()> apply, std::function<void(result<T>)> handler);
  result<void> store_hooks(const append_request& req, const append_plan& plan);
  bool one_statement(const write_job& job) const;
  // Writes each channel's head as the batch leaves it, once per batch.
  result<void> store_heads(const head_map& heads);
  // Steps a statement that returns no rows, then resets it: SQLITE_OK or the error.
  int run(statement& s);
  result<channel_head> head_of(const std::string& ch, const head_map& request_heads, const head_map& batch_heads);
  result<log_tail> last_record(const std::string& eng);
  result<void> store_record(const sealed_record& record);

  std::filesystem::path path_;
  std::size_t max_batch_;
  std::shared_ptr<const ed25519_key> signer_;
  bool webhooks_ = false;
  std::string db_id_;

  // The connection and its statements: used on the writer thread only.
  sqlite_db db_;
  statement find_cid_, insert_event_, upsert_channel_, load_head_, load_ts_;
  statement last_record_, insert_record_, upsert_marker_, upsert_availability_, upsert_last_seen_;
  statement insert_sealed_, upsert_snapshot_;
  statement begin_, commit_, savepoint_, release_, rollback_to_;
  statement find_file_, insert_file_, file_total_, add_file_total_;
  std::unique_ptr<sqlite_outbox_writer> outbox_;
  std::unique_ptr<sqlite_due_index> due_;
  head_map heads_;  // committed heads, loaded on first use

  std::function<void(const committed_event&)> sink_;

  job_queue<write_job> queue_;

  std::atomic<bool> healthy_{true};
  engine_counters counters_;

  std::thread thread_;
};

}  // namespace parley
