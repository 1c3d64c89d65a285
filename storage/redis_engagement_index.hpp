#pragma once
// The engagements in id order on Redis, for the engagement list's pages.
// `parley:engagements` is a set, which cannot be read a page at a time in
// order; so every engagement is also a member of a sorted set, all with score
// 0, which ZRANGEBYLEX reads in byte order from any id on, a page at a time.
//
// A Redis written before the sorted set existed holds only the set: the first
// page asked for copies the set into the sorted set (SSCAN, a batch at a
// time), then marks the copy done in Redis, so that no instance copies again.
// Pages wait for the copy; appends add to both from then on. Loop thread only.
#include "protocol/result.hpp"
#include "storage/engine.hpp"
#include "storage/redis_router.hpp"

#include <functional>
#include <string>
#include <vector>

namespace parley {

class redis_engagement_index {
 public:
  explicit redis_engagement_index(redis_router& cmd) : cmd_(cmd) {}

  // Lists the engagement `eng` (after an append to its main channel).
  void add(const std::string& eng);

  // The ids after `after` ("" from the start), at most `limit` (clamped to
  // 1..max_engagements_page).
  void page(const std::string& after, int limit, std::function<void(result<engagement_ids_page>)> done);

 private:
  // Runs `then` once the sorted set lists every engagement of the set.
  void when_complete(std::function<void(result<void>)> then);
  void copy_from(std::string cursor);
  void copied(result<void> outcome);

  redis_router& cmd_;
  bool complete_ = false;  // the copy is known to be done
  bool copying_ = false;
  std::vector<std::function<void(result<void>)>> waiting_;
};

}  // namespace parley
