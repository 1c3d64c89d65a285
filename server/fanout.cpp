#include "server/fanout.hpp"

#include "protocol/channel.hpp"
#include "storage/clock.hpp"

#include <boost/asio/post.hpp>

#include <map>
#include <unordered_set>

namespace parley {
namespace net = boost::asio;

fanout::fanout(std::size_t workers, latency_histogram* latency)
    : latency_(latency), counts_(new std::atomic<std::uint32_t>[buckets * workers]) {
  for (std::size_t i = 0; i < buckets * workers; ++i) counts_[i].store(0, std::memory_order_relaxed);
  for (std::size_t i = 0; i < workers; ++i) {
    workers_.push_back(std::make_unique<worker>());
    workers_.back()->index = i;
  }
}

worker& fanout::next_worker() { return *workers_[next_worker_.fetch_add(1, std::memory_order_relaxed) % workers_.size()]; }

std::atomic<std::uint32_t>& fanout::count(const std::string& ch, std::size_t worker) {
  return counts_[(std::hash<std::string>{}(ch) % buckets) * workers_.size() + worker];
}

bool fanout::has_members(const std::string& ch, std::size_t worker) { return count(ch, worker).load() > 0; }

// The count rises before the member's join reads its window, so every event
// committed after that read is posted to this worker.
void fanout::add(worker& w, const std::string& ch, const std::shared_ptr<member>& m) {
  bool first_here = w.registry.members(ch) == 0;
  if (w.registry.add(ch, m.get(), m) && first_here) count(ch, w.index).fetch_add(1);
}

void fanout::remove(worker& w, const std::string& ch, const member& m) {
  if (w.registry.remove(ch, &m) && w.registry.members(ch) == 0) count(ch, w.index).fetch_sub(1);
}

namespace {

// On the worker's thread: the state to each member of the engagement's
// channels once, after the event (which `deliver` gave to members of `ch`).
// A member whose join of the event's channel is still reading gets the event
// with its join's window, and no state before it. One frame per distinct
// `can` here: the parties of a side, and support, mostly share one.
void push_state(worker& w, const std::string& ch, const state_push& push) {
  const std::string main = channel::main(push.eng);
  const std::string mediation = channel::mediation(push.eng);
  std::unordered_set<const member*> done;
  std::map<std::vector<std::string>, std::shared_ptr<const std::string>> frames;
  for (const auto* c : {&main, &mediation}) {
    w.registry.for_each(*c, [&](const std::weak_ptr<member>& weak) {
      auto m = weak.lock();
      if (!m || !done.insert(m.get()).second) return;
      if (w.registry.contains(ch, m.get()) && !m->live_on(ch)) return;
      if (!m->live_on(main) && !m->live_on(mediation)) return;
      auto [it, first] = frames.try_emplace(push.can_of(m->reader()));
      if (first) it->second = push.frame_with(it->first);
      m->push(it->second);
    });
  }
}

}  // namespace

// Each worker gets the events in commit order (io_context runs posted
// handlers FIFO), so every member sees a channel's events in seq order.
void fanout::deliver(const committed_event& ev, std::optional<state_push> push) {
  const auto committed = std::chrono::steady_clock::now();
  for (auto& w : workers_) {
    bool to_engagement = push && (has_members(channel::main(push->eng), w->index) ||
                                  has_members(channel::mediation(push->eng), w->index));
    if (!to_engagement && !has_members(ev.ch, w->index)) continue;
    net::post(w->ioc, [this, w = w.get(), ch = ev.ch, seq = ev.seq, json = ev.json, committed,
                       push = to_engagement ? push : std::nullopt] {
      w->registry.for_each(ch, [&](const std::weak_ptr<member>& weak) {
        if (auto m = weak.lock()) m->deliver(ch, seq, json);
      });
      if (push) push_state(*w, ch, *push);
      if (latency_) latency_->observe_since(committed);
    });
  }
}

void fanout::push(const std::string& ch, std::shared_ptr<const std::string> frame, const member* except) {
  for (auto& w : workers_) {
    if (!has_members(ch, w->index)) continue;
    net::post(w->ioc, [w = w.get(), ch, frame, except] {
      w->registry.for_each(ch, [&](const std::weak_ptr<member>& weak) {
        if (auto m = weak.lock(); m && m.get() != except) m->push(frame);
      });
    });
  }
}

namespace {

void sweep_every(worker& w, std::chrono::milliseconds every) {
  w.sweep_timer->expires_after(every);
  w.sweep_timer->async_wait([&w, every](boost::system::error_code ec) {
    if (ec) return;
    const auto now = std::chrono::steady_clock::now();
    const auto wall = now_ms();
    // Swept from a copy: a member past a deadline may close at once, and
    // leave `members` while the sweep goes on.
    std::vector<std::shared_ptr<member>> swept;
    swept.reserve(w.members.size());
    for (auto& [key, weak] : w.members)
      if (auto m = weak.lock()) swept.push_back(std::move(m));
    for (auto& m : swept) m->sweep(now, wall);
    sweep_every(w, every);
  });
}

}  // namespace

void fanout::start_sweeps(std::chrono::milliseconds every) {
  for (auto& w : workers_) {
    net::post(w->ioc, [w = w.get(), every] {
      w->sweep_timer.emplace(w->ioc);
      sweep_every(*w, every);
    });
  }
}

void worker::flush_later(std::shared_ptr<member> m, bool first) {
  (first ? to_flush_first_ : to_flush_).push_back(std::move(m));
  if (to_flush_first_.size() + to_flush_.size() > 1) return;
  net::post(ioc, [this] {
    // Swapped out first: a flush may ask for another, which goes to the next round.
    flushing_first_.swap(to_flush_first_);
    flushing_.swap(to_flush_);
    for (auto* list : {&flushing_first_, &flushing_}) {
      for (auto& member : *list) member->flush();
      list->clear();
    }
  });
}

void fanout::for_each_member(std::function<void(member&)> fn) {
  for (auto& w : workers_) {
    net::post(w->ioc, [w = w.get(), fn] {
      for (auto& [key, weak] : w->members)
        if (auto m = weak.lock()) fn(*m);
    });
  }
}

}  // namespace parley
