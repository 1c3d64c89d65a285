#include "protocol/token.hpp"

#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/json.hpp>

using namespace parley;
namespace json = boost::json;

namespace {

constexpr std::string_view secret = "test-secret";
constexpr std::int64_t now = 1'764'122'400;

// An independent encoder, so the tests do not trust the code under test.
std::string b64url(std::string_view in) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned buf = 0;
  int bits = 0;
  for (unsigned char c : in) {
    buf = (buf << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += abc[(buf >> bits) & 63];
    }
  }
  if (bits > 0) out += abc[(buf << (6 - bits)) & 63];
  return out;
}

std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       mac, &len);
  return std::string(reinterpret_cast<char*>(mac), len);
}

// A token with any header and payload text, correctly signed with HMAC-SHA256.
std::string forge(std::string_view header, std::string_view payload, std::string_view key = secret,
                  const EVP_MD* md = EVP_sha256()) {
  std::string input = b64url(header) + "." + b64url(payload);
  return input + "." + b64url(hmac(md, key, input));
}

std::string hs256_header() { return R"({"alg":"HS256","typ":"JWT"})"; }

json::object claims_for(std::string_view role, json::array eng, std::int64_t exp = now + 3600) {
  return json::object{{"sub", "u1"}, {"name", "Alice"}, {"role", role}, {"eng", std::move(eng)}, {"exp", exp}};
}

error refused(std::string_view token) {
  auto r = verify_token(token, secret, now);
  if (r) FAIL("expected the token to be refused: " << token);
  return r.err();
}

}  // namespace

TEST_CASE("a signed token verifies and yields its claims", "[protocol]") {
  auto token = sign_token(claims_for("client", {"42", "a-b_C"}), secret);
  auto r = verify_token(token, secret, now);
  REQUIRE(r);
  CHECK(r->who.id == "u1");
  CHECK(r->who.name == "Alice");
  CHECK(r->who.role == user_role::client);
  CHECK(r->engagements == std::vector<std::string>{"42", "a-b_C"});
  CHECK(r->exp == now + 3600);
  CHECK(r->may_access("42"));
  CHECK_FALSE(r->may_access("43"));
  CHECK_FALSE(r->all_engagements());
}

TEST_CASE("make_token produces a token that verifies", "[protocol]") {
  auto token = make_token(user{"bot-1", "", user_role::bot}, {"42"}, now + 60, secret);
  auto r = verify_token(token, secret, now);
  REQUIRE(r);
  CHECK(r->who.id == "bot-1");
  CHECK(r->who.name.empty());
  CHECK(r->who.role == user_role::bot);
  CHECK(r->may_access("42"));
}

TEST_CASE("a token verifies when forged independently with the right secret", "[protocol]") {
  auto token = forge(hs256_header(), R"({"sub":"u2","role":"expert","eng":["7"],"exp":1764126000})");
  auto r = verify_token(token, secret, now);
  REQUIRE(r);
  CHECK(r->who.role == user_role::expert);
  CHECK(forge(R"({"alg":"HS256"})", R"({"sub":"u2","role":"expert","exp":1764126000})") != token);
  CHECK(verify_token(forge(R"({"alg":"HS256"})", R"({"sub":"u2","role":"expert","exp":1764126000})"), secret, now));
}

TEST_CASE("an expired token is refused, within the skew it is accepted", "[protocol]") {
  auto expired = sign_token(claims_for("client", {"42"}, now - 31), secret);
  auto r = verify_token(expired, secret, now);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::unauthorized);
  CHECK(r.err().message == "token expired");

  auto within_skew = sign_token(claims_for("client", {"42"}, now - 30), secret);
  CHECK(verify_token(within_skew, secret, now));
  CHECK_FALSE(verify_token(within_skew, secret, now, token_policy{.clock_skew_seconds = 0}));
  CHECK(verify_token(sign_token(claims_for("client", {"42"}, now), secret), secret, now, token_policy{.clock_skew_seconds = 0}));
}

TEST_CASE("a wrong signature is refused", "[protocol]") {
  auto other_secret = sign_token(claims_for("client", {"42"}), "another-secret");
  CHECK(refused(other_secret).message == "bad signature");

  // The payload changed after signing: the same signature no longer fits.
  auto token = sign_token(claims_for("client", {"42"}), secret);
  auto first_dot = token.find('.');
  auto second_dot = token.find('.', first_dot + 1);
  auto tampered = token.substr(0, first_dot + 1) + b64url(json::serialize(claims_for("support", {"*"}))) +
                  token.substr(second_dot);
  CHECK(refused(tampered).message == "bad signature");

  // A truncated signature fails the length check.
  CHECK(refused(token.substr(0, token.size() - 4)).code == errc::unauthorized);
  CHECK(refused(token.substr(0, second_dot + 1)).message == "bad signature");
}

TEST_CASE("any alg but HS256 is refused", "[protocol]") {
  const std::string payload = json::serialize(claims_for("client", {"42"}));
  auto none = b64url(R"({"alg":"none","typ":"JWT"})") + "." + b64url(payload) + ".";
  CHECK(refused(none).message == "unsupported alg");
  CHECK(refused(forge(R"({"alg":"none"})", payload)).message == "unsupported alg");
  CHECK(refused(forge(R"({"alg":"HS512","typ":"JWT"})", payload, secret, EVP_sha512())).message == "unsupported alg");
  CHECK(refused(forge(R"({"alg":"hs256"})", payload)).message == "unsupported alg");
  CHECK(refused(forge(R"({"typ":"JWT"})", payload)).message == "unsupported alg");
  CHECK(refused(forge(R"({"alg":"HS256","typ":"JWE"})", payload)).code == errc::unauthorized);
  CHECK(refused(forge(R"({"alg":"HS256","crit":["exp"]})", payload)).code == errc::unauthorized);
}

TEST_CASE("garbage and malformed tokens are refused", "[protocol]") {
  auto good = sign_token(claims_for("client", {"42"}), secret);
  for (std::string_view garbage : {"", "abc", "a.b", "a.b.c.d", "...", "not a token at all"}) {
    INFO(garbage);
    auto e = refused(garbage);
    CHECK(e.code == errc::unauthorized);
  }
  CHECK(refused(good + ".x").message == "malformed token");
  // Header and payload must be JSON objects.
  CHECK(refused(forge("[1]", json::serialize(claims_for("client", {"42"})))).message == "malformed token");
  CHECK(refused(forge(hs256_header(), "not json")).message == "malformed token");
  CHECK(refused(forge(hs256_header(), R"({"sub":"u1","sub":"u2","role":"client","exp":1764126000})")).message ==
        "malformed token");
}

TEST_CASE("bad base64url is refused", "[protocol]") {
  auto good = sign_token(claims_for("client", {"42"}), secret);
  // Standard-alphabet characters, padding and stray characters.
  std::string with_padding = good + "=";
  CHECK(refused(with_padding).message == "malformed token");
  std::string plus = good;
  plus[2] = '+';
  CHECK(refused(plus).message == "malformed token");
  std::string space = good;
  space.insert(5, " ");
  CHECK(refused(space).code == errc::unauthorized);
  // An HMAC-SHA256 signature is 43 characters; its last one carries 2 unused
  // bits that must be zero, so every signature has exactly one spelling.
  const auto sig_pos = good.rfind('.') + 1;
  REQUIRE(good.size() - sig_pos == 43);
  std::string altered = good;
  const std::string abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  altered.back() = abc[abc.find(good.back()) ^ 1];
  CHECK(refused(altered).code == errc::unauthorized);
}

TEST_CASE("missing or mistyped claims are refused", "[protocol]") {
  struct bad_case {
    std::string_view payload;
    std::string_view message;
  };
  for (auto c : {
           bad_case{R"({"role":"client","eng":["1"],"exp":1764126000})", "bad claims: sub must be a string"},
           bad_case{R"({"sub":"","role":"client","exp":1764126000})", "bad claims: sub must be 1-128 characters"},
           bad_case{R"({"sub":"u","eng":["1"],"exp":1764126000})", "bad claims: role must be a string"},
           bad_case{R"({"sub":"u","role":"admin","exp":1764126000})", "bad claims: unknown role admin"},
           bad_case{R"({"sub":"u","role":"system","exp":1764126000})", "bad claims: unknown role system"},
           bad_case{R"({"sub":"u","role":"client","eng":["1"]})", "bad claims: exp must be an integer"},
           bad_case{R"({"sub":"u","role":"client","exp":"1764126000"})", "bad claims: exp must be an integer"},
           bad_case{R"({"sub":"u","role":"client","exp":1764126000.5})", "bad claims: exp must be an integer"},
           bad_case{R"({"sub":"u","role":"client","eng":"1","exp":1764126000})", "bad claims: eng must be an array"},
           bad_case{R"({"sub":"u","role":"client","eng":[1],"exp":1764126000})", "bad claims: eng must hold strings"},
           bad_case{R"({"sub":"u","role":"client","eng":["a:b"],"exp":1764126000})",
                    "bad claims: invalid engagement id in eng"},
           bad_case{R"({"sub":"u","role":"client","name":5,"exp":1764126000})", "bad claims: name must be a string"},
       }) {
    INFO(c.payload);
    auto e = refused(forge(hs256_header(), c.payload));
    CHECK(e.code == errc::unauthorized);
    CHECK(e.message == c.message);
  }
  std::string long_sub = R"({"sub":")" + std::string(129, 'u') + R"(","role":"client","exp":1764126000})";
  CHECK(refused(forge(hs256_header(), long_sub)).message == "bad claims: sub must be 1-128 characters");
}

TEST_CASE("the wildcard engagement is for support and service only", "[protocol]") {
  for (auto role : {"client", "expert", "bot"}) {
    INFO(role);
    auto e = refused(sign_token(claims_for(role, {"*"}), secret));
    CHECK(e.code == errc::unauthorized);
    CHECK_THAT(e.message, Catch::StartsWith("bad claims"));
  }
  for (auto role : {"support", "service"}) {
    auto r = verify_token(sign_token(claims_for(role, {"*"}), secret), secret, now);
    REQUIRE(r);
    CHECK(r->all_engagements());
    CHECK(r->may_access("anything"));
  }
  CHECK(refused(sign_token(claims_for("support", {"*", "42"}), secret)).code == errc::unauthorized);
}

TEST_CASE("a token without eng reaches no engagement", "[protocol]") {
  auto r = verify_token(forge(hs256_header(), R"({"sub":"s1","role":"support","exp":1764126000})"), secret, now);
  REQUIRE(r);
  CHECK(r->engagements.empty());
  CHECK_FALSE(r->may_access("42"));
}

TEST_CASE("the server's own user id cannot be claimed by a token", "[protocol]") {
  auto c = claims_for("support", {"*"});
  c["sub"] = "system";
  auto e = refused(sign_token(c, secret));
  CHECK(e.code == errc::unauthorized);
  CHECK(e.message.find("reserved") != std::string::npos);
}

TEST_CASE("a token's lifetime is bounded, measured from iat or from now", "[protocol]") {
  token_policy policy;  // 30 days
  auto with = [](json::object c, std::string_view key, json::value v) {
    c[key] = std::move(v);
    return c;
  };
  auto thirty_days = 30 * 24 * 3600;
  CHECK(verify_token(sign_token(claims_for("client", {"42"}, now + thirty_days), secret), secret, now, policy));
  auto far = verify_token(sign_token(claims_for("client", {"42"}, now + thirty_days + 60), secret), secret, now, policy);
  REQUIRE_FALSE(far);
  CHECK(far.err().message.find("lifetime") != std::string::npos);
  // exp in the year 3000 and beyond the int64 range of nanoseconds: refused, not overflowed.
  CHECK_FALSE(verify_token(sign_token(claims_for("client", {"42"}, 32503680000), secret), secret, now, policy));
  CHECK_FALSE(verify_token(sign_token(claims_for("client", {"42"}, INT64_MAX), secret), secret, now, policy));
  // With iat, exp - iat counts.
  auto issued = with(claims_for("client", {"42"}, now + 3600), "iat", now - thirty_days);
  CHECK_FALSE(verify_token(sign_token(issued, secret), secret, now, policy));
  CHECK(verify_token(sign_token(with(claims_for("client", {"42"}, now + 3600), "iat", now - 60), secret), secret, now, policy));
  // An iat in the future, or one that is not an integer, is refused.
  CHECK_FALSE(verify_token(sign_token(with(claims_for("client", {"42"}, now + 3600), "iat", now + 600), secret), secret, now, policy));
  CHECK_FALSE(verify_token(sign_token(with(claims_for("client", {"42"}, now + 3600), "iat", "yesterday"), secret), secret, now, policy));
  CHECK_FALSE(verify_token(sign_token(with(claims_for("client", {"42"}, now + 3600), "iat", INT64_MIN), secret), secret, now, policy));
}

TEST_CASE("nbf that is not an integer is refused", "[protocol]") {
  auto c = claims_for("client", {"42"});
  c["nbf"] = 1.5;
  CHECK_FALSE(verify_token(sign_token(c, secret), secret, now));
  c["nbf"] = "now";
  CHECK_FALSE(verify_token(sign_token(c, secret), secret, now));
  c["nbf"] = now - 10;
  CHECK(verify_token(sign_token(c, secret), secret, now));
}

TEST_CASE("eng holds at most 500 engagement ids", "[protocol]") {
  json::array ids;
  for (int i = 0; i < 500; ++i) ids.push_back(json::value("e" + std::to_string(i)));
  CHECK(verify_token(sign_token(claims_for("client", ids), secret), secret, now));
  ids.push_back("one-more");
  auto r = verify_token(sign_token(claims_for("client", ids), secret), secret, now);
  REQUIRE_FALSE(r);
  CHECK(r.err().message.find("500") != std::string::npos);
}

TEST_CASE("with an audience and issuer configured, tokens must carry them", "[protocol]") {
  token_policy policy;
  policy.audience = "parley";
  policy.issuer = "https://platform.example";
  auto c = claims_for("client", {"42"});
  CHECK_FALSE(verify_token(sign_token(c, secret), secret, now, policy));
  c["aud"] = "parley";
  CHECK_FALSE(verify_token(sign_token(c, secret), secret, now, policy));  // no iss
  c["iss"] = "https://platform.example";
  CHECK(verify_token(sign_token(c, secret), secret, now, policy));
  c["aud"] = json::array{"billing", "parley"};
  CHECK(verify_token(sign_token(c, secret), secret, now, policy));
  c["aud"] = json::array{"billing"};
  CHECK_FALSE(verify_token(sign_token(c, secret), secret, now, policy));
  c["aud"] = "parley";
  c["iss"] = "https://evil.example";
  CHECK_FALSE(verify_token(sign_token(c, secret), secret, now, policy));
  // Without a policy, aud and iss are not looked at.
  CHECK(verify_token(sign_token(c, secret), secret, now));
}
