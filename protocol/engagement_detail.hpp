#pragma once
// What the three parts of the engagement state machine share: engagement.cpp
// (the state and its reading), engagement_rules.cpp (what a post may do) and
// engagement_apply.cpp (folding committed events); the error shorthands come
// from json_input.hpp. Internal to protocol/.
#include "protocol/engagement.hpp"
#include "protocol/json_input.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::detail {

inline std::optional<std::string_view> string_field(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_string());
}

inline std::optional<std::int64_t> int_field(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v->get_uint64());
  }
  return std::nullopt;
}

inline const boost::json::object& object_field(const boost::json::object& o, std::string_view key) {
  static const boost::json::object empty;
  const auto* v = o.if_contains(key);
  return v && v->is_object() ? v->get_object() : empty;
}

inline event make_event(std::string ch, std::string kind, user from, boost::json::object body, std::string cid = {}) {
  event ev;
  ev.ch = std::move(ch);
  ev.kind = std::move(kind);
  ev.from = std::move(from);
  ev.cid = std::move(cid);
  ev.body = std::move(body);
  return ev;
}

inline boost::json::array ids_json(const std::vector<std::string>& ids) {
  boost::json::array a;
  for (const auto& id : ids) a.emplace_back(id);
  return a;
}

}  // namespace parley::detail
