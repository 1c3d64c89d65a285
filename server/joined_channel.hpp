#pragma once
// A connection's cursor on one joined channel: which live events it passes on,
// buffers or skips (protocol §3, `join`). A plain data structure, no sockets, tested on
// its own. Until the join's read completes, live events wait, so that none
// falls between the read and the live stream; then the events after the read's
// head pass in order, and a gap means the connection missed some.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace parley {

class joined_channel {
 public:
  // What to do with a live event.
  enum class delivery {
    queue,   // the next one: send it
    buffer,  // kept until the join's read is done
    skip,    // the join's read already carried it
    gap,     // events were missed: the connection closes (4001)
  };

  struct buffered_event {
    std::int64_t seq;
    std::shared_ptr<const std::string> json;
  };

  // A join's read begins (a first join, or a join again): live events wait
  // from now on. `generation` tells the latest join from earlier ones.
  void start_join(std::uint64_t generation);
  std::uint64_t generation() const { return generation_; }
  // Live events pass (the latest join's read is done).
  bool ready() const { return ready_; }

  delivery deliver(std::int64_t seq, const std::shared_ptr<const std::string>& json);
  // The latest join's read saw the channel up to `head`: live events pass from
  // there on. Returns the events that waited meanwhile, oldest first, to be
  // delivered again.
  std::vector<buffered_event> read_done(std::int64_t head);

 private:
  std::int64_t last_seq_ = 0;
  bool ready_ = false;
  std::uint64_t generation_ = 0;
  std::vector<buffered_event> pending_;
};

}  // namespace parley
