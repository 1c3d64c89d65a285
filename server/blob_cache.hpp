#pragma once
// Which downloaded blobs a read-through cache keeps: the most recently used,
// up to a total of bytes. A blob handed out (its path given to a download)
// less than `grace` ago is never evicted, so that the file is still there
// when the download opens it; past the grace the download has it open, and
// removing the path no longer disturbs it (POSIX). While every blob is that
// young the cache may exceed its bound for a moment.
//
// A plain data structure: no files, no clock of its own, no locking (the
// store uses it from one thread).
#include <chrono>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

namespace parley {

class blob_cache {
 public:
  using clock = std::chrono::steady_clock;

  blob_cache(std::uint64_t max_bytes, clock::duration grace) : max_bytes_(max_bytes), grace_(grace) {}

  bool contains(const std::string& sha256) const { return entries_.count(sha256) != 0; }

  // A hit: the blob becomes the most recently used, handed out at `now`.
  // False when the cache does not hold it.
  bool hand_out(const std::string& sha256, clock::time_point now);

  // A blob now in the cache, the most recently used. `handed_out`: its path
  // is being given to a download at `now`. Adding one already held only
  // refreshes it.
  void add(const std::string& sha256, std::uint64_t size, clock::time_point now, bool handed_out);

  // The blobs to remove to get back under the bound, least recently used
  // first; the cache forgets them.
  std::vector<std::string> evict(clock::time_point now);

  std::uint64_t bytes() const { return bytes_; }
  std::size_t count() const { return entries_.size(); }

 private:
  struct entry {
    std::string sha256;
    std::uint64_t size = 0;
    clock::time_point handed_out{};  // epoch: never handed out
  };

  std::uint64_t max_bytes_;
  clock::duration grace_;
  std::uint64_t bytes_ = 0;
  std::list<entry> order_;  // least recently used first
  std::unordered_map<std::string, std::list<entry>::iterator> entries_;
};

}  // namespace parley
