#pragma once
// The engagement list of support staff and services (protocol §9.1,
// GET /api/v1/engagements?phase=&after=&limit=): its query, checked before
// anything is read, and one engagement's item taken from its state. Pure.
#include "protocol/engagement.hpp"
#include "protocol/http_target.hpp"
#include "protocol/result.hpp"

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace parley {

// Engagements per page when `limit` is not given, and at most.
constexpr int default_engagement_list_limit = 50;
constexpr int max_engagement_list_limit = 1000;

struct engagement_list_query {
  std::optional<engagement_phase> phase;  // only engagements in this phase
  std::string after;                      // the page starts after this id ("": at the first)
  int limit = default_engagement_list_limit;
};

// `bad_request` for a `limit` outside 1..max_engagement_list_limit or not a
// number, an `after` that is no engagement id, or a `phase` that names none.
// An empty value counts as absent.
result<engagement_list_query> parse_engagement_list_query(const http_target& t);

// {id, title, phase, phase_due, open_flags, owed_reply} of engagement `id`
// from its §4 state object (open_flags as the state lists them; title null
// while the state has none).
boost::json::object engagement_list_item(std::string_view id, const boost::json::object& state);

}  // namespace parley
