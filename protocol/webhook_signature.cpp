#include "protocol/webhook_signature.hpp"

#include "protocol/hex.hpp"

#include <openssl/crypto.h>

namespace parley {

namespace {

std::string expected_mac(std::string_view secret, std::int64_t t, std::string_view body) {
  std::string signed_text = std::to_string(t);
  signed_text += '.';
  signed_text += body;
  auto mac = hmac_sha256(secret, signed_text);
  return to_hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
}

bool all_of(std::string_view s, std::string_view allowed) {
  return !s.empty() && s.find_first_not_of(allowed) == std::string_view::npos;
}

constexpr std::string_view digits = "0123456789";
constexpr std::string_view lower_hex = "0123456789abcdef";
constexpr std::string_view item_name = "abcdefghijklmnopqrstuvwxyz0123456789";

error malformed(std::string why) { return make_error(errc::bad_request, "malformed Parley-Signature: " + why); }

}  // namespace

std::string webhook_signature_header(std::string_view secret, std::int64_t t, std::string_view body) {
  return "t=" + std::to_string(t) + ",v1=" + expected_mac(secret, t, body);
}

result<webhook_signature> parse_webhook_signature(std::string_view header) {
  if (header.size() > max_webhook_signature_header) return malformed("too long");
  webhook_signature out;
  bool have_t = false;
  while (true) {
    auto comma = header.find(',');
    auto item = header.substr(0, comma);
    auto eq = item.find('=');
    if (eq == std::string_view::npos) return malformed("an item without '='");
    auto name = item.substr(0, eq);
    auto value = item.substr(eq + 1);
    if (!all_of(name, item_name)) return malformed("a bad item name");
    if (name == "t") {
      // 12 digits reach the year 33658: anything longer is not a time.
      if (have_t) return malformed("t given twice");
      if (!all_of(value, digits) || value.size() > 12) return malformed("t is not Unix seconds");
      out.t = std::stoll(std::string(value));
      have_t = true;
    } else if (name == "v1") {
      if (value.size() != 64 || !all_of(value, lower_hex)) return malformed("v1 is not 64 lowercase hex digits");
      out.v1.emplace_back(value);
    } else if (value.empty() || value.find_first_of(" \t") != std::string_view::npos) {
      return malformed("an empty or spaced value");
    }
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  if (!have_t) return malformed("no t");
  if (out.v1.empty()) return malformed("no v1");
  return out;
}

result<void> verify_webhook_signature(std::string_view header, std::string_view body, std::string_view secret,
                                      std::int64_t now_s, std::int64_t tolerance_s) {
  auto sig = parse_webhook_signature(header);
  if (!sig) return sig.err();
  std::int64_t age = now_s - sig->t;
  if (age > tolerance_s || -age > tolerance_s)
    return make_error(errc::unauthorized, "Parley-Signature timestamp is " + std::to_string(age) +
                                              " s from now, beyond the tolerance of " + std::to_string(tolerance_s) +
                                              " s");
  auto want = expected_mac(secret, sig->t, body);
  bool matched = false;
  // Every candidate is compared in full, in constant time: no early exit leaks which one was close.
  for (const auto& v1 : sig->v1) matched |= CRYPTO_memcmp(v1.data(), want.data(), want.size()) == 0;
  if (!matched) return make_error(errc::unauthorized, "Parley-Signature does not match the body");
  return {};
}

}  // namespace parley
