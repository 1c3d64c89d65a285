#include "server/due_heap.hpp"

#include <functional>
#include <utility>

namespace parley {

bool due_heap::set(const std::string& key, std::int64_t due) {
  auto [it, fresh] = due_.try_emplace(key, due);
  if (!fresh && it->second == due) return false;
  it->second = due;
  heap_.push({due, key});
  // Superseded items stay in the heap until they reach its top, which for a
  // due days ahead is days away: a key rescheduled on every event (a status
  // a second) would grow it without bound. When they outnumber the live
  // ones, the heap is rebuilt from due_.
  if (heap_.size() > 2 * due_.size() + 1024) {
    std::vector<item> live;
    live.reserve(due_.size());
    for (const auto& [name, when] : due_) live.push_back({when, name});
    heap_ = decltype(heap_)(std::greater<>(), std::move(live));
  }
  return true;
}

std::optional<std::int64_t> due_heap::due_of(const std::string& key) const {
  auto it = due_.find(key);
  if (it == due_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::int64_t> due_heap::top() const {
  if (heap_.empty()) return std::nullopt;
  return heap_.top().due;
}

std::vector<std::string> due_heap::take_due(std::int64_t now) {
  std::vector<std::string> out;
  while (!heap_.empty() && heap_.top().due <= now) {
    auto top = heap_.top();
    heap_.pop();
    auto it = due_.find(top.key);
    if (it == due_.end() || it->second != top.due) continue;  // superseded
    due_.erase(it);
    out.push_back(std::move(top.key));
  }
  return out;
}

}  // namespace parley
