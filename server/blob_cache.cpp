#include "server/blob_cache.hpp"

namespace parley {

bool blob_cache::hand_out(const std::string& sha256, clock::time_point now) {
  auto it = entries_.find(sha256);
  if (it == entries_.end()) return false;
  it->second->handed_out = now;
  order_.splice(order_.end(), order_, it->second);
  return true;
}

void blob_cache::add(const std::string& sha256, std::uint64_t size, clock::time_point now, bool handed_out) {
  if (contains(sha256)) {
    if (handed_out) hand_out(sha256, now);
    return;
  }
  entry e{sha256, size, handed_out ? now : clock::time_point{}};
  order_.push_back(std::move(e));
  entries_.emplace(sha256, std::prev(order_.end()));
  bytes_ += size;
}

std::vector<std::string> blob_cache::evict(clock::time_point now) {
  std::vector<std::string> out;
  for (auto it = order_.begin(); bytes_ > max_bytes_ && it != order_.end();) {
    bool young = it->handed_out != clock::time_point{} && now - it->handed_out < grace_;
    if (young) {
      ++it;
      continue;
    }
    bytes_ -= it->size;
    entries_.erase(it->sha256);
    out.push_back(std::move(it->sha256));
    it = order_.erase(it);
  }
  return out;
}

}  // namespace parley
