#pragma once
// Who is joined to which channel, across all worker threads of this instance.
// A user with several connections is present once.
#include "protocol/user.hpp"

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace parley {

class presence {
 public:
  // Counts one more connection of `u` on `ch`; true when the user was not present before.
  bool join(const std::string& ch, const user& u);
  // Counts one connection less; true when it was the user's last one on `ch`.
  bool leave(const std::string& ch, const std::string& user_id);
  std::vector<user> members(const std::string& ch) const;

 private:
  struct entry {
    user who;
    int connections = 0;
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::unordered_map<std::string, entry>> channels_;
};

}  // namespace parley
