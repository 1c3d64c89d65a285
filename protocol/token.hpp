#pragma once
// JWT HS256 tokens (protocol §2). Verification pins the algorithm to HS256,
// compares signatures in constant time and enforces `exp` with a small skew.
#include "result.hpp"
#include "user.hpp"

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

struct claims {
  user who;
  std::vector<std::string> engagements;  // ids, or the single entry "*"
  std::int64_t exp = 0;                   // seconds since epoch

  bool all_engagements() const;
  bool may_access(std::string_view engagement_id) const;
};

// Verifies signature, header (alg must be HS256, typ JWT if present) and claims.
// Errors are `unauthorized` with a message naming what is wrong
// ("token expired", "bad signature", "unsupported alg", "malformed token", "bad claims: ...").
result<claims> verify_token(std::string_view token, std::string_view secret, std::int64_t now_seconds,
                            std::int64_t clock_skew_seconds = 30);

// Signs a claims object as header.payload.signature (HS256). Used for demo and test tokens.
std::string sign_token(const boost::json::object& claims_json, std::string_view secret);

// Convenience for demo tokens: builds the claims object and signs it.
std::string make_token(const user& who, const std::vector<std::string>& engagements, std::int64_t exp,
                       std::string_view secret);

}  // namespace parley
