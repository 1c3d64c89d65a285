#pragma once
// Presence across instances on Redis: a hash per channel, one field per
// (instance, user), each value "<expiry ms> <user json>". An instance re-writes
// its own entries before they expire and sweeps expired ones, so the members
// of a crashed instance are gone within the entry lifetime. Loop thread only.
#include "protocol/result.hpp"
#include "protocol/user.hpp"
#include "storage/redis_router.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace parley {

class redis_presence {
 public:
  // `instance` names this instance's entries (unique per process). `left`
  // is told when a sweep removed the last entry of a user who was present
  // through an instance that stopped reporting.
  redis_presence(redis_router& cmd, std::string instance,
                 std::function<void(const std::string& ch, const user& who)> left);

  void update(const std::string& ch, const user& who, bool present);
  void members(const std::string& ch, std::function<void(result<std::vector<user>>)> handler);
  // Re-writes and sweeps when a refresh is due (called on every probe tick).
  void tick(std::chrono::steady_clock::time_point now);
  // From now on replies are ignored (the engine stops).
  void stop() { stopping_ = true; }

 private:
  void write(const std::string& ch, const user& who);
  void sweep(const std::string& ch);

  redis_router& cmd_;
  std::string instance_;
  std::function<void(const std::string& ch, const user& who)> left_;
  // This instance's present users by channel, re-written before they expire.
  std::unordered_map<std::string, std::map<std::string, user>> present_;
  std::chrono::steady_clock::time_point refreshed_;
  bool stopping_ = false;
};

}  // namespace parley
