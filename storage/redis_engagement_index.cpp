#include "storage/redis_engagement_index.hpp"

#include "storage/error_counts.hpp"
#include "storage/redis_keys.hpp"
#include "storage/redis_reply.hpp"

#include <algorithm>
#include <utility>

namespace parley {
namespace {

// Members copied per SSCAN step: each step is one bounded command pair.
constexpr const char* copy_batch = "500";

// The error of a command that failed or was answered with an error.
std::optional<error> failure_of(const result<redis_value>& r) {
  if (!r) return r.err();
  if (r->is_error()) return reply_error(r->str);
  return std::nullopt;
}

}  // namespace

void redis_engagement_index::add(const std::string& eng) {
  cmd_.command({"ZADD", std::string(engagement_index_key), "0", eng}, [](result<redis_value>) {});
}

void redis_engagement_index::page(const std::string& after, int limit,
                                  std::function<void(result<engagement_ids_page>)> done) {
  limit = std::clamp(limit, 1, max_engagements_page);
  when_complete([this, after, limit, done = std::move(done)](result<void> ready) {
    if (!ready) return done(ready.err());
    // "(" excludes `after` itself; "-" is the lowest member. One more than the
    // page says whether a next page exists.
    cmd_.command({"ZRANGEBYLEX", std::string(engagement_index_key), after.empty() ? "-" : "(" + after, "+", "LIMIT",
                  "0", std::to_string(limit + 1)},
                 [limit, done](result<redis_value> r) {
                   if (auto failed = failure_of(r)) return done(*failed);
                   if (!r->is_array()) return done(storage_fault("redis: unexpected engagement page"));
                   std::vector<std::string> ids;
                   for (const auto& item : r->elements) ids.push_back(item.str);
                   done(engagement_page_of(std::move(ids), limit));
                 });
  });
}

void redis_engagement_index::when_complete(std::function<void(result<void>)> then) {
  if (complete_) return then({});
  waiting_.push_back(std::move(then));
  if (copying_) return;
  copying_ = true;
  cmd_.command({"GET", std::string(engagement_index_done_key)}, [this](result<redis_value> r) {
    if (auto failed = failure_of(r)) return copied(*failed);
    if (r->is_string() && r->str == "1") return copied({});
    copy_from("0");
  });
}

// SSCAN may return a member twice; ZADD of a member already there changes nothing.
void redis_engagement_index::copy_from(std::string cursor) {
  cmd_.command({"SSCAN", std::string(engagements_key), cursor, "COUNT", copy_batch}, [this](result<redis_value> r) {
    if (auto failed = failure_of(r)) return copied(*failed);
    if (!r->is_array() || r->elements.size() != 2 || !r->elements[1].is_array())
      return copied(storage_fault("redis: unexpected SSCAN reply"));
    std::string next = r->elements[0].str;
    auto after_batch = [this, next](result<redis_value> added) {
      if (auto failed = failure_of(added)) return copied(*failed);
      if (next != "0") return copy_from(next);
      cmd_.command({"SET", std::string(engagement_index_done_key), "1"}, [this](result<redis_value> set) {
        if (auto failed = failure_of(set)) return copied(*failed);
        copied({});
      });
    };
    std::vector<std::string> zadd{"ZADD", std::string(engagement_index_key)};
    for (const auto& member : r->elements[1].elements) {
      zadd.push_back("0");
      zadd.push_back(member.str);
    }
    if (zadd.size() == 2) return after_batch(redis_value{});
    cmd_.command(zadd, after_batch);
  });
}

// A failed copy answers the pages waiting for it; the next page tries again.
void redis_engagement_index::copied(result<void> outcome) {
  copying_ = false;
  if (outcome) complete_ = true;
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& then : waiting) then(outcome);
}

}  // namespace parley
