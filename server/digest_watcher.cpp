#include "server/digest_watcher.hpp"

#include "protocol/channel.hpp"
#include "protocol/event.hpp"
#include "storage/clock.hpp"
#include "storage/log.hpp"
#include "storage/webhook_hooks.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <utility>

namespace parley {
namespace net = boost::asio;

namespace {
// After a failed read or enqueue the look is tried again this much later.
constexpr std::int64_t retry_ms = 5000;
// Digests remembered here before the stored ones are read again instead.
constexpr std::size_t max_remembered = 100'000;
// Looks in flight at once.
constexpr int max_looks = 4;

std::string at_key(const std::string& user) { return "at:" + user; }
std::string through_key(const std::string& user) { return "through:" + user; }

// The webhook entry of a digest: body {"id","type","eng","ts","data"}.
webhook_entry digest_entry(const std::string& eng, const digest& d, std::int64_t now) {
  webhook_entry e;
  e.id = digest_id(eng, d);
  e.eng = eng;
  e.type = "notify.digest";
  e.ts = now;
  e.next_at = now;
  e.body = webhook_body(e.id, e.type, eng, now, digest_data(d));
  return e;
}
}  // namespace

// Ends when its last step lets go of it, whichever step that is: `finished`
// then frees its slot.
struct digest_watcher::look {
  std::function<void()> finished;
  ~look() { finished(); }
  std::string eng;
  engagements::snapshot state;
  std::vector<digest_party> parties;
  channel_tail tail;
  std::vector<read_marker> markers;
  std::vector<user> present;
  std::vector<read_marker> last;  // "at:<user>" / "through:<user>" → value
};

digest_watcher::digest_watcher(net::io_context& ioc, engine& storage, webhook_outbox& outbox, engagements& book,
                               markers_fn markers, digest_settings settings, sla_windows windows,
                               due_timer::mirror_fn mirror)
    : ioc_(ioc),
      storage_(storage),
      outbox_(outbox),
      book_(book),
      markers_(std::move(markers)),
      settings_(settings),
      windows_(windows),
      due_(ioc,
           [this](const std::string& eng) {
             queue_look(eng);
             start_looks();
           },
           std::move(mirror)) {}

void digest_watcher::schedule(const engagement_state& s) {
  if (s.phase == engagement_phase::closed || s.phase == engagement_phase::declined) return;
  if (digest_parties(s).empty()) return;
  net::post(ioc_, [this, eng = s.eng, due = now_ms() + settings_.after_ms] { schedule_at(eng, due); });
}

void digest_watcher::look_claimed(const std::string& eng) {
  net::post(ioc_, [this, eng] {
    if (stopped_) return;
    due_.forget(eng);
    queue_look(eng);
    start_looks();
  });
}

// Unless a later event scheduled a look meanwhile.
void digest_watcher::done_with(const std::string& eng) {
  net::post(ioc_, [this, eng] {
    if (!stopped_ && !due_.due_of(eng)) due_.clear(eng);
  });
}

void digest_watcher::stop() {
  net::post(ioc_, [this] {
    stopped_ = true;
    due_.cancel();
  });
}

// A look already due earlier stays: it asks the rule and schedules what comes next.
void digest_watcher::schedule_at(const std::string& eng, std::int64_t due) {
  if (stopped_) return;
  if (auto current = due_.due_of(eng); current && *current <= due) return;
  due_.set(eng, due);
}

void digest_watcher::retry_later(const std::string& eng) {
  net::post(ioc_, [this, eng] { schedule_at(eng, now_ms() + retry_ms); });
}

void digest_watcher::queue_look(const std::string& eng) {
  if (waiting_set_.insert(eng).second) waiting_.push_back(eng);
}

void digest_watcher::start_looks() {
  while (!stopped_ && running_ < max_looks && !waiting_.empty()) {
    auto eng = std::move(waiting_.front());
    waiting_.pop_front();
    waiting_set_.erase(eng);
    ++running_;
    begin_look(eng);
  }
}

void digest_watcher::begin_look(const std::string& eng) {
  auto l = std::make_shared<look>();
  l->finished = [this] {
    net::post(ioc_, [this] {
      --running_;
      start_looks();
    });
  };
  l->eng = eng;
  book_.with_state(eng, false, [this, l](result<engagements::snapshot> state) {
    if (!state) {
      // Gone (it never held an event): nothing to look at.
      if (state.err().code == errc::not_found) return done_with(l->eng);
      return retry_later(l->eng);
    }
    l->state = std::move(*state);
    l->parties = digest_parties(*l->state);
    if (l->parties.empty()) return done_with(l->eng);
    read_tail(l);
  });
}

void digest_watcher::read_tail(std::shared_ptr<look> l) {
  read_query q;
  q.ch = channel::main(l->eng);
  q.limit = digest_tail_events;
  storage_.read(std::move(q), [this, l](result<channel_window> window) {
    if (!window) return retry_later(l->eng);
    l->tail.head = window->head;
    for (const auto& stored : window->events) {
      auto ev = parse_event(*stored.json);
      if (ev) l->tail.events.push_back({stored.seq, ev->ts, ev->from.id});
    }
    read_markers(l);
  });
}

void digest_watcher::read_markers(std::shared_ptr<look> l) {
  markers_(channel::main(l->eng), [this, l](result<std::vector<read_marker>> markers) {
    if (!markers) return retry_later(l->eng);
    l->markers = std::move(*markers);
    read_presence(l);
  });
}

void digest_watcher::read_presence(std::shared_ptr<look> l) {
  storage_.presence_members(channel::main(l->eng), [this, l](result<std::vector<user>> members) {
    if (!members) return retry_later(l->eng);
    l->present = std::move(*members);
    read_last_digests(l);
  });
}

void digest_watcher::read_last_digests(std::shared_ptr<look> l) {
  storage_.read_markers(record_channel(l->eng), [this, l](result<std::vector<read_marker>> last) {
    if (!last) return retry_later(l->eng);
    l->last = std::move(*last);
    net::post(ioc_, [this, l] { decide(l); });
  });
}

// On the watcher's thread: the rule per party; due digests are enqueued, and
// the earliest next look is scheduled.
void digest_watcher::decide(std::shared_ptr<look> l) {
  if (stopped_) return;
  auto now = now_ms();
  auto value_of = [](const std::vector<read_marker>& in, const std::string& key) {
    for (const auto& m : in)
      if (m.user_id == key) return m.seq;
    return std::int64_t{0};
  };
  std::optional<std::int64_t> next;
  for (const auto& who : l->parties) {
    party_reading p{who, value_of(l->markers, who.user), false, {}};
    p.present = std::any_of(l->present.begin(), l->present.end(), [&](const user& u) { return u.id == who.user; });
    p.last = {value_of(l->last, at_key(who.user)), value_of(l->last, through_key(who.user))};
    if (auto it = sent_.find(l->eng + '\n' + who.user); it != sent_.end()) {
      p.last.at = std::max(p.last.at, it->second.at);
      p.last.through = std::max(p.last.through, it->second.through);
    }
    auto d = decide_digest(*l->state, p, l->tail, settings_, windows_, now);
    if (d.send) send(l->eng, *d.send, now);
    if (d.look_again && (!next || *d.look_again < *next)) next = d.look_again;
  }
  if (next)
    schedule_at(l->eng, *next);
  else
    done_with(l->eng);
}

void digest_watcher::send(const std::string& eng, const digest& d, std::int64_t now) {
  remember(eng, d.user, {now, d.through});
  std::vector<webhook_entry> entries;
  entries.push_back(digest_entry(eng, d, now));
  outbox_.enqueue_webhooks(std::move(entries), [this, eng, user = d.user, through = d.through,
                                                now](result<void> stored) {
    if (!stored) {
      log_event(log_level::warn, "digest_not_stored", {{"eng", eng}, {"reason", stored.err().message}});
      // Forget it, so that the next look makes it again (with the same id).
      net::post(ioc_, [this, eng, user] { sent_.erase(eng + '\n' + user); });
      return retry_later(eng);
    }
    // Kept at the maximum: a late or repeated write never moves them back.
    storage_.set_read_marker(at_key(user), record_channel(eng), now);
    storage_.set_read_marker(through_key(user), record_channel(eng), through);
  });
}

void digest_watcher::remember(const std::string& eng, const std::string& user, last_digest last) {
  if (sent_.size() >= max_remembered) sent_.clear();
  sent_[eng + '\n' + user] = last;
}

}  // namespace parley
