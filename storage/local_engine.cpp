// The embedded engine on SQLite (DESIGN §2): a thin `engine` that owns the
// writer (sqlite_writer: appends, read markers, group commit, durability) and
// the reader (sqlite_reader: reads from committed state), routes each call to
// one of them, keeps presence in memory and holds the database lock file.
#include "storage/local_engine.hpp"

#include "storage/database_lock.hpp"
#include "storage/sqlite_errors.hpp"
#include "storage/sqlite_reader.hpp"
#include "storage/sqlite_writer.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <unordered_map>

namespace parley {
namespace {

// Creates the database's directory when missing; the path must name a file.
const std::filesystem::path& with_directory(const std::filesystem::path& db_path) {
  if (db_path.empty()) throw std::runtime_error("cannot open database: no path given");
  if (db_path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(db_path.parent_path(), ec);
    if (ec)
      throw_open_error(db_path, "cannot create directory " + db_path.parent_path().string() + ": " + ec.message());
  }
  return db_path;
}

class local_engine final : public engine {
 public:
  // Lock first, then the writer (it creates and migrates the database), then
  // the reader (it needs the database id).
  explicit local_engine(const local_engine_options& options)
      : lock_(with_directory(options.db_path), options.lock_wait),
        writer_(options.db_path, static_cast<std::size_t>(std::max(1, options.max_batch)),
                std::max<std::size_t>(1, options.max_queue), options.signer, options.webhooks),
        reader_(options.db_path, writer_.db_id(), std::max<std::size_t>(1, options.max_queue)),
        wal_path_(options.db_path.string() + "-wal") {}
  ~local_engine() override { stop(); }

  void set_sink(std::function<void(const committed_event&)> sink) override { writer_.set_sink(std::move(sink)); }
  void append(append_request req, std::function<void(result<appended>)> handler) override {
    writer_.append(std::move(req), std::move(handler));
  }
  void set_read_marker(std::string user_id, std::string ch, std::int64_t seq) override {
    writer_.set_read_marker(std::move(user_id), std::move(ch), seq);
  }

  void read_markers(std::string ch, std::function<void(result<std::vector<read_marker>>)> handler) override {
    reader_.read_markers(std::move(ch), std::move(handler));
  }
  void set_availability(std::string user_id, std::string availability, std::int64_t set_at,
                        std::function<void(result<void>)> done) override {
    writer_.set_availability(std::move(user_id), std::move(availability), set_at, std::move(done));
  }
  void set_last_seen(std::string user_id, std::int64_t at) override { writer_.set_last_seen(std::move(user_id), at); }
  void user_records(std::vector<std::string> user_ids,
                    std::function<void(result<std::vector<user_record>>)> handler) override {
    reader_.user_records(std::move(user_ids), std::move(handler));
  }

  void add_file(std::string eng, file_entry f, std::uint64_t max_total,
                std::function<void(result<file_added>)> done) override {
    writer_.add_file(std::move(eng), std::move(f), max_total, std::move(done));
  }
  void find_files(std::string eng, std::vector<std::string> hashes,
                  std::function<void(result<file_lookup>)> handler) override {
    reader_.find_files(std::move(eng), std::move(hashes), std::move(handler));
  }
  void read(read_query q, std::function<void(result<channel_window>)> handler) override {
    reader_.read(std::move(q), std::move(handler));
  }
  void read_records(std::string eng, std::int64_t after, int limit,
                    std::function<void(result<records_page>)> handler) override {
    reader_.read_records(std::move(eng), after, limit, std::move(handler));
  }
  void list_engagements_after(std::string after, int limit,
                              std::function<void(result<engagement_ids_page>)> handler) override {
    reader_.list_engagements_after(std::move(after), limit, std::move(handler));
  }
  void set_due(std::string key, std::optional<std::int64_t> due) override { writer_.set_due(std::move(key), due); }
  void save_snapshot(std::string eng, std::int64_t revision, std::string text,
                     std::function<void(result<void>)> done) override {
    writer_.save_snapshot(std::move(eng), revision, std::move(text), std::move(done));
  }
  void load_snapshot(std::string eng, std::function<void(result<std::optional<std::string>>)> handler) override {
    reader_.load_snapshot(std::move(eng), std::move(handler));
  }
  void claim_due(std::int64_t now, std::int64_t lease_ms, int limit,
                 std::function<void(result<std::vector<std::string>>)> handler) override {
    writer_.claim_due(now, lease_ms, limit, std::move(handler));
  }
  void due_index_complete(std::function<void(result<bool>)> handler) override {
    writer_.due_index_complete(std::move(handler));
  }
  void mark_due_index_complete(std::function<void(result<void>)> done) override {
    writer_.mark_due_index_complete(std::move(done));
  }
  void find_by_cid(std::string ch, std::string sender_id, std::string cid,
                   std::function<void(result<std::optional<committed_event>>)> handler) override {
    reader_.find_by_cid(std::move(ch), std::move(sender_id), std::move(cid), std::move(handler));
  }

  void sealed(std::string ch, std::vector<std::int64_t> seqs,
              std::function<void(result<sealed_payloads>)> handler) override {
    reader_.sealed(std::move(ch), std::move(seqs), std::move(handler));
  }

  void enqueue_webhooks(std::vector<webhook_entry> entries, std::function<void(result<void>)> done) override {
    writer_.enqueue_webhooks(std::move(entries), std::move(done));
  }
  void claim_webhooks(std::string owner, std::int64_t now, std::int64_t lease_ms, int limit,
                      std::function<void(result<std::vector<webhook_entry>>)> handler) override {
    writer_.claim_webhooks(std::move(owner), now, lease_ms, limit, std::move(handler));
  }
  void finish_webhook(std::string owner, std::string eng, std::string id, webhook_outcome outcome,
                      std::function<void(result<void>)> done) override {
    writer_.finish_webhook(std::move(owner), std::move(eng), std::move(id), std::move(outcome), std::move(done));
  }
  void list_webhooks(webhook_state state, std::string after, int limit,
                     std::function<void(result<webhook_page>)> handler) override {
    reader_.list_webhooks(state, std::move(after), limit, std::move(handler));
  }
  void retry_webhook(std::string id, std::int64_t now, std::function<void(result<webhook_entry>)> handler) override {
    writer_.retry_webhook(std::move(id), now, std::move(handler));
  }
  void webhook_stats(std::function<void(result<webhook_queue_stats>)> handler) override {
    reader_.webhook_stats(std::move(handler));
  }

  void presence_update(const std::string& ch, const user& who, bool present) override;
  void presence_members(const std::string& ch, std::function<void(result<std::vector<user>>)> handler) override;

  engine_stats stats() const override {
    engine_stats s = writer_.stats();
    s.engine = "sqlite";
    s.up = ready();
    std::error_code ec;
    auto wal = std::filesystem::file_size(wal_path_, ec);
    s.wal_bytes = ec ? 0 : wal;  // no file: nothing written since the last checkpoint removed it
    return s;
  }
  bool ready() const override { return writer_.healthy() && !stopped_.load(); }
  void stop() override;

 private:
  database_lock lock_;
  sqlite_writer writer_;
  sqlite_reader reader_;
  std::filesystem::path wal_path_;

  // One instance: presence is this process's own, in memory.
  std::mutex presence_mutex_;
  std::unordered_map<std::string, std::map<std::string, user>> presence_;

  std::mutex stop_mutex_;
  std::atomic<bool> stopped_{false};
};

// Drains before it joins: every append queued before stop() is committed and
// answered. Later appends (and reads) are answered `unavailable` at once: both
// queues close before either thread is joined. Must not be called from a
// handler (it would wait for the thread it runs on).
void local_engine::stop() {
  std::lock_guard stop_lock(stop_mutex_);
  if (stopped_.load()) return;
  writer_.close_queue();
  reader_.close_queue();
  writer_.finish();
  reader_.finish();
  lock_.release();
  stopped_.store(true);
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

}  // namespace

std::unique_ptr<engine> make_local_engine(const local_engine_options& options) {
  return std::make_unique<local_engine>(options);
}

}  // namespace parley
