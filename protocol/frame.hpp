#pragma once
// Client frames (protocol §3 "Requests"), parsed strictly: exactly one JSON
// object, nothing after it, nesting at most `max_depth`, duplicate keys and
// unknown fields refused, every field type-checked.
#include "protocol/result.hpp"

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace parley {

enum class op { hello, join, leave, post, history, typing, read, decisions, availability };
std::string_view op_name(op o);

struct client_frame {
  parley::op op = op::hello;
  std::optional<std::int64_t> id;  // required for every op but `typing`
  std::string token;               // hello
  std::string ch;                  // join, leave, post, history, typing, read (syntax not yet checked)
  std::string kind;                // post
  boost::json::object body;        // post (validated later by validate_body); availability: the
                                   // fields other than id and op (validated by parse_availability)
  std::string cid;                 // post, optional, 1–128 chars
  std::optional<std::int64_t> since;   // join
  std::string epoch;                   // join, optional
  std::optional<std::int64_t> limit;   // join, history: 1–500; decisions: 1–1000
  std::optional<std::int64_t> before;  // history
  std::optional<std::int64_t> after;   // history, decisions (the record n to page on from)
  std::int64_t seq = 0;                // read
  std::string eng;                     // decisions
};

struct frame_error {
  std::optional<std::int64_t> id;  // the request id when it could be read, so the reply can carry it
  error err;                       // bad_request (or too_large for an oversize field)
  bool garbage = false;            // not a JSON object at all: counts toward closing with 4008
};

constexpr int max_frame_depth = 8;

// Parses one text frame. The returned object owns its data.
std::variant<client_frame, frame_error> parse_client_frame(std::string_view text);

// Parses a JSON request body of the HTTP API ({kind, body, cid?}) with the same strictness.
struct http_post {
  std::string kind;
  boost::json::object body;
  std::string cid;
};
result<http_post> parse_http_post(std::string_view text);

// Checks and normalises a post body for `kind` (protocol §3 kinds table):
// returns the body holding exactly the known fields. Text lengths are counted
// in Unicode code points. Kinds not supported are `bad_request`.
result<boost::json::object> validate_body(std::string_view kind, const boost::json::object& body);

}  // namespace parley
