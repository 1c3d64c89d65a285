#include "server/availability_book.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace parley {

availability_book::availability_book(std::size_t max_known, std::int64_t max_age_ms)
    : max_known_(max_known < 1 ? 1 : max_known), max_age_ms_(max_age_ms) {}

known_availability availability_book::from_record(const user_record& r) {
  known_availability k;
  k.set_at = r.set_at;
  k.last_seen = r.last_seen;
  if (!r.availability.empty()) {
    if (auto a = parse_availability_text(r.availability)) k.value = std::move(*a);
  }
  return k;
}

void availability_book::remember(const std::string& user_id, const std::optional<user_record>& r, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  // Bounded memory: forgetting costs one more lookup per user.
  if (known_.size() >= max_known_ && !known_.count(user_id)) known_.clear();
  known_[user_id] = entry{r ? from_record(*r) : known_availability{}, now_ms};
}

std::optional<known_availability> availability_book::known(const std::string& user_id) const {
  std::lock_guard lock(mutex_);
  auto it = known_.find(user_id);
  if (it == known_.end()) return std::nullopt;
  return it->second.value;
}

std::vector<std::string> availability_book::unknown_of(const std::vector<std::string>& user_ids,
                                                       std::int64_t now_ms) const {
  std::vector<std::string> out;
  std::lock_guard lock(mutex_);
  for (const auto& id : user_ids) {
    if (out.size() >= max_user_lookup) break;
    auto it = known_.find(id);
    if (it == known_.end() || now_ms - it->second.fetched_ms > max_age_ms_) out.push_back(id);
  }
  return out;
}

void availability_book::seen(const std::string& user_id, std::int64_t at_ms) {
  std::lock_guard lock(mutex_);
  if (auto it = known_.find(user_id); it != known_.end() && it->second.value.last_seen < at_ms)
    it->second.value.last_seen = at_ms;
}

void availability_book::connected(const std::string& user_id) {
  std::lock_guard lock(mutex_);
  ++connections_[user_id];
}

bool availability_book::disconnected(const std::string& user_id) {
  std::lock_guard lock(mutex_);
  auto it = connections_.find(user_id);
  if (it == connections_.end()) return false;
  if (--it->second > 0) return false;
  connections_.erase(it);
  return true;
}

std::size_t availability_book::size() const {
  std::lock_guard lock(mutex_);
  return known_.size();
}

boost::json::object presence_entry_json(const user& who, const std::optional<known_availability>& known,
                                        std::optional<std::int64_t> present_at) {
  auto o = user_json(who);
  if (known && known->value) {
    o["availability"] = availability_json(*known->value);
  } else {
    o["availability"] = nullptr;
  }
  if (present_at) {
    o["last_seen"] = *present_at;
  } else if (known && known->last_seen > 0) {
    o["last_seen"] = known->last_seen;
  } else {
    o["last_seen"] = nullptr;
  }
  return o;
}

std::string presence_push(std::string_view ch, boost::json::array joined, boost::json::array left,
                          boost::json::array updated) {
  boost::json::object o;
  o.reserve(5);
  o.emplace("ev", "presence");
  o.emplace("ch", ch);
  o.emplace("joined", std::move(joined));
  o.emplace("left", std::move(left));
  if (!updated.empty()) o.emplace("updated", std::move(updated));
  return boost::json::serialize(o);
}

}  // namespace parley
