#pragma once
// JWT HS256 tokens (protocol §2). Verification pins the algorithm to HS256,
// compares signatures in constant time and enforces `exp` with a small skew.
#include "protocol/result.hpp"
#include "protocol/user.hpp"

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

struct claims {
  user who;
  std::vector<std::string> engagements;  // ids, or the single entry "*"
  std::int64_t exp = 0;                   // seconds since epoch
  std::optional<std::int64_t> iat;        // seconds since epoch, when the token says

  bool all_engagements() const;
  bool may_access(std::string_view engagement_id) const;
};

// What a deployment requires of tokens beyond the signature and `exp`.
struct token_policy {
  std::string audience;  // when set, `aud` must be (or list) it
  std::string issuer;    // when set, `iss` must be it
  // The longest lifetime accepted: exp - iat, or exp - now for a token without iat.
  std::int64_t max_lifetime_seconds = 30 * 24 * 3600;
  std::int64_t clock_skew_seconds = 30;
};

// At most this many engagement ids in `eng`.
inline constexpr std::size_t max_token_engagements = 500;

// Verifies signature, header (alg must be HS256, typ JWT if present) and claims.
// Errors are `unauthorized` with a message naming what is wrong
// ("token expired", "bad signature", "unsupported alg", "malformed token", "bad claims: ...").
result<claims> verify_token(std::string_view token, std::string_view secret, std::int64_t now_seconds,
                            const token_policy& policy = {});

// Signs a claims object as header.payload.signature (HS256). Used for demo and test tokens.
std::string sign_token(const boost::json::object& claims_json, std::string_view secret);

// Convenience for demo tokens: builds the claims object and signs it.
std::string make_token(const user& who, const std::vector<std::string>& engagements, std::int64_t exp,
                       std::string_view secret);

}  // namespace parley
