#pragma once
// How many connections of each user are joined to each channel on this
// instance, across its worker threads: the engine hears of a user's first
// join and last leave only. A user with several connections is present once.
#include "protocol/user.hpp"

#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace parley {

class presence {
 public:
  // Counts one more connection of `u` on `ch`; true when the user was not present before.
  bool join(const std::string& ch, const user& u);
  // Counts one connection less; true when it was the user's last one on `ch`.
  bool leave(const std::string& ch, const std::string& user_id);
  // The channels `user_id` is present on here, each with the user as joined
  // (an availability change is pushed to them, protocol §9.3).
  std::vector<std::pair<std::string, user>> channels_of(const std::string& user_id) const;

 private:
  struct entry {
    user who;
    int connections = 0;
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::unordered_map<std::string, entry>> channels_;
  // The same, by user: user id → the channels they are present on.
  std::unordered_map<std::string, std::set<std::string>> by_user_;
};

}  // namespace parley
