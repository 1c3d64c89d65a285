#pragma once
// The signature of a webhook (protocol §9.8): `Parley-Signature:
// t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. The sender
// signs; a receiver (and `parley webhook-verify`) checks the header strictly,
// the MAC in constant time, and the timestamp against a tolerance, so that a
// recorded request cannot be replayed later. Several v1= may be present (a
// sender that signs with an old and a new secret while the receiver rotates);
// one match is enough. Pure: the time is passed in.
#include "protocol/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

// Five minutes either way: clocks drift, replays must not last.
constexpr std::int64_t default_webhook_tolerance_s = 300;
// A longer header is refused before it is parsed.
constexpr std::size_t max_webhook_signature_header = 1024;

// The value of Parley-Signature for `body` sent at `t` (Unix seconds).
std::string webhook_signature_header(std::string_view secret, std::int64_t t, std::string_view body);

struct webhook_signature {
  std::int64_t t = 0;
  std::vector<std::string> v1;  // each 64 lowercase hex digits
};

// Parses a header value: comma-separated name=value items without spaces;
// exactly one `t` (decimal digits), at least one `v1` (64 lowercase hex);
// items of other (lowercase alphanumeric) names are ignored, so a later
// scheme can be added beside v1. `bad_request` with the reason otherwise.
result<webhook_signature> parse_webhook_signature(std::string_view header);

// Whether `header` signs `body` with `secret` at a time within `tolerance_s`
// seconds of `now_s`: `bad_request` for a malformed header, `unauthorized`
// for a timestamp out of tolerance or a MAC that matches no v1.
result<void> verify_webhook_signature(std::string_view header, std::string_view body, std::string_view secret,
                                      std::int64_t now_s, std::int64_t tolerance_s = default_webhook_tolerance_s);

}  // namespace parley
