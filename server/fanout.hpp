#pragma once
// The worker threads and the fan-out of committed events and pushes to their
// members (DESIGN §4). Each worker keeps its own registry channel → members,
// touched only on its thread; which workers have members of a channel is
// counted apart, so that the storage thread posts an event only to those.
#include "server/channel_registry.hpp"
#include "server/latency_histogram.hpp"
#include "server/member.hpp"
#include "storage/engine.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace parley {

// One worker thread's share of the server: its io_context and the members it
// runs, by channel. Only that thread touches `registry` and `members`.
struct worker {
  std::size_t index = 0;
  boost::asio::io_context ioc{1};
  channel_registry<std::weak_ptr<member>> registry;
  std::unordered_map<const member*, std::weak_ptr<member>> members;  // every connection, joined or not
  std::optional<boost::asio::steady_timer> sweep_timer;  // fanout::start_sweeps

  // member::flush for `m` once the handlers queued so far have run: the
  // events of a whole round of fan-out leave in one write per member.
  // `first`: before the others of the round (the answer to a post goes out
  // before the fan-out of the event it stored).
  void flush_later(std::shared_ptr<member> m, bool first = false);

 private:
  std::vector<std::shared_ptr<member>> to_flush_first_, to_flush_;
  std::vector<std::shared_ptr<member>> flushing_first_, flushing_;
};

// The state push that follows a stored workflow event (protocol §9.9): to each
// member of engagement `eng`'s channels, the state with its reader's `can`.
// Members whose `can` is the same get one shared frame.
struct state_push {
  std::string eng;
  std::function<std::vector<std::string>(const claims& reader)> can_of;
  // Called from several workers at once.
  std::function<std::shared_ptr<const std::string>(const std::vector<std::string>& can)> frame_with;
};

class fanout {
 public:
  // `latency` (may be null) observes each event's hand-over on each worker.
  fanout(std::size_t workers, latency_histogram* latency = nullptr);

  std::vector<std::unique_ptr<worker>>& workers() { return workers_; }
  // The worker for the next connection (round robin).
  worker& next_worker();

  // On `w`'s thread: `m` becomes / stops being a member of `ch`.
  void add(worker& w, const std::string& ch, const std::shared_ptr<member>& m);
  void remove(worker& w, const std::string& ch, const member& m);

  // From the storage thread, in commit order: the event to the members of its
  // channel, then (with `push`) the state to each member of the engagement's
  // channels, once per member and after the event.
  void deliver(const committed_event& ev, std::optional<state_push> push);
  // A frame to every member of `ch` on this instance, except `except`.
  void push(const std::string& ch, std::shared_ptr<const std::string> frame, const member* except);
  // Calls `fn` on each worker's thread for every connection it runs.
  void for_each_member(std::function<void(member&)> fn);
  // Every `every`, on each worker's thread, member::sweep on every connection
  // it runs: one timer per worker instead of timers per connection and write.
  // They run until the workers stop.
  void start_sweeps(std::chrono::milliseconds every);

 private:
  // Which workers have members of a channel, counted per hash bucket of the
  // channel's name: written by a worker when a channel gains its first or
  // loses its last member there, read by the storage thread without a lock.
  // Channels that share a bucket only cost a worker an empty lookup.
  static constexpr std::size_t buckets = 4096;
  std::atomic<std::uint32_t>& count(const std::string& ch, std::size_t worker);
  bool has_members(const std::string& ch, std::size_t worker);

  std::vector<std::unique_ptr<worker>> workers_;
  latency_histogram* latency_;
  std::atomic<std::size_t> next_worker_{0};
  std::unique_ptr<std::atomic<std::uint32_t>[]> counts_;
};

}  // namespace parley
