#pragma once
// How many connections of each user are joined to each channel on this
// instance, across its worker threads: the engine hears of a user's first
// join and last leave only. A user with several connections is present once.
#include "protocol/user.hpp"

#include <mutex>
#include <string>
#include <unordered_map>

namespace parley {

class presence {
 public:
  // Counts one more connection of `u` on `ch`; true when the user was not present before.
  bool join(const std::string& ch, const user& u);
  // Counts one connection less; true when it was the user's last one on `ch`.
  bool leave(const std::string& ch, const std::string& user_id);

 private:
  struct entry {
    user who;
    int connections = 0;
  };
  std::mutex mutex_;
  std::unordered_map<std::string, std::unordered_map<std::string, entry>> channels_;
};

}  // namespace parley
