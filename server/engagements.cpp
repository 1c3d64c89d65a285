#include "server/engagements.hpp"

#include "protocol/channel.hpp"
#include "protocol/engagement_snapshot.hpp"
#include "storage/clock.hpp"

#include <algorithm>
#include <utility>

namespace parley {

namespace {
constexpr int load_page = 1000;
}  // namespace

engagements::engagements(engine& storage, watch_fn watch, unwatch_fn unwatch, std::size_t capacity,
                         std::int64_t snapshot_every)
    : storage_(storage),
      watch_(std::move(watch)),
      unwatch_(std::move(unwatch)),
      capacity_(std::max<std::size_t>(capacity, 1)),
      snapshot_every_(std::max<std::int64_t>(snapshot_every, 1)) {}

engagement_loads engagements::loads() const {
  return {from_snapshot_.load(), from_events_.load(), events_replayed_.load(), snapshots_saved_.load()};
}

std::size_t engagements::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::array<std::size_t, engagement_phase_count> engagements::loaded_by_phase() const {
  std::array<std::size_t, engagement_phase_count> counts{};
  std::lock_guard lock(mutex_);
  for (const auto& [eng, e] : entries_) {
    std::lock_guard entry_lock(e->mutex);
    if (e->status == load_status::loaded && e->state) ++counts[static_cast<std::size_t>(e->state->phase)];
  }
  return counts;
}

std::shared_ptr<engagements::entry> engagements::find_or_add(const std::string& eng) {
  std::vector<std::string> unwatch_list;
  std::vector<snapshot> to_save;
  std::shared_ptr<entry> e;
  {
    std::lock_guard lock(mutex_);
    auto& slot = entries_[eng];
    if (slot) {
      lru_.splice(lru_.begin(), lru_, slot->lru);
      return slot;
    }
    slot = std::make_shared<entry>();
    lru_.push_front(eng);
    slot->lru = lru_.begin();
    e = slot;
    // Beyond the capacity, the least recently used idle engagements go (the
    // one just added is at the front and stays). Busy ones (loading, waited
    // on, running a workflow post) are skipped: the book may briefly exceed
    // its capacity by those.
    auto it = lru_.end();
    while (entries_.size() > capacity_ && --it != lru_.begin()) {
      auto victim = entries_.at(*it);
      std::lock_guard victim_lock(victim->mutex);
      bool idle = victim->status != load_status::loading && victim->waiting.empty() && !victim->exclusive_running &&
                  victim->exclusive_queue.empty();
      if (!idle) continue;
      auto name = *it++;  // drop_locked erases the list element `it` pointed to
      if (victim->status == load_status::loaded && state_revision(*victim->state) > victim->snapshot_revision)
        to_save.push_back(victim->state);
      if (drop_locked(name, victim)) unwatch_list.push_back(name);
    }
  }
  for (const auto& name : unwatch_list) unwatch_engagement(name);
  for (auto& s : to_save) save_snapshot(std::move(s));
  return e;
}

bool engagements::drop_locked(const std::string& eng, const std::shared_ptr<entry>& e) {
  e->dropped = true;
  lru_.erase(e->lru);
  entries_.erase(eng);
  return std::exchange(e->watched, false);
}

void engagements::unwatch_engagement(const std::string& eng) {
  unwatch_(channel::main(eng));
  unwatch_(channel::mediation(eng));
}

engagements::applied_event engagements::on_committed(const committed_event& ev) {
  auto ch = parse_channel(ev.ch);
  if (!ch || ch->type == channel_type::support) return {};
  const std::string& eng = ch->eng;
  std::shared_ptr<entry> e;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(eng);
    if (it == entries_.end()) return {};  // loaded from storage on first use
    e = it->second;
    lru_.splice(lru_.begin(), lru_, e->lru);
  }
  // The engine hands the event over parsed: it is applied as it was stored, never parsed again.
  if (!ev.event) return {};
  applied_event applied{ev.event->kind, nullptr};
  snapshot changed;
  bool save = false;
  {
    std::lock_guard lock(e->mutex);
    if (e->status == load_status::loading) {
      e->arrived_while_loading.push_back(ev.event);
    } else if (e->status == load_status::loaded) {
      auto next = apply_shared(e->state, *ev.event);
      if (next != e->state) {
        e->state = changed = std::move(next);
        save = claim_snapshot(*e, *changed);
      }
      applied.state = e->state;
    }
  }
  if (changed && on_change_) on_change_(*changed);
  if (save) save_snapshot(changed);
  return applied;
}

void engagements::with_state(const std::string& eng, bool may_open, state_fn fn) {
  auto e = find_or_add(eng);
  std::unique_lock lock(e->mutex);
  if (e->dropped) {
    // Dropped between the lookup and the lock: look it up again.
    lock.unlock();
    return with_state(eng, may_open, std::move(fn));
  }
  switch (e->status) {
    case load_status::loaded: {
      auto snap = e->state;
      lock.unlock();
      return fn(std::move(snap));
    }
    case load_status::loading:
      e->waiting.push_back({std::move(fn), may_open});
      return;
    case load_status::unloaded:
      e->status = load_status::loading;
      e->waiting.push_back({std::move(fn), may_open});
      lock.unlock();
      return load(eng, e);
  }
}

void engagements::run_exclusive(const std::string& eng, bool may_open, exclusive_fn fn) {
  auto e = find_or_add(eng);
  {
    std::unique_lock lock(e->mutex);
    if (e->dropped) {
      lock.unlock();
      return run_exclusive(eng, may_open, std::move(fn));
    }
    e->exclusive_queue.push_back({std::move(fn), may_open});
    if (e->exclusive_running) return;
    e->exclusive_running = true;
  }
  start_next_exclusive(eng, e);
}

void engagements::start_next_exclusive(const std::string& eng, const std::shared_ptr<entry>& e) {
  exclusive_op op;
  {
    std::lock_guard lock(e->mutex);
    if (e->exclusive_queue.empty()) {
      e->exclusive_running = false;
      return;
    }
    op = std::move(e->exclusive_queue.front());
    e->exclusive_queue.pop_front();
  }
  with_state(eng, op.may_open, [this, eng, e, fn = std::move(op.fn)](result<snapshot> s) {
    fn(std::move(s), [this, eng, e] { start_next_exclusive(eng, e); });
  });
}

// Reads a channel from `after` to its head, page by page.
void engagements::read_channel(std::string ch, std::int64_t after, std::shared_ptr<event_fn> each,
                               std::function<void(result<std::int64_t>)> done) {
  read_query q;
  q.ch = ch;
  q.after = after;
  q.limit = load_page;
  storage_.read(std::move(q), [this, ch, each, done = std::move(done)](result<channel_window> window) mutable {
    if (!window) return done(window.err());
    const channel_window& out = *window;
    for (const auto& se : out.events) {
      auto ev = parse_event(*se.json);
      if (!ev) return done(ev.err());
      (*each)(std::move(ev.value()));
    }
    std::int64_t last = out.events.empty() ? 0 : out.events.back().seq;
    if (!out.events.empty() && last < out.head) return read_channel(ch, last, each, std::move(done));
    done(out.head);
  });
}

void engagements::read_engagement(const std::string& eng, std::int64_t main_after, std::int64_t mediation_after,
                                  std::shared_ptr<event_fn> each, std::function<void(result<std::int64_t>)> done) {
  read_channel(channel::main(eng), main_after, each,
               [this, eng, mediation_after, each, done = std::move(done)](result<std::int64_t> main_head) mutable {
                 if (!main_head) return done(main_head.err());
                 read_channel(channel::mediation(eng), mediation_after, each,
                              [main_head = *main_head, done = std::move(done)](result<std::int64_t> head) {
                                if (!head) return done(head.err());
                                done(main_head);
                              });
               });
}

// The engagement's channels are watched before the first read (and until the
// engagement is dropped), so that every event committed after that read
// reaches on_committed.
void engagements::load(const std::string& eng, std::shared_ptr<entry> e) {
  bool watched;
  {
    std::lock_guard lock(e->mutex);
    watched = std::exchange(e->watched, true);
  }
  if (watched) return read_state(eng, e);
  struct pending {
    std::mutex mutex;
    int left = 2;
    result<void> watched;  // the first failure of the two
  };
  auto p = std::make_shared<pending>();
  auto ready = [this, eng, e, p](result<void> watched) {
    {
      std::lock_guard lock(p->mutex);
      if (!watched && p->watched) p->watched = watched.err();
      if (--p->left > 0) return;
    }
    if (!p->watched) {
      std::lock_guard lock(e->mutex);
      e->watched = false;  // watched again on the next load
    }
    if (!p->watched) return finish_load(e, p->watched.err());
    read_state(eng, e);
  };
  watch_(channel::main(eng), ready);
  watch_(channel::mediation(eng), ready);
}

// From the stored snapshot when there is one this build can read (another
// format or a damaged one is passed over: the events alone give the same state).
void engagements::read_state(const std::string& eng, std::shared_ptr<entry> e) {
  storage_.load_snapshot(eng, [this, eng, e](result<std::optional<std::string>> stored) {
    if (!stored) return finish_load(e, stored.err());
    std::optional<engagement_state> restored;
    if (*stored) restored = parse_snapshot(**stored);
    if (restored && restored->eng == eng) return replay(eng, e, std::move(*restored), true);
    replay(eng, e, new_engagement(eng, 0), false);
  });
}

void engagements::replay(const std::string& eng, std::shared_ptr<entry> e, engagement_state s, bool from_snapshot) {
  std::int64_t start_revision = from_snapshot ? state_revision(s) : 0;
  auto main_after = applied_seq(s, channel::main(eng)), mediation_after = applied_seq(s, channel::mediation(eng));
  auto state = std::make_shared<engagement_state>(std::move(s));
  auto replayed = std::make_shared<std::uint64_t>(0);
  auto each = std::make_shared<event_fn>([state, replayed](event&& ev) {
    apply(*state, ev);
    ++*replayed;
  });
  read_engagement(eng, main_after, mediation_after, each,
                  [this, eng, e, state, replayed, start_revision, from_snapshot](result<std::int64_t> main_head) {
                    if (!main_head) return finish_load(e, main_head.err());
                    // Every engagement's main channel holds its opening event: an empty one is not opened yet.
                    if (*main_head == 0) return open_engagement(eng, e, std::move(*state));
                    (from_snapshot ? from_snapshot_ : from_events_).fetch_add(1);
                    events_replayed_.fetch_add(*replayed);
                    {
                      std::lock_guard lock(e->mutex);
                      e->snapshot_revision = start_revision;
                    }
                    finish_load(e, std::move(*state));
                  });
}

bool engagements::claim_snapshot(entry& e, const engagement_state& s) {
  auto revision = state_revision(s);
  if (revision - e.snapshot_revision < snapshot_every_) return false;
  e.snapshot_revision = revision;
  return true;
}

void engagements::save_snapshot(snapshot s) {
  if (saving_.fetch_add(1) >= max_saving) {
    saving_.fetch_sub(1);
    return;
  }
  auto eng = s->eng;
  auto revision = state_revision(*s);
  storage_.save_snapshot(std::move(eng), revision, snapshot_text(*s), [this](result<void> saved) {
    if (saved) snapshots_saved_.fetch_add(1);
    saving_.fetch_sub(1);
  });
}

// An engagement without events. A party's first use opens it now, in
// `discovery` (protocol §1), and that moment is stored so that a restart keeps
// it. Readers that may not open it (support, service) get `not_found`, and
// nothing of it is kept: probing ids costs no memory.
void engagements::open_engagement(const std::string& eng, std::shared_ptr<entry> e, engagement_state s) {
  std::deque<waiter> refused;
  {
    std::lock_guard lock(e->mutex);
    bool opener = std::any_of(e->waiting.begin(), e->waiting.end(), [](const waiter& w) { return w.may_open; });
    if (!opener) {
      refused.swap(e->waiting);
      e->status = load_status::unloaded;
      e->arrived_while_loading.clear();
    }
  }
  if (!refused.empty()) {
    bool unwatch = false;
    {
      std::lock_guard lock(mutex_);
      auto it = entries_.find(eng);
      if (it != entries_.end() && it->second == e) {
        std::lock_guard entry_lock(e->mutex);
        // Someone else may have started a load since: then the entry stays.
        if (e->status == load_status::unloaded && e->waiting.empty() && !e->exclusive_running &&
            e->exclusive_queue.empty())
          unwatch = drop_locked(eng, e);
      }
    }
    if (unwatch) unwatch_engagement(eng);
    auto err = engagement_not_found(eng);
    for (auto& w : refused) w.fn(err);
    return;
  }
  append_request req;
  req.events.push_back(opening_event(eng, now_ms()));
  storage_.append(std::move(req), [this, eng, e, s = std::move(s)](result<appended> stored) mutable {
    if (!stored) return finish_load(e, stored.err());
    // Opened elsewhere first (another instance, or a creation by the platform
    // whose invitation proposal follows its opening): read all it stored.
    if (stored->duplicate) return read_state(eng, e);
    if (const auto& opened = stored->committed.front().event) apply(s, *opened);
    finish_load(e, std::move(s));
  });
}

void engagements::catch_up(const std::string& eng, state_fn fn) {
  auto e = find_or_add(eng);
  std::int64_t main_applied = 0, mediation_applied = 0;
  {
    std::unique_lock lock(e->mutex);
    if (e->dropped || e->status != load_status::loaded) {
      lock.unlock();
      // It exists (a post of it raced): opening it again would store nothing new.
      return with_state(eng, true, std::move(fn));
    }
    main_applied = applied_seq(*e->state, channel::main(eng));
    mediation_applied = applied_seq(*e->state, channel::mediation(eng));
  }
  auto events = std::make_shared<std::vector<event>>();
  auto each = std::make_shared<event_fn>([events](event&& ev) { events->push_back(std::move(ev)); });
  auto caught_up = [this, e, events, fn = std::move(fn)](result<std::int64_t> read) {
    if (!read) return fn(read.err());
    snapshot snap;
    bool save = false;
    {
      std::lock_guard lock(e->mutex);
      // apply_shared skips what on_committed applied meanwhile.
      for (const auto& ev : *events) e->state = apply_shared(e->state, ev);
      snap = e->state;
      save = claim_snapshot(*e, *snap);
    }
    if (save) save_snapshot(snap);
    if (on_change_) on_change_(*snap);
    fn(snap);
  };
  read_engagement(eng, main_applied, mediation_applied, each, std::move(caught_up));
}

void engagements::finish_load(const std::shared_ptr<entry>& e, result<engagement_state> state) {
  std::deque<waiter> waiting;
  snapshot loaded;
  bool save = false;
  {
    std::lock_guard lock(e->mutex);
    waiting.swap(e->waiting);
    if (!state) {
      e->status = load_status::unloaded;
      e->arrived_while_loading.clear();
    } else {
      for (const auto& ev : e->arrived_while_loading) apply(*state, *ev);
      e->arrived_while_loading.clear();
      e->state = loaded = std::make_shared<const engagement_state>(std::move(*state));
      e->status = load_status::loaded;
      // A long replay (no snapshot yet, or an old one) is saved at once.
      save = claim_snapshot(*e, *loaded);
    }
  }
  if (save) save_snapshot(loaded);
  if (loaded && on_change_) on_change_(*loaded);
  for (auto& w : waiting) {
    if (loaded) {
      w.fn(loaded);
    } else {
      w.fn(state.err());
    }
  }
}

}  // namespace parley
