#pragma once
// Which local members listen on which channel: a plain data structure, one per
// worker thread (so it needs no lock), tested without sockets.
#include <cstddef>
#include <string>
#include <unordered_map>

namespace parley {

template <class Member>
class channel_registry {
 public:
  // Adds `member` under `key` (the member's address); false when it was there already.
  bool add(const std::string& ch, const void* key, Member member) {
    return channels_[ch].try_emplace(key, std::move(member)).second;
  }

  // Removes `key` from `ch`; drops the channel when it becomes empty.
  bool remove(const std::string& ch, const void* key) {
    auto it = channels_.find(ch);
    if (it == channels_.end() || it->second.erase(key) == 0) return false;
    if (it->second.empty()) channels_.erase(it);
    return true;
  }

  // Calls f(member) for every member of `ch`. `f` must not add or remove
  // members synchronously (sessions close asynchronously, so they never do).
  template <class F>
  void for_each(const std::string& ch, F&& f) const {
    auto it = channels_.find(ch);
    if (it == channels_.end()) return;
    for (const auto& [key, member] : it->second) f(member);
  }

  bool contains(const std::string& ch, const void* key) const {
    auto it = channels_.find(ch);
    return it != channels_.end() && it->second.count(key) > 0;
  }

  std::size_t members(const std::string& ch) const {
    auto it = channels_.find(ch);
    return it == channels_.end() ? 0 : it->second.size();
  }
  std::size_t channels() const { return channels_.size(); }

 private:
  std::unordered_map<std::string, std::unordered_map<const void*, Member>> channels_;
};

}  // namespace parley
