#include "server/outbound_queue.hpp"

namespace parley {

bool outbound_queue::push(std::shared_ptr<const std::string> frame) {
  bytes_ += frame->size() + 1;
  frames_.push_back(std::move(frame));
  return over_limit();
}

// What is queued leaves newline-separated in one frame (protocol §3):
// batching, not parsing, decides throughput.
boost::asio::const_buffer outbound_queue::next_write() {
  in_flight_ = 0;
  if (empty()) return {};
  std::size_t size = at(0).size();
  std::size_t count = 1;
  while (count < frames() && count < max_batch && size + 1 + at(count).size() <= max_batch_bytes)
    size += 1 + at(count++).size();
  in_flight_ = count;
  if (count == 1) return boost::asio::buffer(at(0));
  batch_.clear();
  batch_.reserve(size);
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) batch_.push_back('\n');
    batch_.append(at(i));
  }
  return boost::asio::buffer(batch_);
}

void outbound_queue::written() {
  for (std::size_t i = 0; i < in_flight_ && !empty(); ++i) {
    bytes_ -= at(0).size() + 1;
    frames_[head_++].reset();
  }
  in_flight_ = 0;
  if (empty()) {
    // A few slots stay for the next frames (no allocation per delivery at
    // low rates); a burst's worth goes, and so does the batch copy.
    frames_.clear();
    head_ = 0;
    if (frames_.capacity() > kept_slots) std::vector<std::shared_ptr<const std::string>>().swap(frames_);
    std::string().swap(batch_);
  } else if (head_ >= max_batch && head_ * 2 >= frames_.size()) {
    // Mostly written: the rest moves to the front, so the vector stays the size of what is queued.
    frames_.erase(frames_.begin(), frames_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

void outbound_queue::drop_unsent() {
  while (frames() > in_flight_) pop_back();
}

void outbound_queue::clear() {
  std::vector<std::shared_ptr<const std::string>>().swap(frames_);
  head_ = 0;
  bytes_ = 0;
  in_flight_ = 0;
  std::string().swap(batch_);
}

void outbound_queue::pop_back() {
  bytes_ -= frames_.back()->size() + 1;
  frames_.pop_back();
}

}  // namespace parley
