#pragma once
// Ed25519 keys for the signed decision log (protocol §9.11): signing and
// verifying, and their JWK form (RFC 8037) with the RFC 7638 thumbprint as
// key id. Pure: keys come in as bytes or PEM text; reading files and making
// new keys is the server's business.
#include "protocol/result.hpp"

#include <boost/json/object.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace parley {

// One Ed25519 key: a public key, or a key pair that can also sign. Copies
// share the underlying key, which OpenSSL allows to be used from several
// threads at once for signing and verifying.
class ed25519_key {
 public:
  // A PEM PKCS#8 private key ("-----BEGIN PRIVATE KEY-----", as
  // `openssl genpkey -algorithm ed25519` writes it). Encrypted keys are refused.
  static result<ed25519_key> from_private_pem(std::string_view pem);
  // A PEM SubjectPublicKeyInfo public key ("-----BEGIN PUBLIC KEY-----"), or
  // a private key's PEM, of which only the public half is kept.
  static result<ed25519_key> from_public_pem(std::string_view pem);
  // The 32-byte private seed of RFC 8032.
  static result<ed25519_key> from_seed(std::string_view seed);
  // The 32-byte public key of RFC 8032.
  static result<ed25519_key> from_public_bytes(std::string_view raw);
  // A JWK {"kty":"OKP","crv":"Ed25519","x":...}; a private "d" is ignored.
  static result<ed25519_key> from_jwk(const boost::json::object& jwk);

  bool can_sign() const { return can_sign_; }
  const std::string& public_bytes() const { return public_; }
  // RFC 7638 thumbprint: base64url SHA-256 of {"crv":"Ed25519","kty":"OKP","x":...}.
  const std::string& kid() const { return kid_; }
  // {"kty":"OKP","crv":"Ed25519","x":...,"kid":...}: public parts only.
  boost::json::object jwk() const;
  // PEM PKCS#8 of a signing key, PEM SubjectPublicKeyInfo of a public one.
  std::string to_pem() const;

  // The 64-byte signature of `message`. Only for a key that can_sign(); a
  // failure inside OpenSSL is a broken invariant and throws.
  std::string sign(std::string_view message) const;
  bool verify(std::string_view message, std::string_view signature) const;

 private:
  static result<ed25519_key> adopt(evp_pkey_st* pkey, bool can_sign);

  std::shared_ptr<evp_pkey_st> pkey_;
  bool can_sign_ = false;
  std::string public_;
  std::string kid_;
};

// Public keys by kid: what GET /api/v1/keys serves and `verify-log --keys` reads.
class key_set {
 public:
  // Adds the public half of `key` (a key already present is kept once).
  void add(const ed25519_key& key);
  const ed25519_key* find(std::string_view kid) const;
  std::size_t size() const { return keys_.size(); }

  // {"keys":[jwk, ...]} in the order the keys were added.
  boost::json::object to_jwks() const;

  // Reads a JWK Set strictly (duplicate keys refused). Keys of other types
  // are skipped, as RFC 7517 §5 asks; an Ed25519 key whose "kid" is not its
  // thumbprint, or a set without any Ed25519 key, is refused.
  static result<key_set> from_jwks(std::string_view json);

 private:
  std::vector<ed25519_key> keys_;
};

}  // namespace parley
