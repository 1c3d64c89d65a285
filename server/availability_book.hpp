#pragma once
// What this instance knows of users' availability (protocol §9.3): a bounded
// cache of the stored records, refreshed whenever any instance announces a
// change (engine::publish_user_change) and otherwise read again once older
// than `max_age_ms`, so that a change whose announcement was lost (Redis
// pub/sub is at most once) is stale for at most that long. It also counts the
// connections of each user on this instance, to tell when the last one closed
// (last_seen).
//
// Thread-safe: sessions on every worker, HTTP handlers and storage threads call it.
#include "protocol/availability.hpp"
#include "protocol/user.hpp"
#include "storage/engine.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace parley {

// A user's availability as known here: `availability` null while never set.
struct known_availability {
  std::optional<availability> value;
  std::int64_t set_at = 0;
  std::int64_t last_seen = 0;
};

class availability_book {
 public:
  explicit availability_book(std::size_t max_known = 10'000, std::int64_t max_age_ms = 60'000);

  // The record of a user as stored (an unreadable availability counts as never set).
  static known_availability from_record(const user_record& r);

  // Remembers what storage said of `user_id` at `now_ms` (`nullopt`: nothing stored).
  void remember(const std::string& user_id, const std::optional<user_record>& r, std::int64_t now_ms);
  // What is known of `user_id`, however old: an old value is a better guess
  // than none (unknown_of has it read again).
  std::optional<known_availability> known(const std::string& user_id) const;
  // Of `user_ids`, those not known here or known for longer than max_age_ms
  // (at most max_user_lookup of them): the ones to read again.
  std::vector<std::string> unknown_of(const std::vector<std::string>& user_ids, std::int64_t now_ms) const;

  // `user_id` was last seen at `at_ms` (their last connection here closed).
  void seen(const std::string& user_id, std::int64_t at_ms);

  // A connection of `user_id` on this instance opened / closed; true when it was the last one.
  void connected(const std::string& user_id);
  bool disconnected(const std::string& user_id);

  std::size_t size() const;

 private:
  struct entry {
    known_availability value;
    std::int64_t fetched_ms = 0;
  };
  std::size_t max_known_;
  std::int64_t max_age_ms_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, entry> known_;
  std::unordered_map<std::string, int> connections_;
};

// The presence entry of a user (protocol §9.3): the user, `availability`
// (null when never set) and `last_seen` (ms; `now_ms` for a present user,
// null when never seen).
boost::json::object presence_entry_json(const user& who, const std::optional<known_availability>& known,
                                        std::optional<std::int64_t> present_at);

// A presence push whose users are presence entries (protocol §3, §9.3):
// `joined`, `left` and `updated` (the last only when it holds any).
std::string presence_push(std::string_view ch, boost::json::array joined, boost::json::array left,
                          boost::json::array updated);

}  // namespace parley
