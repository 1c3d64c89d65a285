#pragma once
// The shared engine: Redis streams, Lua scripts and PUB/SUB (DESIGN §2), for
// several Parley instances on one Redis. Same semantics as local_engine.
#include "protocol/result.hpp"
#include "protocol/signing.hpp"
#include "storage/engine.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace parley {

// Where Redis listens. hiredis resolves host names with a blocking call, so
// only IP literals are accepted ("localhost" is taken as 127.0.0.1).
struct redis_endpoint {
  std::string host;  // an IPv4 or IPv6 literal
  int port = 6379;
  int db = 0;
};

// Parses "redis://HOST[:PORT][/DB]". HOST is an IPv4 literal, an IPv6 literal
// in brackets, or "localhost". `bad_request` with the reason for anything else
// (other schemes, credentials, host names, ports outside 1..65535, bad DBs).
result<redis_endpoint> parse_redis_url(std::string_view url);

struct redis_engine_options {
  std::string url = "redis://127.0.0.1:6379";
  // This process's name among the instances (its probe channel is named after it).
  std::string instance = "parley";
  // A command without a reply after this long fails with `unavailable`.
  std::chrono::milliseconds command_timeout{3000};
  // How often the subscribe connection is checked by publishing a probe to
  // itself; a probe not back within command_timeout drops that connection.
  std::chrono::milliseconds probe_interval{1000};
  // Signs every decision record (protocol §9.11); null: records carry no kid/sig.
  std::shared_ptr<const ed25519_key> signer;
};

// Throws std::runtime_error at start-up for a bad URL. Connecting is not
// waited for: ready() is false until the command connection is up, and the
// engine reconnects by itself whenever Redis goes away.
std::unique_ptr<engine> make_redis_engine(const redis_engine_options& options);

}  // namespace parley
