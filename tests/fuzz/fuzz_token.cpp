// Tokens (protocol §2). Mode 0: the bytes are the token as a client sends it.
// Mode 1: the bytes are header and payload JSON (split at the first newline),
// signed with the right secret, so that the claims parser behind the
// signature check is reached too. Whatever is accepted obeys the claims rules.
#include "protocol/token.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view secret = "fuzz-secret-0123456789";
constexpr std::int64_t now = 1764122400;

std::string b64url(std::string_view in) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    std::uint32_t n = (std::uint8_t(in[i]) << 16) | (std::uint8_t(in[i + 1]) << 8) | std::uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += alphabet[(n >> s) & 63];
  }
  if (in.size() - i == 1) {
    std::uint32_t n = std::uint8_t(in[i]) << 16;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
  } else if (in.size() - i == 2) {
    std::uint32_t n = (std::uint8_t(in[i]) << 16) | (std::uint8_t(in[i + 1]) << 8);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
  }
  return out;
}

std::string signed_token(std::string_view header, std::string_view payload) {
  std::string input = b64url(header) + "." + b64url(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(input.data()),
       input.size(), mac, &len);
  return input + "." + b64url(std::string_view(reinterpret_cast<const char*>(mac), len));
}

void check(const parley::result<parley::claims>& c) {
  if (!c) {
    if (c.err().code != parley::errc::unauthorized) __builtin_trap();
    return;
  }
  // An accepted token names a user and is not expired.
  if (c->who.id.empty() || c->exp < now - 30) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) {
    auto nl = rest.find('\n');
    if (nl == std::string_view::npos) return 0;
    check(parley::verify_token(signed_token(rest.substr(0, nl), rest.substr(nl + 1)), secret, now));
  } else {
    check(parley::verify_token(rest, secret, now));
  }
  return 0;
}
