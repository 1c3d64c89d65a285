#pragma once
// Durable, ordered storage of channel events (DESIGN §2). Two implementations:
// local_engine (SQLite, embedded default) and, later, redis_engine.
//
// Threading: every method may be called from any thread. Handlers run on the
// engine's own thread(s): they must not block; post to your executor.
#include "protocol/decision_log.hpp"
#include "protocol/event.hpp"
#include "protocol/result.hpp"
#include "storage/webhook_outbox.hpp"

#include <boost/json/object.hpp>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace parley {

struct stored_event {
  std::int64_t seq = 0;
  std::shared_ptr<const std::string> json;  // serialize_event() of the stored event
};

// One event after commit, as handed to the live sink.
struct committed_event {
  std::string ch;
  std::int64_t seq = 0;
  std::int64_t ts = 0;
  std::shared_ptr<const std::string> json;
  // The same event parsed (json is serialize_event(*event)), so that readers
  // need not parse it again. Set by both engines for appends, duplicates,
  // find_by_cid and every event given to the sink; null only should stored
  // JSON fail to parse.
  std::shared_ptr<const parley::event> event;
};

// Events appended in one atomic step (all or none). The first event carries
// the client's `cid`: when (ch, from.id, cid) was stored before, nothing is
// appended and the answer holds the first event as stored, with duplicate=true.
struct append_request {
  std::vector<event> events;  // seq and ts are assigned by the engine

  // A decision-log record written in the same transaction (protocol §5).
  // The engine adds n, prev, ts, decision_seq (the seq given to
  // events[attach_to]), hash, and with a signer kid and sig (seal_record),
  // and puts {"n","hash","prev"} as "record" into the body of
  // events[attach_to] before storing it (storage/append_plan.hpp).
  std::optional<record_draft> record;

  // Optimistic concurrency for engagement rules: append only while each named
  // channel's head is exactly the given seq; otherwise nothing is stored and the
  // answer is the `conflict` error (stale_heads(); the caller catches up and retries).
  // Instances that checked a rule against an older state cannot both win.
  std::vector<std::pair<std::string, std::int64_t>> expect_heads;

  // Data stored beside events[0] in the same atomic step and never in its
  // body (a review's sealed payload, protocol §9.7): read back by
  // engine::sealed with that event's channel and seq. A duplicate stores none.
  std::optional<std::string> sealed;

  // Set by the caller when an event of the request enters `closed`: the
  // engagement's agreement as JSON text ({"terms","version"} or null), which
  // the `engagement.completed` webhook carries (protocol §9.8). It is not
  // stored anywhere else.
  std::optional<std::string> closing_agreement;
};

// The sealed payloads read back, by seq (seqs without one are left out).
using sealed_payloads = std::map<std::int64_t, std::string>;
// One read names at most this many seqs.
constexpr std::size_t max_sealed_lookup = 64;

// What an append stored. A failed append stored nothing; its error is
// `unavailable` or `internal`, or `conflict` when an expect_heads entry did not
// hold (see stale_heads below).
struct appended {
  std::vector<committed_event> committed;  // one per request event, in order
  bool duplicate = false;                  // the cid was stored before; committed holds its first event
};

// Both engines answer `conflict` for one case only: an expect_heads entry did
// not match, nothing was stored, and the caller catches up and retries.
inline bool stale_heads(const error& e) { return e.code == errc::conflict; }

// Reads a window of a channel. With `after`: the first `limit` events with seq > after.
// With `before`: the last `limit` events with seq < before. With neither: the last `limit` events.
// Events are always ascending.
//
// With `max_bytes` (0: none), the window is the same but only its oldest
// events whose JSON totals at most max_bytes are read (always at least one),
// and channel_window::truncated says that later events of the window were left
// out: a reader never holds more of a large window than it may send.
struct read_query {
  std::string ch;
  std::optional<std::int64_t> after;
  std::optional<std::int64_t> before;
  int limit = 50;
  std::size_t max_bytes = 0;
};

struct records_page {
  std::vector<boost::json::object> records;  // a page of the engagement's decision log, n ascending
  std::optional<std::int64_t> next;          // the n to page on from (as `after`), none at the end
};

// decisions pages by at most this many records (protocol §9.10).
constexpr int max_records_page = 1000;

// A page of engagement ids, ascending (byte order).
struct engagement_ids_page {
  std::vector<std::string> ids;
  std::optional<std::string> next;  // the last id of the page when more follow it, none at the end
};

// The engagement list pages by at most this many ids.
constexpr int max_engagements_page = 1000;
// Keys claim_due hands out at most per call.
constexpr int max_due_claim = 1000;

// The page of `limit` ids out of up to limit + 1 read in order: the one more
// says that a next page exists.
inline engagement_ids_page engagement_page_of(std::vector<std::string> ids, int limit) {
  engagement_ids_page page;
  if (ids.size() > static_cast<std::size_t>(limit)) {
    ids.resize(static_cast<std::size_t>(limit));
    page.next = ids.back();
  }
  page.ids = std::move(ids);
  return page;
}

struct engine_stats {
  std::uint64_t appends = 0;       // events stored
  std::uint64_t transactions = 0;  // commits that stored them (group commit: fewer)
  std::uint64_t duplicates = 0;    // appends answered from the cid idempotency key

  // What an operator watches of each engine; empty where it does not apply.
  std::string engine;  // "sqlite" or "redis"
  bool up = false;     // ready(): storage is reachable
  // SQLite: the write-ahead log's size. It grows while checkpoints cannot
  // keep up (a long read, a slow disk), and every read walks it.
  std::optional<std::uint64_t> wal_bytes;
  // Redis: whether each connection is up (command, subscribe), whether the
  // Redis behind them keeps what it acknowledged, and how often a link went down.
  std::vector<std::pair<std::string, bool>> links;
  std::optional<bool> durable;
  std::uint64_t link_losses = 0;
};

// The counters behind engine_stats, bumped by an engine's own threads and read from any.
struct engine_counters {
  std::atomic<std::uint64_t> appends{0};
  std::atomic<std::uint64_t> transactions{0};
  std::atomic<std::uint64_t> duplicates{0};

  engine_stats snapshot() const {
    engine_stats s;
    s.appends = appends.load();
    s.transactions = transactions.load();
    s.duplicates = duplicates.load();
    return s;
  }
};

// A read window of a channel, with the channel's epoch and head.
// One user's last read seq on a channel (the `read` op), as stored.
struct read_marker {
  std::string user_id;
  std::int64_t seq = 0;
};
// A join answers at most this many markers: a channel's readers are its
// members, but nothing else bounds how many users have ever read it.
constexpr int max_read_markers = 200;

// What is stored per user (protocol §9.3): the availability as its JSON text
// ("" while never set), when it was set, and when the user was last seen
// (their last connection to an instance closed, or they set availability).
struct user_record {
  std::string user_id;
  std::string availability;
  std::int64_t set_at = 0;
  std::int64_t last_seen = 0;
};
// One lookup names at most this many users (a join's presence and readers).
constexpr std::size_t max_user_lookup = 200;

// One upload in an engagement's index of files (protocol §9.6): a hash is
// served only to members of an engagement it was uploaded to.
struct file_entry {
  std::string sha256;  // 64 lowercase hex digits
  std::string name;    // as first uploaded to the engagement
  std::uint64_t size = 0;
  std::string type;  // the media type it is served with
  std::string by;    // the uploader's user id
  std::int64_t ts = 0;
};

// What engine::add_file did: `added` is false when the engagement held the
// hash already (`entry` is then the stored one); `total` is the bytes of the
// engagement's distinct files after it.
struct file_added {
  bool added = false;
  file_entry entry;
  std::uint64_t total = 0;
};

// A lookup of an engagement's files: the entries of the hashes it holds, and
// the bytes of all its distinct files.
struct file_lookup {
  std::vector<file_entry> found;
  std::uint64_t total = 0;
};

// One lookup names at most this many hashes (the files of one post).
constexpr std::size_t max_file_lookup = 64;

struct channel_window {
  std::string epoch;      // stable for the life of the channel's log
  std::int64_t head = 0;  // latest seq (0 for an empty channel)
  std::vector<stored_event> events;
  bool truncated = false;  // read_query::max_bytes left later events of the window out
};

// Every engine is also the webhook outbox (webhook_outbox.hpp): hooks are
// stored by append, in its atomic step, when the engine's options enable them.
class engine : public webhook_outbox {
 public:
  virtual ~engine() = default;

  // Called, in commit order, for every committed event (never for duplicates).
  // Set once, before the first append.
  virtual void set_sink(std::function<void(const committed_event&)> sink) = 0;

  // Appends atomically; the handler runs only after the commit is durable (protocol §6).
  virtual void append(append_request req, std::function<void(result<appended>)> handler) = 0;

  virtual void read(read_query q, std::function<void(result<channel_window>)> handler) = 0;

  // The event stored under the idempotency key (ch, sender, cid), if any: a
  // retried post whose rule no longer holds is answered with what it stored.
  virtual void find_by_cid(std::string ch, std::string sender_id, std::string cid,
                           std::function<void(result<std::optional<committed_event>>)> handler) = 0;

  // The channels whose committed events this instance needs in its sink (it has
  // members there, or keeps the engagement's state). `ready` runs once the sink
  // gets every event committed from then on (or with the error that keeps it
  // from doing so): a read started after that leaves no gap before the live
  // events. Watching a watched channel again only waits for it to be ready.
  // The embedded engine sees every commit anyway; a shared engine subscribes.
  virtual void watch(const std::string& ch, std::function<void(result<void>)> ready) {
    (void)ch;
    ready({});
  }
  virtual void unwatch(const std::string& ch) { (void)ch; }

  // Presence across instances. This instance reports when a user's first
  // connection joins `ch` and when its last one leaves; members lists the users
  // present on any instance. A shared engine lets an instance's entries expire
  // when it stops reporting (it crashed), so no ghost stays behind.
  virtual void presence_update(const std::string& ch, const user& who, bool present) = 0;
  virtual void presence_members(const std::string& ch, std::function<void(result<std::vector<user>>)> handler) = 0;

  // Ephemeral pushes (presence, typing, read) for members on the other
  // instances; they arrive there through the ephemeral sink. The embedded
  // engine has no other instances.
  virtual void publish_ephemeral(const std::string& ch, std::shared_ptr<const std::string> frame) {
    (void)ch;
    (void)frame;
  }
  virtual void set_ephemeral_sink(
      std::function<void(const std::string& ch, std::shared_ptr<const std::string> frame)> sink) {
    (void)sink;
  }

  // The records of engagement `eng`'s decision log with n > after, at most
  // `limit` (1..max_records_page) of them, n ascending; only that page is read.
  virtual void read_records(std::string eng, std::int64_t after, int limit,
                            std::function<void(result<records_page>)> handler) = 0;

  // A page of the engagements whose main channel holds events: the ids greater than `after` ("" for the
  // first page) in byte order, at most `limit` (clamped to
  // 1..max_engagements_page) of them; only that page is read.
  virtual void list_engagements_after(std::string after, int limit,
                                      std::function<void(result<engagement_ids_page>)> handler) = 0;

  // The shared due index: the timers of every engagement, in storage so that
  // no instance has to load every engagement to know when one is due, and
  // any instance may act on it. A key (an engagement's id with the prefix of
  // the watcher that set it) is due at `due` (ms since the epoch); nullopt
  // removes it. Unacknowledged: a write lost in a crash is made again by the
  // next change, and a stale entry only costs a look.
  virtual void set_due(std::string key, std::optional<std::int64_t> due) = 0;
  // Claims at most `limit` (1..max_due_claim) keys due at `now` or before,
  // earliest first: each one's due moves to now + lease_ms, so that no other
  // instance claims it meanwhile, and it comes back if the claimer dies
  // before setting its next due.
  virtual void claim_due(std::int64_t now, std::int64_t lease_ms, int limit,
                         std::function<void(result<std::vector<std::string>>)> handler) = 0;
  // Whether every engagement stored before the index existed has been put in
  // it (by the first instance that found it incomplete), and marking it so.
  virtual void due_index_complete(std::function<void(result<bool>)> handler) = 0;
  virtual void mark_due_index_complete(std::function<void(result<void>)> done) = 0;

  // Engagement snapshots (server/engagements.hpp): the state of engagement
  // `eng` as snapshot text (protocol/engagement_snapshot.hpp), and its
  // state_revision, which grows with every event it reflects. A stored one is
  // replaced only by one of a revision at least as high. Loading an engagement
  // reads its snapshot, then only the events after the seqs the snapshot
  // holds: a snapshot is made from stored events alone, so any stored one is a
  // valid start. `done` runs once it is stored (or refused: storage busy).
  virtual void save_snapshot(std::string eng, std::int64_t revision, std::string text,
                             std::function<void(result<void>)> done) = 0;
  // The stored snapshot text of `eng`, none when it has none.
  virtual void load_snapshot(std::string eng, std::function<void(result<std::optional<std::string>>)> handler) = 0;

  // Persists the last seq a user has read on a channel (kept at the maximum seen).
  virtual void set_read_marker(std::string user_id, std::string ch, std::int64_t seq) = 0;
  // The stored read markers of channel `ch`: the max_read_markers highest, seq descending.
  virtual void read_markers(std::string ch, std::function<void(result<std::vector<read_marker>>)> handler) = 0;

  // Stores `user_id`'s availability (validated JSON text) set at `set_at`,
  // which is also their last_seen; `done` runs once it is durable.
  virtual void set_availability(std::string user_id, std::string availability, std::int64_t set_at,
                                std::function<void(result<void>)> done) = 0;
  // Raises `user_id`'s last_seen to `at` (advisory: dropped when storage is busy).
  virtual void set_last_seen(std::string user_id, std::int64_t at) = 0;
  // The stored records of the first max_user_lookup of `user_ids`, in one
  // batch; users with nothing stored are left out.
  virtual void user_records(std::vector<std::string> user_ids,
                            std::function<void(result<std::vector<user_record>>)> handler) = 0;
  // A user's availability changed: every instance's user sink hears of it
  // (this one's too), so that each pushes it to its own members. The
  // embedded engine has no other instances and calls the sink at once.
  virtual void publish_user_change(const std::string& user_id) {
    if (user_sink_) user_sink_(user_id);
  }
  virtual void set_user_sink(std::function<void(const std::string& user_id)> sink) { user_sink_ = std::move(sink); }

  // The sealed payloads (append_request::sealed) stored beside the events
  // `seqs` of channel `ch` (the first max_sealed_lookup of them).
  virtual void sealed(std::string ch, std::vector<std::int64_t> seqs,
                      std::function<void(result<sealed_payloads>)> handler) = 0;

  // Adds `f` to engagement `eng`'s index of files, and its size to the
  // engagement's running total in the same atomic step. A hash indexed there
  // before adds nothing. A new file that would take the total past
  // `max_total` (0: no bound) is `too_large` and adds nothing. `done` runs
  // once the entry is durable.
  virtual void add_file(std::string eng, file_entry f, std::uint64_t max_total,
                        std::function<void(result<file_added>)> done) = 0;
  // The entries of those of `hashes` (at most max_file_lookup) indexed for
  // `eng`, and the engagement's total, in one read.
  virtual void find_files(std::string eng, std::vector<std::string> hashes,
                          std::function<void(result<file_lookup>)> handler) = 0;

  virtual engine_stats stats() const = 0;

  // True while storage is reachable (readyz).
  virtual bool ready() const = 0;

  // Finishes every pending append (handlers still run), then stops the engine's threads.
  virtual void stop() = 0;

 protected:
  std::function<void(const std::string& user_id)> user_sink_;
};

}  // namespace parley
