#include "protocol/engagement_list.hpp"

#include "protocol/channel.hpp"

namespace parley {
namespace {

// A query value, empty when absent.
std::string_view query_text(const http_target& t, const std::string& name) {
  auto it = t.query.find(name);
  return it == t.query.end() ? std::string_view() : std::string_view(it->second);
}

// The phase names for an error message, in phase order.
std::string phase_list() {
  std::string names;
  for (int p = 0; p <= static_cast<int>(engagement_phase::declined); ++p) {
    if (!names.empty()) names += ", ";
    names += phase_name(static_cast<engagement_phase>(p));
  }
  return names;
}

}  // namespace

result<engagement_list_query> parse_engagement_list_query(const http_target& t) {
  engagement_list_query q;
  auto limit = query_int(t, "limit", 1, max_engagement_list_limit);
  if (!limit) return limit.err();
  q.limit = static_cast<int>(limit->value_or(default_engagement_list_limit));

  // The cursor is an id as the list gives it: anything else (too long, other
  // characters) cannot be one and is refused before it reaches storage.
  auto after = query_text(t, "after");
  if (!after.empty() && !valid_engagement_id(after)) return make_error(errc::bad_request, "'after' must be an engagement id");
  q.after = std::string(after);

  if (auto phase = query_text(t, "phase"); !phase.empty()) {
    q.phase = parse_phase(phase);
    if (!q.phase) return make_error(errc::bad_request, "'phase' must be one of " + phase_list());
  }
  return q;
}

boost::json::object engagement_list_item(std::string_view id, const boost::json::object& state) {
  auto field = [&](std::string_view name) -> boost::json::value {
    const auto* v = state.if_contains(name);
    return v ? *v : boost::json::value(nullptr);
  };
  return boost::json::object{{"id", id},
                             {"title", field("title")},
                             {"phase", field("phase")},
                             {"phase_due", field("phase_due")},
                             {"open_flags", state.contains("open_flags") ? field("open_flags") : boost::json::array()},
                             {"owed_reply", field("owed_reply")}};
}

}  // namespace parley
