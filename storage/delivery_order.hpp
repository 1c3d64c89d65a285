#pragma once
// The order in which one watched channel's events reach the sink in cluster
// mode: every event once, in seq order, without gaps, whatever order the
// pub/sub messages and the stream reads that fill gaps arrive in. Pure: the
// Redis engine does the I/O and asks this what to deliver and when to read.
#include "protocol/event.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace parley {

// A committed event as it travels: published live or read from the stream.
struct published {
  std::int64_t seq = 0;
  std::int64_t ts = 0;
  std::string epoch;
  std::shared_ptr<const std::string> json;
  std::shared_ptr<const parley::event> event;  // json parsed, handed on to the sink with it
};

class delivery_order {
 public:
  struct step {
    std::vector<published> deliver;  // to the sink, in this order
    bool read_needed = false;        // something is missing: read the stream after last()
  };

  // `max_waiting`: messages buffered past a gap at most. Past it the buffer
  // is dropped and reading the stream is asked for instead: the stream holds
  // every event, so nothing is lost, and memory stays bounded however far
  // the live messages run ahead of the reads.
  explicit delivery_order(std::size_t max_waiting = 10000) : max_waiting_(max_waiting < 1 ? 1 : max_waiting) {}

  // Known once the first read gave the channel's epoch and head.
  bool synced() const { return synced_; }
  const std::string& epoch() const { return epoch_; }
  std::int64_t last() const { return last_; }  // the last seq delivered
  bool waiting() const { return !waiting_.empty(); }

  // A live message. Before the start, or while a read is under way, it waits.
  step on_message(published p, bool reading);

  // A read of the stream completed: the first one starts the channel at its
  // head; later ones carry the events after last(). A changed epoch (Redis lost
  // the log) starts the channel again at seq 1 of the new log.
  step on_read(const std::string& epoch, std::int64_t head, std::vector<published> events);

 private:
  // Delivers what waits and is next in line; drops what is old or of another epoch.
  void drain(step& out);
  void deliver(published p, step& out);
  // Buffers a message past a gap, within max_waiting_.
  void wait_for_gap(published p);

  bool synced_ = false;
  std::string epoch_;
  std::int64_t last_ = 0;
  std::map<std::int64_t, published> waiting_;  // messages past a gap, by seq
  std::size_t max_waiting_;
  std::int64_t dropped_up_to_ = 0;  // the highest seq dropped from a full buffer: read up to it
};

}  // namespace parley
