#pragma once
// What a WebSocket connection has yet to write, bounded in bytes (protocol §3,
// §8): a plain data structure, no sockets, tested on its own. Each frame counts
// its bytes and one newline separator; the session asks it whether a push
// passes the limit, how much room a reply has, what to write next, and drops
// what was written or will never be.
#include <boost/asio/buffer.hpp>

#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace parley {

class outbound_queue {
 public:
  // Frames gathered into one write at most.
  static constexpr std::size_t max_batch = 512;

  explicit outbound_queue(std::size_t limit) : limit_(limit) {}

  // Appends `frame`; true when the queue is past its limit afterwards.
  bool push(std::shared_ptr<const std::string> frame);
  bool over_limit() const { return bytes_ > limit_; }
  // The bytes one more frame may take without taking the queue past its limit
  // (the frame's separator counts too).
  std::size_t room() const { return bytes_ + 1 < limit_ ? limit_ - bytes_ - 1 : 0; }

  // The next write: the oldest frames (at most max_batch), newline-separated,
  // as buffers over the queued strings. They stay valid, and the frames stay
  // queued, until written() or the next call.
  const std::vector<boost::asio::const_buffer>& next_write();
  // The frames of the last next_write() were written: they leave the queue.
  void written();
  // Drops every frame but those of a write under way.
  void drop_unsent();
  // Drops every frame: no write is under way.
  void clear();

  bool empty() const { return frames_.empty(); }
  std::size_t frames() const { return frames_.size(); }
  std::size_t bytes() const { return bytes_; }
  std::size_t in_flight() const { return in_flight_; }

 private:
  void pop_back();

  std::size_t limit_;
  std::deque<std::shared_ptr<const std::string>> frames_;
  std::size_t bytes_ = 0;
  std::size_t in_flight_ = 0;  // frames of the last next_write() not yet written
  std::vector<boost::asio::const_buffer> gather_;
};

}  // namespace parley
