#pragma once
// Strict JSON input shared by frames, HTTP bodies, tokens and stored events:
// simdjson does the parsing and UTF-8 validation, Boost.JSON holds the result.
// Internal to protocol/.
#include "protocol/result.hpp"

#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace parley::detail {

// Shorthands for the refusals protocol/ writes most often (frames, bodies,
// access, engagement rules), so each check reads as its message.
inline error bad_request(std::string message) { return make_error(errc::bad_request, std::move(message)); }
inline error forbidden(std::string message) { return make_error(errc::forbidden, std::move(message)); }
inline error not_found(std::string message) { return make_error(errc::not_found, std::move(message)); }
inline error conflict(std::string message) { return make_error(errc::conflict, std::move(message)); }
inline error too_large(std::string message) { return make_error(errc::too_large, std::move(message)); }

// An IANA zone name's shape ("Europe/Berlin", "America/Argentina/Buenos_Aires",
// "Etc/GMT+5", "UTC"): '/'-separated parts of letters, digits, '_', '+', '-',
// each starting with a letter. Whether the zone exists is the reader's affair.
bool is_time_zone_name(std::string_view tz);

struct json_input_error {
  error err;             // bad_request
  bool garbage = false;  // not JSON at all (syntax, truncation, trailing content, bad UTF-8)
};

// Parses exactly one JSON value (only whitespace may follow it) and converts it
// to Boost.JSON: integers stay int64 (uint64 above INT64_MAX), other numbers
// become double. Refuses duplicate keys at any level and nesting deeper than
// `max_depth` (each object or array is one level; the root container is level 1).
// When the root is an object holding an integer "id" exactly once, it is stored
// in *top_level_id before anything else is checked, so that an error reply can
// still carry the request id.
std::variant<boost::json::value, json_input_error> parse_strict_json(
    std::string_view text, int max_depth, std::optional<std::int64_t>* top_level_id = nullptr);

// I-JSON (RFC 7493 §2.2): integers within ±(2^53 − 1), the range that every
// JSON reader (JavaScript's first of all) holds exactly, so that a value means
// the same to the server, to a client and to whoever checks a record's hash.
inline constexpr std::int64_t max_exact_integer = (std::int64_t{1} << 53) - 1;

// The first number in `v` that I-JSON does not allow (an integer beyond
// ±max_exact_integer, or a non-finite double): bad_request naming it.
result<void> check_i_json_numbers(const boost::json::value& v);

// Unicode code points in valid UTF-8 (what the protocol calls "characters").
std::size_t count_code_points(std::string_view utf8);

// A name taken from client input, shortened for an error message without
// splitting a UTF-8 sequence (the message is echoed back to the client).
std::string display_name(std::string_view name);

}  // namespace parley::detail
