// Ed25519 keys, JWKs and signed decision records (protocol §9.11).
#include "protocol/base64url.hpp"
#include "protocol/decision_log.hpp"
#include "protocol/signing.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <string>

using namespace parley;

namespace {

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string to_hex(std::string_view raw) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

// RFC 8032 §7.1, TEST 1.
const std::string vector1_seed = from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
const std::string vector1_public = from_hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
const std::string vector1_signature = from_hex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");

ed25519_key vector1_key() {
  auto key = ed25519_key::from_seed(vector1_seed);
  REQUIRE(key);
  return *key;
}

ed25519_key other_key() {
  auto key = ed25519_key::from_seed(std::string(32, '\x07'));
  REQUIRE(key);
  return *key;
}

boost::json::object sample_record() {
  return {{"n", 1},          {"eng", "42"},         {"ch", "eng:42"},       {"topic", "timeline"},
          {"terms", {{"weeks", 3}}}, {"text", "Plan"}, {"proposed_by", "e1"}, {"accepted_by", {"c1"}},
          {"proposal_seq", 10}, {"decision_seq", 11}, {"ts", 1764122400000}, {"prev", genesis_prev}};
}

}  // namespace

TEST_CASE("Ed25519 signs and verifies the RFC 8032 test vector 1", "[protocol][signing]") {
  auto key = vector1_key();
  CHECK(key.can_sign());
  CHECK(key.public_bytes() == vector1_public);
  std::string sig = key.sign("");
  CHECK(to_hex(sig) == to_hex(vector1_signature));
  CHECK(key.verify("", vector1_signature));

  auto pub = ed25519_key::from_public_bytes(vector1_public);
  REQUIRE(pub);
  CHECK_FALSE(pub->can_sign());
  CHECK(pub->verify("", vector1_signature));
  CHECK_FALSE(pub->verify("x", vector1_signature));
  std::string flipped = vector1_signature;
  flipped[10] ^= 1;
  CHECK_FALSE(pub->verify("", flipped));
  CHECK_FALSE(pub->verify("", vector1_signature.substr(0, 63)));
}

TEST_CASE("a key's kid is its RFC 7638 thumbprint and its JWK follows RFC 8037", "[protocol][signing]") {
  // RFC 8037 Appendix A.2 and A.3 use the key of RFC 8032 test 1.
  auto key = vector1_key();
  CHECK(key.kid() == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
  auto jwk = key.jwk();
  CHECK(boost::json::serialize(jwk) ==
        R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"})");
  auto back = ed25519_key::from_jwk(jwk);
  REQUIRE(back);
  CHECK(back->public_bytes() == vector1_public);
  CHECK_FALSE(back->can_sign());
}

TEST_CASE("PEM keys round-trip and anything else is refused", "[protocol][signing]") {
  auto key = vector1_key();
  std::string pem = key.to_pem();
  CHECK(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
  auto again = ed25519_key::from_private_pem(pem);
  REQUIRE(again);
  CHECK(again->can_sign());
  CHECK(again->kid() == key.kid());

  auto pub = ed25519_key::from_public_pem(pem);  // a private key names its public half
  REQUIRE(pub);
  CHECK_FALSE(pub->can_sign());
  std::string pub_pem = pub->to_pem();
  CHECK(pub_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
  auto pub_again = ed25519_key::from_public_pem(pub_pem);
  REQUIRE(pub_again);
  CHECK(pub_again->kid() == key.kid());

  CHECK_FALSE(ed25519_key::from_private_pem(pub_pem));
  CHECK_FALSE(ed25519_key::from_private_pem("not a key"));
  CHECK_FALSE(ed25519_key::from_private_pem(""));
  CHECK_FALSE(ed25519_key::from_public_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"));
  CHECK_FALSE(ed25519_key::from_seed("short"));
  CHECK_FALSE(ed25519_key::from_public_bytes(std::string(31, 'x')));
}

TEST_CASE("a JWK Set round-trips and is read strictly", "[protocol][signing]") {
  key_set keys;
  keys.add(vector1_key());
  keys.add(other_key());
  keys.add(vector1_key());  // kept once
  REQUIRE(keys.size() == 2);
  std::string text = boost::json::serialize(keys.to_jwks());
  auto back = key_set::from_jwks(text);
  REQUIRE(back);
  CHECK(back->size() == 2);
  CHECK(back->find(vector1_key().kid()));
  CHECK(back->find(other_key().kid()));
  CHECK_FALSE(back->find("nope"));

  // Keys of other types are skipped; a kid that is not the thumbprint is refused.
  auto x = base64url_encode(vector1_public);
  auto mixed = key_set::from_jwks(R"({"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"},{"kty":"OKP","crv":"Ed25519","x":")" +
                                  x + R"("}]})");
  REQUIRE(mixed);
  CHECK(mixed->size() == 1);
  CHECK_FALSE(key_set::from_jwks(R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":")" + x + R"(","kid":"other"}]})"));
  CHECK_FALSE(key_set::from_jwks(R"({"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]})"));
  CHECK_FALSE(key_set::from_jwks(R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]})"));
  CHECK_FALSE(key_set::from_jwks(R"({"keys":[],"keys":[]})"));
  CHECK_FALSE(key_set::from_jwks(R"({"keys":{}})"));
  CHECK_FALSE(key_set::from_jwks("[]"));
  CHECK_FALSE(key_set::from_jwks("not json"));
}

TEST_CASE("a sealed record's hash leaves out hash, kid and sig, and sig signs the hash", "[protocol][signing]") {
  auto key = vector1_key();
  auto rec = sample_record();
  auto unsigned_rec = rec;
  std::string hash = seal_record(rec, &key);
  CHECK(hash == record_hash(unsigned_rec));
  CHECK(rec.at("hash").as_string() == hash);
  CHECK(rec.at("kid").as_string() == key.kid());
  auto sig = base64url_decode(rec.at("sig").as_string());
  REQUIRE(sig);
  CHECK(sig->size() == 64);
  CHECK(key.verify(hash, *sig));
  CHECK(record_hash(rec) == hash);  // kid and sig do not change the hash

  // Sealing again gives the same record; without a signer, no kid or sig.
  auto resealed = rec;
  CHECK(seal_record(resealed, &key) == hash);
  CHECK(resealed == rec);
  auto plain = sample_record();
  seal_record(plain, nullptr);
  CHECK_FALSE(plain.contains("kid"));
  CHECK_FALSE(plain.contains("sig"));
  CHECK(plain.at("hash").as_string() == hash);
}

TEST_CASE("record signatures are checked against a key set", "[protocol][signing]") {
  auto key = vector1_key();
  key_set keys;
  keys.add(key);
  auto rec = sample_record();
  seal_record(rec, &key);
  CHECK(check_record_signature(rec, keys));

  auto tampered = rec;
  std::string sig(tampered.at("sig").as_string());
  sig[5] = sig[5] == 'A' ? 'B' : 'A';
  tampered["sig"] = sig;
  auto checked = check_record_signature(tampered, keys);
  REQUIRE_FALSE(checked);
  CHECK(checked.err().message == "bad signature");

  auto by_other = sample_record();
  auto other = other_key();
  seal_record(by_other, &other);
  checked = check_record_signature(by_other, keys);
  REQUIRE_FALSE(checked);
  CHECK(checked.err().message == "unknown kid " + other.kid());

  auto forged = by_other;  // a known kid on another key's signature
  forged["kid"] = key.kid();
  checked = check_record_signature(forged, keys);
  REQUIRE_FALSE(checked);
  CHECK(checked.err().message == "bad signature");

  auto unsigned_rec = sample_record();
  seal_record(unsigned_rec, nullptr);
  checked = check_record_signature(unsigned_rec, keys);
  REQUIRE_FALSE(checked);
  CHECK(checked.err().message == "no sig");

  auto odd_kid = rec;
  odd_kid["kid"] = "\x1b[31mred";
  checked = check_record_signature(odd_kid, keys);
  REQUIRE_FALSE(checked);
  CHECK(checked.err().message == "unknown kid");

  auto padded = rec;
  padded["sig"] = std::string(rec.at("sig").as_string()) + "==";
  CHECK_FALSE(check_record_signature(padded, keys));
}
