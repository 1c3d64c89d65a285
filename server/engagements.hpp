#pragma once
// The engagements this instance serves: each one's state, loaded on first use
// from its stored snapshot and the events after it, and kept current by every
// committed event.
// Workflow posts (flags, proposals, decisions) of one engagement run one at a
// time, so that a rule is checked against the state its append will follow.
//
// Memory is bounded: at most `capacity` engagements are kept (the least
// recently used idle ones beyond it are snapshotted, dropped, their channels
// unwatched, and loaded again on next use), and each state is an immutable
// snapshot shared by every reader and replaced (copy-on-write) when an event
// changes it.
#include "protocol/engagement.hpp"
#include "protocol/result.hpp"
#include "server/metrics.hpp"
#include "storage/engine.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace parley {

class engagements {
 public:
  using snapshot = std::shared_ptr<const engagement_state>;
  // A snapshot, or the error when the engagement could not be loaded (or does
  // not exist and the caller may not open it).
  using state_fn = std::function<void(result<snapshot> state)>;
  // An exclusive op calls `finished` once its append has been answered.
  using exclusive_fn = std::function<void(result<snapshot> state, std::function<void()> finished)>;
  // Told the engagement's state after every change (the service-level watcher).
  using change_fn = std::function<void(const engagement_state& state)>;

  // Starts / ends the watch of a channel's live events (hub::watch, hub::unwatch).
  using watch_fn = std::function<void(const std::string& ch, std::function<void(result<void>)> ready)>;
  using unwatch_fn = std::function<void(const std::string& ch)>;

  // A state is snapshotted once it reflects `snapshot_every` events more than
  // its stored snapshot, and when it is dropped with events its snapshot lacks.
  engagements(engine& storage, watch_fn watch, unwatch_fn unwatch, std::size_t capacity,
              std::int64_t snapshot_every = 100);

  void set_on_change(change_fn fn) { on_change_ = std::move(fn); }

  // A committed event of an engagement's channel, once applied: its kind, and
  // the engagement's state that includes it (null when the engagement is not
  // held here, or the event belongs to no engagement).
  struct applied_event {
    std::string kind;
    snapshot state;
  };
  // From the hub's sink: every committed event, in commit order.
  applied_event on_committed(const committed_event& ev);

  // Calls `fn` with the engagement's current state, loading it first. An
  // engagement with no events yet is opened (its first `phase` event stored)
  // only when `may_open` (a party's first use, protocol §1); otherwise `fn`
  // gets `not_found` and nothing is stored or kept. Any thread; `fn` may run on
  // a storage thread.
  void with_state(const std::string& eng, bool may_open, state_fn fn);
  // As with_state, but one exclusive op at a time per engagement.
  void run_exclusive(const std::string& eng, bool may_open, exclusive_fn fn);

  // Reads what the engagement's channels hold beyond the state (events another
  // instance committed that have not reached this one yet), then calls `fn`
  // with the newer state.
  void catch_up(const std::string& eng, state_fn fn);

  // Engagements held in memory now (loaded or loading).
  std::size_t size() const;
  // The loaded ones by phase (indexed by engagement_phase), for /metrics.
  std::array<std::size_t, engagement_phase_count> loaded_by_phase() const;

  // How loading went since start, for /metrics.
  engagement_loads loads() const;

 private:
  enum class load_status { unloaded, loading, loaded };
  struct waiter {
    state_fn fn;
    bool may_open = false;
  };
  struct exclusive_op {
    exclusive_fn fn;
    bool may_open = false;
  };
  struct entry {
    std::mutex mutex;
    load_status status = load_status::unloaded;
    snapshot state;
    std::vector<std::shared_ptr<const event>> arrived_while_loading;
    std::deque<waiter> waiting;  // called once loaded
    std::deque<exclusive_op> exclusive_queue;
    bool exclusive_running = false;
    bool watched = false;  // its channels' live events come to on_committed
    bool dropped = false;  // no longer in the book: users look it up again
    std::int64_t snapshot_revision = 0;  // state_revision of the stored snapshot (as far as known here)
    std::list<std::string>::iterator lru;
  };

  // The entry of `eng` (made when missing), marked most recently used; drops
  // the least recently used idle entries beyond the capacity.
  std::shared_ptr<entry> find_or_add(const std::string& eng);
  // Removes an idle entry from the book (under mutex_); true when it was watched.
  bool drop_locked(const std::string& eng, const std::shared_ptr<entry>& e);
  void unwatch_engagement(const std::string& eng);
  void load(const std::string& eng, std::shared_ptr<entry> e);
  void read_state(const std::string& eng, std::shared_ptr<entry> e);
  // Applies what the channels hold beyond `s` (a snapshot, or a new state).
  void replay(const std::string& eng, std::shared_ptr<entry> e, engagement_state s, bool from_snapshot);
  // Whether `e` (locked) is due a snapshot of `s`: then its snapshot_revision
  // is taken to be the one saved, so that one save is made per threshold.
  bool claim_snapshot(entry& e, const engagement_state& s);
  // Saves `s` (off any lock): at most max_saving at once, the rest skipped
  // (the next threshold or drop tries again; a load replays a little more).
  void save_snapshot(snapshot s);
  void open_engagement(const std::string& eng, std::shared_ptr<entry> e, engagement_state s);
  // Hands `each` what the engagement's channels hold beyond the given seqs, a
  // page at a time, the main channel's events first (a long replay never holds
  // more than a page); `done` gets the main channel's head.
  using event_fn = std::function<void(event&& ev)>;
  void read_channel(std::string ch, std::int64_t after, std::shared_ptr<event_fn> each,
                    std::function<void(result<std::int64_t> head)> done);
  void read_engagement(const std::string& eng, std::int64_t main_after, std::int64_t mediation_after,
                       std::shared_ptr<event_fn> each, std::function<void(result<std::int64_t> main_head)> done);
  // A failed load leaves the engagement unloaded: the next use tries again.
  void finish_load(const std::shared_ptr<entry>& e, result<engagement_state> state);
  void start_next_exclusive(const std::string& eng, const std::shared_ptr<entry>& e);

  engine& storage_;
  watch_fn watch_;
  unwatch_fn unwatch_;
  std::size_t capacity_;
  std::int64_t snapshot_every_;
  change_fn on_change_;
  // Snapshot texts held at once by saves in flight: each may be a few hundred KiB.
  static constexpr int max_saving = 32;
  std::atomic<int> saving_{0};
  std::atomic<std::uint64_t> from_snapshot_{0}, from_events_{0}, events_replayed_{0}, snapshots_saved_{0};
  mutable std::mutex mutex_;  // taken before any entry's mutex, never after
  std::unordered_map<std::string, std::shared_ptr<entry>> entries_;
  std::list<std::string> lru_;  // most recently used first
};

}  // namespace parley
