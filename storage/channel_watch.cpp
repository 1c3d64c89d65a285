#include "storage/channel_watch.hpp"

#include "storage/error_counts.hpp"
#include "storage/redis_keys.hpp"
#include "storage/refusals.hpp"

#include <utility>

namespace parley {

channel_watch::channel_watch(redis_subscriptions& sub, std::size_t max_gap_buffer, reader read)
    : sub_(sub), max_gap_buffer_(max_gap_buffer), read_(std::move(read)) {}

void channel_watch::watch(const std::string& ch, std::function<void(result<void>)> ready) {
  if (stopping_) return ready(storage_stopping());
  if (auto it = watched_.find(ch); it != watched_.end()) {
    if (it->second.order.synced()) return ready({});
    if (!sub_.connected_for(it->second.pub)) return ready(storage_unavailable("Redis is unreachable"));
    it->second.on_synced.push_back(std::move(ready));
    return;
  }
  state& st = watched_[ch];
  st.id = ++ids_;
  st.order = delivery_order(max_gap_buffer_);
  st.pub = channel_key(ch, "pub");
  channel_of_pub_[st.pub] = ch;
  // Not connected: subscribed with every other channel once it is, but the
  // caller is told now rather than kept waiting for Redis.
  if (!sub_.connected_for(st.pub)) return ready(storage_unavailable("Redis is unreachable"));
  st.on_synced.push_back(std::move(ready));
  sub_.subscribe(st.pub);
}

void channel_watch::unwatch(const std::string& ch) {
  auto it = watched_.find(ch);
  if (it == watched_.end()) return;
  sub_.unsubscribe(it->second.pub);
  channel_of_pub_.erase(it->second.pub);
  watched_.erase(it);
}

void channel_watch::subscribe_all(const redis_node_address* only) {
  for (auto& [ch, st] : watched_)
    if (!only || sub_.node_of(st.pub) == *only) sub_.subscribe(st.pub);
}

const std::string* channel_watch::channel_of(const std::string& pub) const {
  auto it = channel_of_pub_.find(pub);
  return it == channel_of_pub_.end() ? nullptr : &it->second;
}

void channel_watch::on_subscribed(const std::string& ch) { catch_up(ch); }

void channel_watch::on_message(const std::string& ch, published p) {
  auto it = watched_.find(ch);
  if (it == watched_.end()) return;
  state& st = it->second;
  carry_out(ch, st.order.on_message(std::move(p), st.reading));
}

void channel_watch::on_own_commit(const committed_event& c, const std::string& epoch) {
  auto it = watched_.find(c.ch);
  if (it == watched_.end()) return;
  state& st = it->second;
  if (!st.order.synced() || st.reading || st.order.epoch() != epoch || c.seq != st.order.last() + 1) return;
  carry_out(c.ch, st.order.on_message(published{c.seq, c.ts, st.order.epoch(), c.json, c.event}, false));
}

void channel_watch::retry_stale() {
  for (auto& [ch, st] : watched_)
    if (st.stale) catch_up(ch);
}

void channel_watch::close() {
  for (auto& [ch, st] : watched_)
    for (auto& ready : std::exchange(st.on_synced, {})) ready(storage_stopping());
  watched_.clear();
  channel_of_pub_.clear();
}

// Hands what the order allows to the sink, and reads the stream when something is missing.
void channel_watch::carry_out(const std::string& ch, delivery_order::step step) {
  if (sink_)
    for (const auto& p : step.deliver) sink_(committed_event{ch, p.seq, p.ts, p.json, p.event});
  if (step.read_needed) catch_up(ch);
}

// Reads a watched channel from its last delivered seq (the first time: only
// its head, which becomes the starting point) and delivers what it finds.
// One read per channel at a time; it repeats while something is still missing.
void channel_watch::catch_up(const std::string& ch) {
  auto it = watched_.find(ch);
  if (it == watched_.end()) return;
  state& st = it->second;
  if (st.reading) {
    st.again = true;
    return;
  }
  st.reading = true;
  st.again = false;
  st.stale = false;
  std::uint64_t id = st.id;
  std::optional<std::int64_t> after;
  if (st.order.synced()) after = st.order.last();
  read_(ch, after, [this, ch, id](result<channel_window> r) { on_read(ch, id, std::move(r)); });
}

void channel_watch::on_read(const std::string& ch, std::uint64_t id, result<channel_window> r) {
  if (stopping_) return;
  auto it = watched_.find(ch);
  if (it == watched_.end() || it->second.id != id) return;
  state& st = it->second;
  st.reading = false;
  const std::int64_t before = st.order.last();
  if (!r) {
    st.stale = true;
    // Whoever waits for the channel learns why it is not ready; later watchers wait for the retry.
    for (auto& ready : std::exchange(st.on_synced, {})) ready(r.err());
    return;
  }
  const bool starting = !st.order.synced();
  // Parsed once here: the sink gets the event with its JSON.
  std::vector<published> events;
  for (const auto& ev : r->events) {
    auto parsed = parse_event(*ev.json);
    if (!parsed) {
      events.push_back(published{ev.seq, 0, r->epoch, ev.json, nullptr});
      continue;
    }
    std::int64_t ts = parsed->ts;
    events.push_back(published{ev.seq, ts, r->epoch, ev.json, std::make_shared<const event>(std::move(parsed.value()))});
  }
  auto step = st.order.on_read(r->epoch, r->head, std::move(events));
  if (starting)
    for (auto& ready : std::exchange(st.on_synced, {})) ready({});
  bool missing = step.read_needed;
  step.read_needed = false;
  carry_out(ch, std::move(step));
  // A read that moved nothing on is tried again a few times (a message can
  // overtake the reply of a read that Redis ran before its append), then
  // left to the next probe tick.
  st.idle_reads = st.order.last() == before ? st.idle_reads + 1 : 0;
  if (st.again || (missing && st.idle_reads < 3)) return catch_up(ch);
  if (missing) st.stale = true;
}

}  // namespace parley
