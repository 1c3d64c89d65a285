#include "server/read_markers.hpp"

#include <algorithm>
#include <unordered_map>
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

std::vector<std::pair<std::string, std::int64_t>> read_markers::known_on(const std::string& ch) const {
  std::vector<std::pair<std::string, std::int64_t>> out;
  std::string prefix = ch + '\n';
  std::lock_guard lock(mutex_);
  for (auto it = latest_.lower_bound(prefix); it != latest_.end() && it->first.starts_with(prefix); ++it)
    out.emplace_back(it->first.substr(prefix.size()), it->second);
  return out;
}

std::vector<read_marker> merge_read_markers(std::vector<read_marker> stored,
                                            const std::vector<std::pair<std::string, std::int64_t>>& known,
                                            std::size_t limit) {
  std::unordered_map<std::string, std::int64_t> by_user;
  for (auto& m : stored) by_user[std::move(m.user_id)] = m.seq;
  for (const auto& [user_id, seq] : known) {
    auto& at = by_user[user_id];
    at = std::max(at, seq);
  }
  std::vector<read_marker> out;
  out.reserve(by_user.size());
  for (auto& [user_id, seq] : by_user) out.push_back({user_id, seq});
  std::sort(out.begin(), out.end(), [](const read_marker& a, const read_marker& b) {
    return a.seq != b.seq ? a.seq > b.seq : a.user_id < b.user_id;
  });
  if (out.size() > limit) out.resize(limit);
  return out;
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
