#pragma once
// What Redis answers, decoded: hiredis' reply tree copied into a value, the
// payload of a published event, and the read script's reply. Pure functions
// without I/O, so that a malformed or hostile reply is unit-tested and fuzzed:
// whatever Redis (or something impersonating it) sends, decoding gives an
// error, never a crash.
#include "storage/delivery_order.hpp"
#include "storage/engine.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct redisReply;

namespace parley {

// A reply, copied out of hiredis' redisReply.
struct redis_value {
  enum class kind { nil, integer, string, status, error, array };
  kind type = kind::nil;
  long long integer = 0;
  std::string str;  // string, status and error replies
  std::vector<redis_value> elements;

  bool is_error() const { return type == kind::error; }
  bool is_array() const { return type == kind::array; }
  bool is_string() const { return type == kind::string || type == kind::status; }
};

// Copies a hiredis reply tree (its nesting is bounded by hiredis' reader).
redis_value from_hiredis(const redisReply* r);

// A whole decimal int64 ("12", "-3"); nullopt for anything else.
std::optional<std::int64_t> decimal_int64(std::string_view text);

// A committed event as published: "<seq> <ts> <epoch> <json>".
std::optional<published> parse_published(std::string_view payload);

// The read script's reply: [epoch, head, id1, json1, id2, json2, ...], the
// events in stream order (`descending` for XREVRANGE; the result is always
// ascending). A malformed reply is an `internal` error.
result<channel_window> decode_read_reply(const redis_value& v, bool descending);

// A channel's read-marker hash (HGETALL: user, seq, user, seq, ...): the
// max_read_markers highest, seq descending. A malformed reply is `internal`.
result<std::vector<read_marker>> decode_read_markers(const redis_value& v);

}  // namespace parley
