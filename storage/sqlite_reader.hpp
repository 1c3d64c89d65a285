#pragma once
// The embedded engine's reader: a second connection and its own thread that
// answer reads from committed state while the writer writes (WAL lets one
// connection read a snapshot while another commits).
#include "storage/engine.hpp"
#include "storage/job_queue.hpp"
#include "storage/sqlite_db.hpp"
#include "storage/sqlite_outbox.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace parley {

class sqlite_reader {
 public:
  // Opens the database the writer created (query only), then starts the
  // thread. `db_id` seeds the epochs. Throws std::runtime_error when the
  // database cannot be opened.
  sqlite_reader(const std::filesystem::path& path, std::string db_id, std::size_t max_queue);
  ~sqlite_reader();
  sqlite_reader(const sqlite_reader&) = delete;
  sqlite_reader& operator=(const sqlite_reader&) = delete;

  // The engine's read operations (engine.hpp). Past the queue's cap, or once
  // the queue is closed, the handler runs at once on the caller's thread with
  // `unavailable`.
  void read(read_query q, std::function<void(result<channel_window>)> handler);
  void read_records(std::string eng, std::int64_t after, int limit, std::function<void(result<records_page>)> handler);
  void list_engagements_after(std::string after, int limit, std::function<void(result<engagement_ids_page>)> handler);
  void find_by_cid(std::string ch, std::string sender_id, std::string cid,
                   std::function<void(result<std::optional<committed_event>>)> handler);
  void read_markers(std::string ch, std::function<void(result<std::vector<read_marker>>)> handler);
  void user_records(std::vector<std::string> user_ids, std::function<void(result<std::vector<user_record>>)> handler);
  void sealed(std::string ch, std::vector<std::int64_t> seqs, std::function<void(result<sealed_payloads>)> handler);
  void find_files(std::string eng, std::vector<std::string> hashes, std::function<void(result<file_lookup>)> handler);
  void load_snapshot(std::string eng, std::function<void(result<std::optional<std::string>>)> handler);
  // The reading half of webhook_outbox.
  void list_webhooks(webhook_state state, std::string after, int limit,
                     std::function<void(result<webhook_page>)> handler);
  void webhook_stats(std::function<void(result<webhook_queue_stats>)> handler);

  // From now on reads are answered `unavailable` at once; those queued before still run.
  void close_queue();
  // After close_queue(): runs what is queued, joins the thread and closes the connection.
  void finish();

 private:
  // A job runs with no error on the reader thread, or with the error to
  // answer on the caller's thread (the engine is stopping, the queue is full).
  using read_job = std::function<void(const error*)>;

  void open();
  void loop();
  void post(read_job job);
  result<channel_window> do_read(const read_query& q);
  result<channel_window> read_bounded(const read_query& q, int limit, channel_window out);
  result<records_page> do_read_records(const std::string& eng, std::int64_t after, int limit);
  result<engagement_ids_page> do_list_engagements_after(const std::string& after, int limit);
  result<std::optional<committed_event>> do_find_by_cid(const std::string& ch, const std::string& sender,
                                                        const std::string& cid);
  result<std::vector<read_marker>> do_read_markers(const std::string& ch);
  result<std::vector<user_record>> do_user_records(const std::vector<std::string>& user_ids);
  result<sealed_payloads> do_sealed(const std::string& ch, const std::vector<std::int64_t>& seqs);
  result<file_lookup> do_find_files(const std::string& eng, const std::vector<std::string>& hashes);
  result<std::optional<std::string>> do_load_snapshot(const std::string& eng);

  // Derived, never stored: no write on a read, and a new database id (a wiped
  // data directory) changes every epoch.
  std::string epoch_of(std::string_view ch) const;

  std::filesystem::path path_;
  std::string db_id_;

  // The connection and its statements: used on the reader thread only.
  sqlite_db db_;
  statement read_head_, read_after_, read_before_, read_tail_, read_between_, read_records_,
      list_engagements_after_, read_cid_, read_markers_, read_sealed_, read_snapshot_;
  std::unique_ptr<sqlite_outbox_reader> outbox_;

  job_queue<read_job> queue_;

  std::thread thread_;
};

}  // namespace parley
