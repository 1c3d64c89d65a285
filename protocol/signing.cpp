#include "protocol/signing.hpp"

#include "protocol/base64url.hpp"
#include "protocol/json_input.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json/array.hpp>
#include <stdexcept>

namespace parley {
namespace {

constexpr std::size_t key_bytes = 32;
constexpr std::size_t signature_bytes = 64;
// A JWK Set is flat: {"keys":[{...}]}.
constexpr int max_jwks_depth = 4;

error bad_key(std::string message) {
  // OpenSSL leaves its reasons on a per-thread queue; drop them so that a
  // later, unrelated call does not find stale errors there.
  ERR_clear_error();
  return make_error(errc::bad_request, std::move(message));
}

// Never prompts for a passphrase: an encrypted key simply fails to load.
int no_passphrase(char*, int, int, void*) { return -1; }

struct bio_deleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using bio_ptr = std::unique_ptr<BIO, bio_deleter>;

bio_ptr memory_bio(std::string_view text) {
  return bio_ptr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::string sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  return std::string(reinterpret_cast<const char*>(md), len);
}

struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

}  // namespace

result<ed25519_key> ed25519_key::adopt(EVP_PKEY* pkey, bool can_sign) {
  std::shared_ptr<EVP_PKEY> owned(pkey, EVP_PKEY_free);
  if (EVP_PKEY_id(pkey) != EVP_PKEY_ED25519) return bad_key("not an Ed25519 key (openssl genpkey -algorithm ed25519)");
  unsigned char raw[key_bytes];
  std::size_t len = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1 || len != key_bytes) {
    return bad_key("cannot read the Ed25519 public key");
  }
  ed25519_key key;
  key.pkey_ = std::move(owned);
  key.can_sign_ = can_sign;
  key.public_.assign(reinterpret_cast<const char*>(raw), len);
  // RFC 7638 §3: the required members in lexicographic order, no whitespace.
  key.kid_ = base64url_encode(
      sha256(R"({"crv":"Ed25519","kty":"OKP","x":")" + base64url_encode(key.public_) + "\"}"));
  return key;
}

result<ed25519_key> ed25519_key::from_private_pem(std::string_view pem) {
  auto bio = memory_bio(pem);
  if (!bio) return bad_key("out of memory");
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr);
  if (!pkey) return bad_key("not an unencrypted PEM PKCS#8 private key");
  return adopt(pkey, true);
}

result<ed25519_key> ed25519_key::from_public_pem(std::string_view pem) {
  auto bio = memory_bio(pem);
  if (!bio) return bad_key("out of memory");
  EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr);
  if (!pkey) {
    // A private key file names its public key too.
    ERR_clear_error();
    auto key = from_private_pem(pem);
    if (!key) return bad_key("not a PEM public key");
    return from_public_bytes(key->public_bytes());
  }
  return adopt(pkey, false);
}

result<ed25519_key> ed25519_key::from_seed(std::string_view seed) {
  if (seed.size() != key_bytes) return bad_key("an Ed25519 private key has 32 bytes");
  EVP_PKEY* pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                                reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  if (!pkey) return bad_key("not an Ed25519 private key");
  return adopt(pkey, true);
}

result<ed25519_key> ed25519_key::from_public_bytes(std::string_view raw) {
  if (raw.size() != key_bytes) return bad_key("an Ed25519 public key has 32 bytes");
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                               reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  if (!pkey) return bad_key("not an Ed25519 public key");
  return adopt(pkey, false);
}

result<ed25519_key> ed25519_key::from_jwk(const boost::json::object& jwk) {
  auto text = [&](std::string_view name) -> std::string_view {
    const auto* v = jwk.if_contains(name);
    return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
  };
  if (text("kty") != "OKP" || text("crv") != "Ed25519") return bad_key("not an Ed25519 JWK (kty OKP, crv Ed25519)");
  auto raw = base64url_decode(text("x"));
  if (!raw || raw->size() != key_bytes) return bad_key("JWK x must be 32 bytes in base64url");
  auto key = from_public_bytes(*raw);
  if (!key) return key;
  if (const auto* kid = jwk.if_contains("kid")) {
    if (!kid->is_string() || kid->get_string() != key->kid()) {
      return bad_key("JWK kid is not the key's RFC 7638 thumbprint " + key->kid());
    }
  }
  return key;
}

boost::json::object ed25519_key::jwk() const {
  return {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", base64url_encode(public_)}, {"kid", kid_}};
}

std::string ed25519_key::to_pem() const {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio) throw std::runtime_error("out of memory");
  int ok = can_sign_ ? PEM_write_bio_PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr, nullptr)
                     : PEM_write_bio_PUBKEY(bio.get(), pkey_.get());
  if (ok != 1) throw std::runtime_error("cannot write an Ed25519 key as PEM");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string ed25519_key::sign(std::string_view message) const {
  if (!can_sign_) throw std::logic_error("signing with a public key");
  std::unique_ptr<EVP_MD_CTX, md_ctx_deleter> ctx(EVP_MD_CTX_new());
  unsigned char sig[signature_bytes];
  std::size_t len = sizeof sig;
  // Ed25519 hashes internally: no digest is named, and the one-shot call is required.
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig, &len, reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
      len != signature_bytes) {
    ERR_clear_error();
    throw std::runtime_error("Ed25519 signing failed");
  }
  return std::string(reinterpret_cast<const char*>(sig), len);
}

bool ed25519_key::verify(std::string_view message, std::string_view signature) const {
  if (signature.size() != signature_bytes || !pkey_) return false;
  std::unique_ptr<EVP_MD_CTX, md_ctx_deleter> ctx(EVP_MD_CTX_new());
  bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey_.get()) == 1 &&
            EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                             reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  if (!ok) ERR_clear_error();
  return ok;
}

void key_set::add(const ed25519_key& key) {
  if (find(key.kid())) return;
  auto pub = ed25519_key::from_public_bytes(key.public_bytes());
  if (pub) keys_.push_back(std::move(*pub));
}

const ed25519_key* key_set::find(std::string_view kid) const {
  for (const auto& k : keys_) {
    if (k.kid() == kid) return &k;
  }
  return nullptr;
}

boost::json::object key_set::to_jwks() const {
  boost::json::array keys;
  for (const auto& k : keys_) keys.push_back(k.jwk());
  return {{"keys", std::move(keys)}};
}

result<key_set> key_set::from_jwks(std::string_view json) {
  auto parsed = detail::parse_strict_json(json, max_jwks_depth);
  if (auto* e = std::get_if<detail::json_input_error>(&parsed)) return e->err;
  const auto& root = std::get<boost::json::value>(parsed);
  const auto* keys = root.is_object() ? root.get_object().if_contains("keys") : nullptr;
  if (!keys || !keys->is_array()) return make_error(errc::bad_request, "a JWK Set is {\"keys\": [...]}");
  key_set out;
  std::size_t index = 0;
  for (const auto& item : keys->get_array()) {
    ++index;
    if (!item.is_object()) return make_error(errc::bad_request, "key " + std::to_string(index) + " is not an object");
    const auto& jwk = item.get_object();
    const auto* kty = jwk.if_contains("kty");
    const auto* crv = jwk.if_contains("crv");
    bool ed25519 = kty && kty->is_string() && kty->get_string() == "OKP" && crv && crv->is_string() &&
                   crv->get_string() == "Ed25519";
    if (!ed25519) continue;
    auto key = ed25519_key::from_jwk(jwk);
    if (!key) return make_error(errc::bad_request, "key " + std::to_string(index) + ": " + key.err().message);
    out.add(*key);
  }
  if (out.size() == 0) return make_error(errc::bad_request, "the JWK Set holds no Ed25519 key");
  return out;
}

}  // namespace parley
