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
  if (frames_.empty()) return {};
  std::size_t size = frames_.front()->size();
  std::size_t count = 1;
  while (count < frames_.size() && count < max_batch && size + 1 + frames_[count]->size() <= max_batch_bytes)
    size += 1 + frames_[count++]->size();
  in_flight_ = count;
  if (count == 1) return boost::asio::buffer(*frames_.front());
  batch_.clear();
  batch_.reserve(size);
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) batch_.push_back('\n');
    batch_.append(*frames_[i]);
  }
  return boost::asio::buffer(batch_);
}

void outbound_queue::written() {
  for (std::size_t i = 0; i < in_flight_ && !frames_.empty(); ++i) {
    bytes_ -= frames_.front()->size() + 1;
    frames_.pop_front();
  }
  in_flight_ = 0;
  if (frames_.empty()) std::string().swap(batch_);
}

void outbound_queue::drop_unsent() {
  while (frames_.size() > in_flight_) pop_back();
}

void outbound_queue::clear() {
  while (!frames_.empty()) pop_back();
  in_flight_ = 0;
  std::string().swap(batch_);
}

void outbound_queue::pop_back() {
  bytes_ -= frames_.back()->size() + 1;
  frames_.pop_back();
}

}  // namespace parley
