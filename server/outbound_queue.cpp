#include "server/outbound_queue.hpp"

namespace parley {

bool outbound_queue::push(std::shared_ptr<const std::string> frame) {
  bytes_ += frame->size() + 1;
  frames_.push_back(std::move(frame));
  return over_limit();
}

// Everything queued leaves as one frame, newline-separated, in one gathered
// write of the shared buffers (protocol §3): batching, not parsing, decides throughput.
const std::vector<boost::asio::const_buffer>& outbound_queue::next_write() {
  static const char newline = '\n';
  gather_.clear();
  in_flight_ = 0;
  for (const auto& frame : frames_) {
    if (in_flight_ > 0) gather_.push_back(boost::asio::buffer(&newline, 1));
    gather_.push_back(boost::asio::buffer(*frame));
    if (++in_flight_ == max_batch) break;
  }
  return gather_;
}

void outbound_queue::written() {
  for (std::size_t i = 0; i < in_flight_ && !frames_.empty(); ++i) {
    bytes_ -= frames_.front()->size() + 1;
    frames_.pop_front();
  }
  in_flight_ = 0;
}

void outbound_queue::drop_unsent() {
  while (frames_.size() > in_flight_) pop_back();
}

void outbound_queue::clear() {
  while (!frames_.empty()) pop_back();
  in_flight_ = 0;
}

void outbound_queue::pop_back() {
  bytes_ -= frames_.back()->size() + 1;
  frames_.pop_back();
}

}  // namespace parley
