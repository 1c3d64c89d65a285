#pragma once
// The engagements this instance serves: each one's state, rebuilt from its
// stored events on first use and kept current by every committed event.
// Workflow posts (flags, proposals, decisions) of one engagement run one at a
// time, so that a rule is checked against the state its append will follow.
#include "protocol/engagement.hpp"
#include "protocol/result.hpp"
#include "storage/engine.hpp"

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace parley {

class engagements {
 public:
  // `state` is a snapshot, or null with `err` set when the engagement could not be loaded.
  using state_fn = std::function<void(const engagement_state* state, const error* err)>;
  // An exclusive op calls `finished` once its append has been answered.
  using exclusive_fn =
      std::function<void(const engagement_state* state, const error* err, std::function<void()> finished)>;
  // Told the engagement's state after every change (the service-level watcher).
  using change_fn = std::function<void(const engagement_state& state)>;

  // Starts the watch of a channel's live events (hub::watch).
  using watch_fn = std::function<void(const std::string& ch, std::function<void(std::optional<error>)> ready)>;

  engagements(engine& storage, watch_fn watch);

  void set_on_change(change_fn fn) { on_change_ = std::move(fn); }

  // From the hub's sink: every committed event, in commit order.
  void on_committed(const committed_event& ev);

  // Calls `fn` with the engagement's current state, loading (and, on first use,
  // opening) it first. Any thread; `fn` may run on a storage thread.
  void with_state(const std::string& eng, state_fn fn);
  // As with_state, but one exclusive op at a time per engagement.
  void run_exclusive(const std::string& eng, exclusive_fn fn);

  // Reads what the engagement's channels hold beyond the state (events another
  // instance committed that have not reached this one yet), then calls `fn`
  // with the newer state.
  void catch_up(const std::string& eng, state_fn fn);

 private:
  enum class load_status { unloaded, loading, loaded };
  struct entry {
    std::mutex mutex;
    load_status status = load_status::unloaded;
    engagement_state state;
    std::vector<event> arrived_while_loading;
    std::deque<state_fn> waiting;  // called once loaded
    std::deque<exclusive_fn> exclusive_queue;
    bool exclusive_running = false;
    bool watched = false;  // its channels' live events come to on_committed
  };

  std::shared_ptr<entry> find_or_add(const std::string& eng);
  void load(const std::string& eng, std::shared_ptr<entry> e);
  void read_state(const std::string& eng, std::shared_ptr<entry> e);
  void read_channel(std::string ch, std::int64_t after, std::shared_ptr<std::vector<event>> into,
                    std::function<void(std::optional<error>, std::int64_t head)> done);
  // A failed load leaves the engagement unloaded: the next use tries again.
  void finish_load(const std::shared_ptr<entry>& e, std::optional<error> err, engagement_state state);
  void start_next_exclusive(const std::string& eng, const std::shared_ptr<entry>& e);

  engine& storage_;
  watch_fn watch_;
  change_fn on_change_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<entry>> entries_;
};

// The engagement a channel belongs to ("eng:42" and "eng:42:mediation" → "42"), or empty.
std::string engagement_of(std::string_view ch);

}  // namespace parley
