#include "server/joined_channel.hpp"

namespace parley {

void joined_channel::start_join(std::uint64_t generation) {
  ready_ = false;
  pending_.clear();
  generation_ = generation;
}

joined_channel::delivery joined_channel::deliver(std::int64_t seq, const std::shared_ptr<const std::string>& json) {
  if (!ready_) {
    pending_.push_back({seq, json});
    return delivery::buffer;
  }
  if (seq <= last_seq_) return delivery::skip;
  if (seq != last_seq_ + 1) return delivery::gap;
  last_seq_ = seq;
  return delivery::queue;
}

std::vector<joined_channel::buffered_event> joined_channel::read_done(std::int64_t head) {
  last_seq_ = head;
  ready_ = true;
  auto released = std::move(pending_);
  pending_.clear();
  return released;
}

}  // namespace parley
