#include "protocol/proposal_expiry.hpp"

#include "protocol/engagement_detail.hpp"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

namespace parley {
using detail::make_event;

namespace {

// ts + ttl, saturating: a TTL of years must not wrap into the past.
std::int64_t expires_at(std::int64_t ts, std::int64_t ttl_ms) {
  if (ts > std::numeric_limits<std::int64_t>::max() - ttl_ms) return std::numeric_limits<std::int64_t>::max();
  return ts + ttl_ms;
}

}  // namespace

std::optional<std::int64_t> next_expiry(const engagement_state& s, std::int64_t ttl_ms) {
  std::optional<std::int64_t> earliest;
  for (const auto& [key, pr] : s.proposals) {
    auto at = expires_at(pr->ts, ttl_ms);
    if (!earliest || at < *earliest) earliest = at;
  }
  return earliest;
}

std::vector<proposal_expiry> due_expiries(const engagement_state& s, std::int64_t ttl_ms, std::int64_t now_ms) {
  std::vector<const engagement_proposal*> due;
  for (const auto& [key, pr] : s.proposals) {
    if (expires_at(pr->ts, ttl_ms) <= now_ms) due.push_back(pr.get());
  }
  std::sort(due.begin(), due.end(), [](const auto* a, const auto* b) {
    return std::make_pair(a->ts, a->seq) < std::make_pair(b->ts, b->seq);
  });
  std::vector<proposal_expiry> out;
  out.reserve(due.size());
  for (const auto* pr : due) {
    proposal_expiry x;
    x.events.push_back(make_event(pr->ch, "proposal_expired", system_user(), boost::json::object{{"proposal", pr->seq}},
                                  "proposal_expired:" + std::to_string(pr->seq)));
    if (pr->topic == "invitation" && s.phase == engagement_phase::invited) {
      x.events.push_back(make_event(channel::main(s.eng), "phase", system_user(),
                                    boost::json::object{{"from", phase_name(engagement_phase::invited)},
                                                        {"to", phase_name(engagement_phase::declined)}}));
    }
    out.push_back(std::move(x));
  }
  return out;
}

}  // namespace parley
