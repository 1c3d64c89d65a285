#pragma once
// Persisted events (protocol §3 "Events") and the ephemeral pushes.
#include "protocol/result.hpp"
#include "protocol/user.hpp"

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

struct event {
  std::string ch;
  std::int64_t seq = 0;  // assigned by the engine
  std::string kind;
  user from;
  std::int64_t ts = 0;  // ms since epoch, assigned by the engine
  std::string cid;      // empty when the client gave none
  boost::json::object body;
};

// {"ev":"event","ch":..,"seq":..,"kind":..,"from":{..},"ts":..,"cid":..,"body":{..}}
// `cid` is omitted when empty. Never contains a raw newline.
std::string serialize_event(const event& ev);
// Parses what serialize_event wrote (stored events). `internal` on anything else.
result<event> parse_event(std::string_view json);

// Ephemeral pushes: no seq, never stored.
std::string presence_frame(std::string_view ch, const std::vector<user>& joined, const std::vector<user>& left);
std::string typing_frame(std::string_view ch, const user& who);
std::string read_frame(std::string_view ch, const user& who, std::int64_t seq);

}  // namespace parley
