#include "server/engagements.hpp"

#include "protocol/channel.hpp"
#include "protocol/user.hpp"

namespace parley {

namespace {
constexpr int load_page = 1000;
// The cid of the event that opens an engagement: one per engagement, however
// many requests race to open it.
constexpr const char* opened_cid = "engagement:opened";
}  // namespace

std::string engagement_of(std::string_view ch) {
  auto c = parse_channel(ch);
  return c && c->type != channel_type::support ? c->eng : std::string{};
}

engagements::engagements(engine& storage, watch_fn watch) : storage_(storage), watch_(std::move(watch)) {}

std::shared_ptr<engagements::entry> engagements::find_or_add(const std::string& eng) {
  std::lock_guard lock(mutex_);
  auto& e = entries_[eng];
  if (!e) e = std::make_shared<entry>();
  return e;
}

void engagements::on_committed(const committed_event& ev) {
  auto eng = engagement_of(ev.ch);
  if (eng.empty()) return;
  std::shared_ptr<entry> e;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(eng);
    if (it == entries_.end()) return;  // loaded from storage on first use
    e = it->second;
  }
  auto parsed = parse_event(*ev.json);
  if (!parsed) return;
  std::optional<engagement_state> changed;
  {
    std::lock_guard lock(e->mutex);
    if (e->status == load_status::loading) {
      e->arrived_while_loading.push_back(std::move(parsed.value()));
    } else if (e->status == load_status::loaded && apply(e->state, parsed.value())) {
      if (on_change_) changed = e->state;
    }
  }
  if (changed) on_change_(*changed);
}

void engagements::with_state(const std::string& eng, state_fn fn) {
  auto e = find_or_add(eng);
  std::unique_lock lock(e->mutex);
  switch (e->status) {
    case load_status::loaded: {
      auto snapshot = e->state;
      lock.unlock();
      return fn(&snapshot, nullptr);
    }
    case load_status::loading:
      e->waiting.push_back(std::move(fn));
      return;
    case load_status::unloaded:
      e->status = load_status::loading;
      e->waiting.push_back(std::move(fn));
      lock.unlock();
      return load(eng, e);
  }
}

void engagements::run_exclusive(const std::string& eng, exclusive_fn fn) {
  auto e = find_or_add(eng);
  {
    std::lock_guard lock(e->mutex);
    e->exclusive_queue.push_back(std::move(fn));
    if (e->exclusive_running) return;
    e->exclusive_running = true;
  }
  start_next_exclusive(eng, e);
}

void engagements::start_next_exclusive(const std::string& eng, const std::shared_ptr<entry>& e) {
  exclusive_fn fn;
  {
    std::lock_guard lock(e->mutex);
    if (e->exclusive_queue.empty()) {
      e->exclusive_running = false;
      return;
    }
    fn = std::move(e->exclusive_queue.front());
    e->exclusive_queue.pop_front();
  }
  with_state(eng, [this, eng, e, fn = std::move(fn)](const engagement_state* s, const error* err) {
    fn(s, err, [this, eng, e] { start_next_exclusive(eng, e); });
  });
}

// Reads a channel from `after` to its head, page by page.
void engagements::read_channel(std::string ch, std::int64_t after, std::shared_ptr<std::vector<event>> into,
                               std::function<void(std::optional<error>, std::int64_t)> done) {
  read_query q;
  q.ch = ch;
  q.after = after;
  q.limit = load_page;
  storage_.read(std::move(q), [this, ch, into, done = std::move(done)](read_outcome out) mutable {
    if (out.err) return done(out.err, 0);
    for (const auto& se : out.events) {
      auto ev = parse_event(*se.json);
      if (!ev) return done(ev.err(), 0);
      into->push_back(std::move(ev.value()));
    }
    std::int64_t last = out.events.empty() ? 0 : out.events.back().seq;
    if (!out.events.empty() && last < out.head) return read_channel(ch, last, into, std::move(done));
    done(std::nullopt, out.head);
  });
}

// The engagement's channels are watched for good before the first read, so
// that every event committed after that read reaches on_committed.
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
    std::optional<error> err;
  };
  auto p = std::make_shared<pending>();
  auto ready = [this, eng, e, p](std::optional<error> err) {
    {
      std::lock_guard lock(p->mutex);
      if (err && !p->err) p->err = err;
      if (--p->left > 0) return;
    }
    if (p->err) {
      std::lock_guard lock(e->mutex);
      e->watched = false;  // watched again on the next load
    }
    if (p->err) return finish_load(e, p->err, {});
    read_state(eng, e);
  };
  watch_("eng:" + eng, ready);
  watch_("eng:" + eng + ":mediation", ready);
}

void engagements::read_state(const std::string& eng, std::shared_ptr<entry> e) {
  auto events = std::make_shared<std::vector<event>>();
  read_channel("eng:" + eng, 0, events, [this, eng, e, events](std::optional<error> err, std::int64_t head) {
    if (err) return finish_load(e, err, {});
    read_channel("eng:" + eng + ":mediation", 0, events,
                 [this, eng, e, events, head](std::optional<error> err, std::int64_t) {
                   if (err) return finish_load(e, err, {});
                   engagement_state s = new_engagement(eng, 0);
                   for (const auto& ev : *events) apply(s, ev);
                   if (head > 0) return finish_load(e, std::nullopt, std::move(s));
                   // First use: the engagement opens now, in `discovery` (protocol §1), and
                   // that moment is stored so that a restart keeps it.
                   append_request req;
                   event opened;
                   opened.ch = "eng:" + eng;
                   opened.kind = "phase";
                   opened.from = system_user();
                   opened.cid = opened_cid;
                   opened.body = {{"from", nullptr}, {"to", "discovery"}};
                   req.events.push_back(std::move(opened));
                   storage_.append(std::move(req), [this, eng, e, s = std::move(s)](append_outcome out) mutable {
                     if (out.err) return finish_load(e, out.err, {});
                     auto ev = parse_event(*out.committed.front().json);
                     if (ev) apply(s, ev.value());
                     finish_load(e, std::nullopt, std::move(s));
                   });
                 });
  });
}

void engagements::catch_up(const std::string& eng, state_fn fn) {
  auto e = find_or_add(eng);
  std::int64_t main_applied = 0, mediation_applied = 0;
  {
    std::lock_guard lock(e->mutex);
    if (e->status != load_status::loaded) return with_state(eng, std::move(fn));
    auto at = [&](const std::string& ch) {
      auto it = e->state.applied.find(ch);
      return it == e->state.applied.end() ? std::int64_t{0} : it->second;
    };
    main_applied = at("eng:" + eng);
    mediation_applied = at("eng:" + eng + ":mediation");
  }
  auto events = std::make_shared<std::vector<event>>();
  read_channel("eng:" + eng, main_applied, events,
               [this, eng, e, events, mediation_applied, fn = std::move(fn)](std::optional<error> err, std::int64_t) mutable {
                 if (err) return fn(nullptr, &*err);
                 read_channel("eng:" + eng + ":mediation", mediation_applied, events,
                              [this, e, events, fn = std::move(fn)](std::optional<error> err, std::int64_t) {
                                if (err) return fn(nullptr, &*err);
                                std::optional<engagement_state> snapshot;
                                {
                                  std::lock_guard lock(e->mutex);
                                  // apply() skips what on_committed applied meanwhile.
                                  for (const auto& ev : *events) apply(e->state, ev);
                                  snapshot = e->state;
                                }
                                if (on_change_) on_change_(*snapshot);
                                fn(&*snapshot, nullptr);
                              });
               });
}

void engagements::finish_load(const std::shared_ptr<entry>& e, std::optional<error> err, engagement_state state) {
  std::deque<state_fn> waiting;
  std::optional<engagement_state> loaded;
  {
    std::lock_guard lock(e->mutex);
    waiting.swap(e->waiting);
    if (err) {
      e->status = load_status::unloaded;
      e->arrived_while_loading.clear();
    } else {
      for (const auto& ev : e->arrived_while_loading) apply(state, ev);
      e->arrived_while_loading.clear();
      e->state = std::move(state);
      e->status = load_status::loaded;
      loaded = e->state;
    }
  }
  if (loaded && on_change_) on_change_(*loaded);
  for (auto& fn : waiting) {
    if (loaded) {
      fn(&*loaded, nullptr);
    } else {
      fn(nullptr, &*err);
    }
  }
}

}  // namespace parley
