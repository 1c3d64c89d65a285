#pragma once
// Joining and leaving channels on this instance: the member's place in its
// worker's registry, the engine's watch of the channel's live events (counted:
// watched from the first interest to the last), and presence (recorded for
// every instance, pushed to the channel's members).
#include "protocol/result.hpp"
#include "server/fanout.hpp"
#include "server/presence.hpp"
#include "storage/engine.hpp"

#include <boost/json/object.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace parley {

class membership {
 public:
  membership(engine& storage, fanout& fan);

  // On `w`'s thread: `m` (of user `who`) joins `ch`. `ready` runs, on a
  // storage thread, once the channel's live events reach this instance: a
  // read started then misses none.
  void join(worker& w, const std::string& ch, const std::shared_ptr<member>& m, const user& who,
            std::function<void(result<void>)> ready);
  // On `w`'s thread: `m` leaves `ch`.
  void leave(worker& w, const std::string& ch, const member& m, const user& who);

  // Interest of this instance in a channel's live events, counted. `ready` as
  // engine::watch; it must not call back into watch.
  void watch(const std::string& ch, std::function<void(result<void>)> ready);
  void unwatch(const std::string& ch);

  // The users present on `ch` on every instance. `done` runs on a storage thread.
  void present(const std::string& ch, std::function<void(result<std::vector<user>>)> done);

  // An ephemeral frame (presence, typing, read) to every member of `ch` on
  // every instance, except `except`.
  void broadcast(const std::string& ch, std::shared_ptr<const std::string> frame, const member* except);

  // The channels `user_id` is present on here (presence::channels_of).
  std::vector<std::pair<std::string, user>> channels_of(const std::string& user_id) const {
    return presence_.channels_of(user_id);
  }
  // How joined and left pushes describe a user (protocol §9.3: with their
  // availability and last_seen); set once, before the first join.
  using describe_fn = std::function<boost::json::object(const user& who, bool present)>;
  void set_describe(describe_fn describe) { describe_ = std::move(describe); }

 private:
  // A user's first connection on this instance joined `ch` / its last one
  // left. A left is pushed only when the user is not present through another instance.
  void user_joined(const std::string& ch, const user& who, const member* except);
  void user_left(const std::string& ch, const user& who, const member* except);

  engine& storage_;
  fanout& fanout_;
  parley::presence presence_;
  describe_fn describe_;
  std::mutex watch_mutex_;
  std::unordered_map<std::string, int> watchers_;
};

}  // namespace parley
