#pragma once
// Keys (engagement ids) by the time they are next due, for the watchers that
// sleep until the earliest one (sla_watcher, digest_watcher): one live due per
// key; an older entry left in the heap is stale and skipped. Not thread-safe:
// each watcher uses its own on its own thread. A plain data structure, unit-tested.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

namespace parley {

class due_heap {
 public:
  // Sets `key`'s due; false (and nothing changes) when it was exactly that already.
  bool set(const std::string& key, std::int64_t due);
  // Drops `key`'s due (its heap entry turns stale); false when it had none.
  bool remove(const std::string& key) { return due_.erase(key) > 0; }
  // `key`'s live due, if any.
  std::optional<std::int64_t> due_of(const std::string& key) const;
  // The heap's earliest entry (possibly stale: waking for it costs a look at nothing).
  std::optional<std::int64_t> top() const;
  // Removes the keys due at `now` and answers them, earliest first.
  std::vector<std::string> take_due(std::int64_t now);
  // Keys with a live due.
  std::size_t size() const { return due_.size(); }
  // Entries in the heap, stale ones included (at most about twice size() + 1024).
  std::size_t entries() const { return heap_.size(); }

 private:
  struct item {
    std::int64_t due = 0;
    std::string key;
    bool operator>(const item& o) const { return due > o.due; }
  };
  std::priority_queue<item, std::vector<item>, std::greater<>> heap_;
  std::unordered_map<std::string, std::int64_t> due_;
};

}  // namespace parley
