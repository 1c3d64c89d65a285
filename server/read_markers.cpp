#include "server/read_markers.hpp"

#include <utility>
#include <vector>

namespace parley {

read_markers::read_markers(store_fn store, std::size_t flush_at, std::size_t max_known)
    : store_(std::move(store)), flush_at_(flush_at < 1 ? 1 : flush_at), max_known_(max_known < 1 ? 1 : max_known) {}

bool read_markers::update(const std::string& user_id, const std::string& ch, std::int64_t seq) {
  bool full = false;
  {
    std::lock_guard lock(mutex_);
    auto key = key_of(user_id, ch);
    auto it = latest_.find(key);
    if (it != latest_.end() && seq <= it->second) return false;
    if (it == latest_.end()) {
      // Bounded memory: forgetting costs at most one extra push per pair.
      if (latest_.size() >= max_known_) latest_.clear();
      latest_.emplace(key, seq);
    } else {
      it->second = seq;
    }
    pending_[std::move(key)] = seq;
    full = pending_.size() >= flush_at_;
  }
  if (full) flush();
  return true;
}

void read_markers::flush() {
  std::lock_guard flushing(flush_mutex_);
  std::unordered_map<std::string, std::int64_t> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(pending_);
  }
  for (const auto& [key, seq] : batch) {
    auto nl = key.find('\n');
    store_(key.substr(nl + 1), key.substr(0, nl), seq);
  }
}

std::size_t read_markers::pending() const {
  std::lock_guard lock(mutex_);
  return pending_.size();
}

std::size_t read_markers::known() const {
  std::lock_guard lock(mutex_);
  return latest_.size();
}

}  // namespace parley
