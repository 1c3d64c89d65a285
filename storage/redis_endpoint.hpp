#pragma once
// Where Redis listens, from the URL the operator gives (PARLEY_REDIS_URL).
#include "protocol/result.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

// Where Redis listens. hiredis resolves host names with a blocking call, so
// only IP literals are accepted ("localhost" is taken as 127.0.0.1).
struct redis_endpoint {
  std::string host;  // an IPv4 or IPv6 literal
  int port = 6379;
  int db = 0;
  // Sent as AUTH before anything else on every connection: `AUTH user
  // password` (an ACL user, Redis 6+) or `AUTH password` without a user.
  std::string user;
  std::string password;
};

// Parses "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]". USER and PASSWORD are
// percent-decoded. HOST is an IPv4 literal, an IPv6 literal in brackets, or
// "localhost". `bad_request` with the reason for anything else (other
// schemes, a user without a password, host names, ports outside 1..65535,
// bad DBs); the reason never holds the password.
result<redis_endpoint> parse_redis_url(std::string_view url);

// "redis://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...][/DB]": the nodes
// of a Redis Cluster to ask for its map (the same credentials for each), or
// one server. Each host as parse_redis_url takes it; several need DB 0.
inline constexpr std::size_t max_redis_seeds = 64;
result<std::vector<redis_endpoint>> parse_redis_urls(std::string_view url);

// The URL with its password replaced by "***", for logs and messages.
std::string redact_redis_url(std::string_view url);

// True for 127.0.0.0/8 and ::1: a Redis there needs no credentials.
bool is_loopback_host(const std::string& host);

}  // namespace parley
