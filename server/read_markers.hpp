#pragma once
// Read markers (the `read` op): the latest seq per (user, channel) is kept
// here and written to storage in batches, so that a client sending `read`
// at full speed costs one write per flush, not one per frame. Only a marker
// that moves forward is pushed to the channel's members.
//
// Thread-safe (sessions on every worker call it). Pure: no clock, no I/O of
// its own; the caller flushes on a timer and at stop, and `store` does the write.
#include "storage/engine.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace parley {

class read_markers {
 public:
  using store_fn = std::function<void(const std::string& user_id, const std::string& ch, std::int64_t seq)>;

  // `flush_at`: pending markers that trigger a flush at once.
  // `max_known`: markers remembered to tell a forward move from a repeat;
  // past it they are forgotten (the next marker of each is taken as new).
  explicit read_markers(store_fn store, std::size_t flush_at = 256, std::size_t max_known = 100'000);

  // Records user's marker on ch. True when it moved forward (push it to the
  // members); false for a repeated or lower seq, which is neither stored nor pushed.
  bool update(const std::string& user_id, const std::string& ch, std::int64_t seq);

  // Hands every pending marker to `store`, and forgets them.
  void flush();

  // The markers known here for `ch` (user id → seq): newer than storage
  // until their batch is written.
  std::vector<std::pair<std::string, std::int64_t>> known_on(const std::string& ch) const;

  std::size_t pending() const;
  std::size_t known() const;

 private:
  // A channel name holds no newline: "<ch>\n<user>" names one pair.
  static std::string key_of(const std::string& user_id, const std::string& ch) { return ch + '\n' + user_id; }

  store_fn store_;
  std::size_t flush_at_;
  std::size_t max_known_;
  mutable std::mutex mutex_;
  std::map<std::string, std::int64_t> latest_;  // ordered: a channel's markers are one range
  std::unordered_map<std::string, std::int64_t> pending_;
  std::mutex flush_mutex_;  // one flush at a time, so stores of one pair stay in order
};

// A channel's markers for a join: the stored ones raised by those known here,
// the `limit` highest, seq descending.
std::vector<read_marker> merge_read_markers(std::vector<read_marker> stored,
                                            const std::vector<std::pair<std::string, std::int64_t>>& known,
                                            std::size_t limit);

}  // namespace parley
