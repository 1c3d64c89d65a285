#include "server/membership.hpp"

#include "protocol/event.hpp"
#include "server/availability_book.hpp"

#include <algorithm>

namespace parley {
namespace {
boost::json::array one_entry(boost::json::object entry) {
  boost::json::array a;
  a.emplace_back(std::move(entry));
  return a;
}
}  // namespace

membership::membership(engine& storage, fanout& fan) : storage_(storage), fanout_(fan) {}

// The member is in the registry (and counted for its worker) before the
// watch is asked for, so that the fan-out reaches it for every event after
// the read that `ready` starts.
void membership::join(worker& w, const std::string& ch, const std::shared_ptr<member>& m, const user& who,
                      std::function<void(result<void>)> ready) {
  fanout_.add(w, ch, m);
  if (presence_.join(ch, who)) user_joined(ch, who, m.get());
  watch(ch, std::move(ready));
}

void membership::leave(worker& w, const std::string& ch, const member& m, const user& who) {
  fanout_.remove(w, ch, m);
  unwatch(ch);
  if (presence_.leave(ch, who.id)) user_left(ch, who, &m);
}

// The engine is told under the lock, so that a last unwatch and a new watch
// of the same channel reach it in the order their counts changed.
void membership::watch(const std::string& ch, std::function<void(result<void>)> ready) {
  std::lock_guard lock(watch_mutex_);
  ++watchers_[ch];
  storage_.watch(ch, std::move(ready));
}

void membership::unwatch(const std::string& ch) {
  std::lock_guard lock(watch_mutex_);
  auto it = watchers_.find(ch);
  if (it == watchers_.end() || --it->second > 0) return;
  watchers_.erase(it);
  storage_.unwatch(ch);
}

void membership::present(const std::string& ch, std::function<void(result<std::vector<user>>)> done) {
  storage_.presence_members(ch, std::move(done));
}

void membership::broadcast(const std::string& ch, std::shared_ptr<const std::string> frame, const member* except) {
  storage_.publish_ephemeral(ch, frame);
  fanout_.push(ch, std::move(frame), except);
}

void membership::user_joined(const std::string& ch, const user& who, const member* except) {
  storage_.presence_update(ch, who, true);
  auto frame = describe_ ? presence_push(ch, one_entry(describe_(who, true)), {}, {}) : presence_frame(ch, {who}, {});
  broadcast(ch, std::make_shared<const std::string>(std::move(frame)), except);
}

void membership::user_left(const std::string& ch, const user& who, const member* except) {
  storage_.presence_update(ch, who, false);
  storage_.presence_members(ch, [this, ch, who, except](result<std::vector<user>> members) {
    if (members && std::any_of(members->begin(), members->end(), [&](const user& u) { return u.id == who.id; }))
      return;  // still here through another instance
    auto frame = describe_ ? presence_push(ch, {}, one_entry(describe_(who, false)), {}) : presence_frame(ch, {}, {who});
    broadcast(ch, std::make_shared<const std::string>(std::move(frame)), except);
  });
}

}  // namespace parley
