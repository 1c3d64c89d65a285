#include "protocol/token.hpp"

#include "protocol/base64url.hpp"
#include "protocol/channel.hpp"
#include "protocol/hex.hpp"
#include "protocol/json_input.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <algorithm>
#include <array>
#include <limits>

namespace parley {
namespace {

using boost::json::object;
using boost::json::value;

constexpr std::size_t max_sub_chars = 128;
constexpr std::size_t max_name_chars = 128;
// Claims and headers are flat; a little nesting is tolerated, deep nesting is not a token.
constexpr int max_token_depth = 4;

error unauthorized(std::string message) { return make_error(errc::unauthorized, std::move(message)); }
error bad_claims(std::string what) { return unauthorized("bad claims: " + what); }

std::optional<object> decode_json_part(std::string_view part) {
  auto raw = base64url_decode(part);
  if (!raw) return std::nullopt;
  auto parsed = detail::parse_strict_json(*raw, max_token_depth);
  auto* v = std::get_if<value>(&parsed);
  if (!v || !v->is_object()) return std::nullopt;
  return std::move(v->get_object());
}

result<void> check_header(const object& header) {
  const value* alg = header.if_contains("alg");
  // The algorithm is pinned: "none", HS512, RS256 and friends are all refused,
  // which closes the classic algorithm-confusion attacks.
  if (!alg || !alg->is_string() || alg->get_string() != "HS256") return unauthorized("unsupported alg");
  if (const value* typ = header.if_contains("typ")) {
    if (!typ->is_string()) return unauthorized("malformed token");
    std::string_view t = typ->get_string();
    if (t.size() != 3 || (t[0] | 0x20) != 'j' || (t[1] | 0x20) != 'w' || (t[2] | 0x20) != 't') {
      return unauthorized("unsupported typ");
    }
  }
  // RFC 7515 §4.1.11: a "crit" extension we do not understand must be refused.
  if (header.contains("crit")) return unauthorized("unsupported crit header");
  return {};
}

result<claims> read_claims(const object& payload) {
  claims c;

  const value* sub = payload.if_contains("sub");
  if (!sub || !sub->is_string()) return bad_claims("sub must be a string");
  std::size_t sub_chars = detail::count_code_points(sub->get_string());
  if (sub_chars < 1 || sub_chars > max_sub_chars) return bad_claims("sub must be 1-128 characters");
  c.who.id = std::string(sub->get_string());
  // The server's own events are stored under this id; a token using it could
  // pre-empt their idempotency keys.
  if (c.who.id == system_user().id) return bad_claims("sub '" + c.who.id + "' is reserved for the server");

  const value* role = payload.if_contains("role");
  if (!role || !role->is_string()) return bad_claims("role must be a string");
  auto parsed_role = parse_role(role->get_string());
  if (!parsed_role) return bad_claims("unknown role " + detail::display_name(role->get_string()));
  c.who.role = *parsed_role;

  if (const value* name = payload.if_contains("name"); name && !name->is_null()) {
    if (!name->is_string()) return bad_claims("name must be a string");
    if (detail::count_code_points(name->get_string()) > max_name_chars) {
      return bad_claims("name exceeds 128 characters");
    }
    c.who.name = std::string(name->get_string());
  }

  // A token without `eng` reaches no engagement (support may still read `support`).
  if (const value* eng = payload.if_contains("eng")) {
    if (!eng->is_array()) return bad_claims("eng must be an array");
    if (eng->get_array().size() > max_token_engagements)
      return bad_claims("eng holds more than " + std::to_string(max_token_engagements) + " entries");
    for (const value& item : eng->get_array()) {
      if (!item.is_string()) return bad_claims("eng must hold strings");
      std::string_view id = item.get_string();
      if (id != "*" && !valid_engagement_id(id)) return bad_claims("invalid engagement id in eng");
      c.engagements.emplace_back(id);
    }
    const bool has_star = std::find(c.engagements.begin(), c.engagements.end(), "*") != c.engagements.end();
    if (has_star && c.engagements.size() != 1) return bad_claims("\"*\" must be the only entry of eng");
    if (has_star && c.who.role != user_role::support && c.who.role != user_role::service) {
      return bad_claims("only support and service tokens may hold \"*\"");
    }
  }

  const value* exp = payload.if_contains("exp");
  if (!exp || !exp->is_int64()) return bad_claims("exp must be an integer");
  c.exp = exp->get_int64();
  if (const value* iat = payload.if_contains("iat")) {
    if (!iat->is_int64()) return bad_claims("iat must be an integer");
    c.iat = iat->get_int64();
  }
  if (const value* nbf = payload.if_contains("nbf"); nbf && !nbf->is_int64()) return bad_claims("nbf must be an integer");
  return c;
}

// a < b - skew, without overflow at the ends of the int64 range.
bool before_with_skew(std::int64_t a, std::int64_t b, std::int64_t skew) {
  if (b < std::numeric_limits<std::int64_t>::min() + skew) return false;
  return a < b - skew;
}


// RFC 7519 §4.1.3: `aud` is one string or an array of strings.
bool audience_matches(const value* aud, std::string_view wanted) {
  if (!aud) return false;
  if (aud->is_string()) return aud->get_string() == wanted;
  if (!aud->is_array()) return false;
  const auto& list = aud->get_array();
  return std::any_of(list.begin(), list.end(), [&](const value& v) { return v.is_string() && v.get_string() == wanted; });
}

result<void> check_policy(const object& payload, const claims& c, const token_policy& policy,
                          std::int64_t now_seconds) {
  const std::int64_t skew = std::max<std::int64_t>(policy.clock_skew_seconds, 0);
  if (!policy.audience.empty() && !audience_matches(payload.if_contains("aud"), policy.audience))
    return bad_claims("aud does not name this server");
  if (!policy.issuer.empty()) {
    const value* iss = payload.if_contains("iss");
    if (!iss || !iss->is_string() || iss->get_string() != policy.issuer) return bad_claims("iss is not the expected issuer");
  }
  if (c.iat && before_with_skew(now_seconds, *c.iat, skew)) return bad_claims("iat is in the future");
  // Lifetimes are compared in 128 bits: exp and iat may be anywhere in int64.
  const __int128 issued = c.iat ? *c.iat : now_seconds;
  if (static_cast<__int128>(c.exp) - issued > policy.max_lifetime_seconds)
    return bad_claims("token lifetime exceeds " + std::to_string(policy.max_lifetime_seconds) + " seconds");
  return {};
}

}  // namespace

bool claims::all_engagements() const { return engagements.size() == 1 && engagements.front() == "*"; }

bool claims::may_access(std::string_view engagement_id) const {
  if (all_engagements()) return true;
  return std::find(engagements.begin(), engagements.end(), engagement_id) != engagements.end();
}

result<claims> verify_token(std::string_view token, std::string_view secret, std::int64_t now_seconds,
                            const token_policy& policy) {
  const std::int64_t skew = std::max<std::int64_t>(policy.clock_skew_seconds, 0);

  const auto dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return unauthorized("malformed token");
  const auto dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return unauthorized("malformed token");
  }
  const std::string_view header_part = token.substr(0, dot1);
  const std::string_view payload_part = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_part = token.substr(dot2 + 1);

  auto header = decode_json_part(header_part);
  if (!header) return unauthorized("malformed token");
  if (auto header_ok = check_header(*header); !header_ok) return header_ok.err();

  // The signature is checked before the payload is even decoded: nothing
  // unauthenticated is interpreted beyond the header.
  auto signature = base64url_decode(signature_part);
  if (!signature) return unauthorized("malformed token");
  const std::string expected = hmac_sha256(secret, token.substr(0, dot2));
  if (expected.empty()) return make_error(errc::internal, "HMAC failed");
  if (signature->size() != expected.size() ||
      CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0) {
    return unauthorized("bad signature");
  }

  auto payload = decode_json_part(payload_part);
  if (!payload) return unauthorized("malformed token");
  auto c = read_claims(*payload);
  if (!c) return c;
  if (before_with_skew(c->exp, now_seconds, skew)) return unauthorized("token expired");
  if (const value* nbf = payload->if_contains("nbf"); nbf && nbf->is_int64()) {
    if (before_with_skew(now_seconds, nbf->get_int64(), skew)) return unauthorized("token not yet valid");
  }
  if (auto allowed = check_policy(*payload, *c, policy, now_seconds); !allowed) return allowed.err();
  return c;
}

std::string sign_token(const boost::json::object& claims_json, std::string_view secret) {
  static const std::string header = base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
  std::string signing_input = header;
  signing_input += '.';
  signing_input += base64url_encode(boost::json::serialize(claims_json));
  const std::string mac = hmac_sha256(secret, signing_input);
  signing_input += '.';
  signing_input += base64url_encode(mac);
  return signing_input;
}

std::string make_token(const user& who, const std::vector<std::string>& engagements, std::int64_t exp,
                       std::string_view secret) {
  object c;
  c.emplace("sub", who.id);
  if (!who.name.empty()) c.emplace("name", who.name);
  c.emplace("role", role_name(who.role));
  boost::json::array eng;
  for (const auto& e : engagements) eng.emplace_back(e);
  c.emplace("eng", std::move(eng));
  c.emplace("exp", exp);
  return sign_token(c, secret);
}

}  // namespace parley
