#pragma once
// What a WebSocket connection has yet to write, bounded in bytes (protocol §3,
// §8): a plain data structure, no sockets, tested on its own. Each frame counts
// its bytes and one newline separator; the session asks it whether a push
// passes the limit, how much room a reply has, what to write next, and drops
// what was written or will never be.
//
// A write is one contiguous buffer, sent as one WebSocket frame: a lone frame
// is the shared string itself; several are copied into one batch. Handing the
// stream many small buffers instead makes it walk and copy the buffer list for
// every fragment it sends, a cost that grows with the square of the batch.
#include <boost/asio/buffer.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace parley {

class outbound_queue {
 public:
  // Frames gathered into one write at most, and the bytes a batch is filled
  // to (a single larger frame is written alone, uncopied).
  static constexpr std::size_t max_batch = 512;
  static constexpr std::size_t max_batch_bytes = 64 * 1024;
  // Slots an emptied queue keeps allocated.
  static constexpr std::size_t kept_slots = 16;

  explicit outbound_queue(std::size_t limit) : limit_(limit) {}

  // Appends `frame`; true when the queue is past its limit afterwards.
  bool push(std::shared_ptr<const std::string> frame);
  bool over_limit() const { return bytes_ > limit_; }
  // The bytes one more frame may take without taking the queue past its limit
  // (the frame's separator counts too).
  std::size_t room() const { return bytes_ + 1 < limit_ ? limit_ - bytes_ - 1 : 0; }

  // The next write: the oldest frames (at most max_batch, and no more than
  // max_batch_bytes unless the first alone is larger), newline-separated, as
  // one buffer. It stays valid, and the frames stay queued, until written()
  // or the next call.
  boost::asio::const_buffer next_write();
  // The frames of the last next_write() were written: they leave the queue.
  // The batch's memory goes once nothing is left to send, so an idle
  // connection holds none.
  void written();
  // Drops every frame but those of a write under way.
  void drop_unsent();
  // Drops every frame: no write is under way.
  void clear();

  bool empty() const { return head_ == frames_.size(); }
  std::size_t frames() const { return frames_.size() - head_; }
  std::size_t bytes() const { return bytes_; }
  std::size_t in_flight() const { return in_flight_; }

 private:
  void pop_back();
  const std::string& at(std::size_t i) const { return *frames_[head_ + i]; }

  std::size_t limit_;
  // The queued frames are frames_[head_..]: a vector read from the front
  // rather than a deque, which allocates its map and a block while empty.
  std::vector<std::shared_ptr<const std::string>> frames_;
  std::size_t head_ = 0;
  std::size_t bytes_ = 0;
  std::size_t in_flight_ = 0;  // frames of the last next_write() not yet written
  std::string batch_;           // the copy of a write of several frames
};

}  // namespace parley
