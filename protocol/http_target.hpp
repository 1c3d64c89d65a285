#pragma once
// The request target of the HTTP API (protocol §7): path and query split,
// percent-decoding, integer query parameters and path parameters. Pure, so
// that the router's handling of hostile targets is unit-tested and fuzzed.
#include "protocol/result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace parley {

struct http_target {
  std::string path;  // as sent, not decoded
  std::unordered_map<std::string, std::string> query;  // decoded; the last of repeated keys wins
};

// %XX sequences to bytes; nullopt for a truncated or non-hex sequence.
std::optional<std::string> percent_decode(std::string_view s);

// Splits "path?k=v&k2=v2"; nullopt when a query key or value is malformed.
std::optional<http_target> split_target(std::string_view target);

// A query parameter that must be an integer in [min, max]: nullopt when absent
// or empty, `bad_request` when malformed or out of range.
result<std::optional<std::int64_t>> query_int(const http_target& t, const std::string& name, std::int64_t min,
                                              std::int64_t max);

// The part of `path` between `prefix` and `suffix` ("/api/v1/channels/" x
// "/events"), or nullopt when the path is not of that form. The two never
// overlap: "/api/v1/channels/events" has no middle.
std::optional<std::string_view> path_middle(std::string_view path, std::string_view prefix, std::string_view suffix);

}  // namespace parley
