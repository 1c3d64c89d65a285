#pragma once
// The channels this instance watches on Redis (engine::watch): their pub/sub
// subscriptions, subscribed again on every new subscribe connection, and for
// each its delivery order (delivery_order.hpp) with the stream reads that fill
// its gaps. The sink gets every committed event of a watched channel once, in
// seq order, from whichever instance appended it. Loop thread only.
#include "protocol/result.hpp"
#include "storage/delivery_order.hpp"
#include "storage/engine.hpp"
#include "storage/redis_subscriptions.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace parley {

class channel_watch {
 public:
  // Reads channel `ch`: with no `after` only its epoch and head, else a page
  // of the events after that seq.
  using reader = std::function<void(const std::string& ch, std::optional<std::int64_t> after,
                                    std::function<void(result<channel_window>)> done)>;

  channel_watch(redis_subscriptions& sub, std::size_t max_gap_buffer, reader read);

  void set_sink(std::function<void(const committed_event&)> sink) { sink_ = std::move(sink); }

  void watch(const std::string& ch, std::function<void(result<void>)> ready);
  void unwatch(const std::string& ch);

  // A new subscribe connection knows no channel: subscribes again those it
  // carries (`only`), or every channel (a new map may have moved any).
  void subscribe_all(const redis_node_address* only = nullptr);
  // The watched channel whose pub/sub channel is `pub`, if any.
  const std::string* channel_of(const std::string& pub) const;
  // Its subscription is confirmed: read what was missed meanwhile.
  void on_subscribed(const std::string& ch);
  // A committed event published on its pub/sub channel.
  void on_message(const std::string& ch, published p);
  // This instance's own append, committed in a channel whose epoch is `epoch`:
  // delivered at once when it is next in line, else its message will be.
  void on_own_commit(const committed_event& c, const std::string& epoch);
  // Retries the reads that failed (commands work again, or a probe tick).
  void retry_stale();

  // From now on reads are ignored and nothing is delivered.
  void stopping() { stopping_ = true; }
  // Tells whoever waits for a channel that it will not be ready; forgets every channel.
  void close();

 private:
  // A watched channel: its delivery order, and the reads that keep it whole.
  struct state {
    std::uint64_t id = 0;     // tells a re-watch apart from the state a read was started for
    std::string pub;          // its pub/sub channel
    bool reading = false;     // a catch-up read is in flight
    bool again = false;       // read once more when it is back
    bool stale = false;       // a catch-up read failed: retried when commands work again
    int idle_reads = 0;       // catch-up reads in a row that delivered nothing
    delivery_order order;
    std::vector<std::function<void(result<void>)>> on_synced;  // watch() callers waiting for the start
  };

  void catch_up(const std::string& ch);
  void on_read(const std::string& ch, std::uint64_t id, result<channel_window> r);
  void carry_out(const std::string& ch, delivery_order::step step);

  redis_subscriptions& sub_;
  std::size_t max_gap_buffer_;
  reader read_;
  std::function<void(const committed_event&)> sink_;
  std::unordered_map<std::string, state> watched_;
  std::unordered_map<std::string, std::string> channel_of_pub_;
  std::uint64_t ids_ = 0;
  bool stopping_ = false;
};

}  // namespace parley
