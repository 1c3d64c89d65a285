#include "protocol/decision_log.hpp"

#include "protocol/base64url.hpp"
#include "protocol/hex.hpp"
#include "protocol/json_input.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

namespace parley {
namespace {

// Decodes UTF-8 into UTF-16 code units, the order RFC 8785 §3.2.3 sorts keys by.
// Invalid bytes become U+FFFD so that sorting stays total and deterministic.
std::u16string to_utf16(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    auto b0 = static_cast<unsigned char>(s[i]);
    std::uint32_t cp = 0xFFFD;
    std::size_t len = 1;
    auto cont = [&](std::size_t k) {
      return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    };
    if (b0 < 0x80) {
      cp = b0;
    } else if ((b0 & 0xE0) == 0xC0 && cont(1)) {
      cp = ((b0 & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
      len = 2;
    } else if ((b0 & 0xF0) == 0xE0 && cont(1) && cont(2)) {
      cp = ((b0 & 0x0Fu) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 6) |
           (static_cast<unsigned char>(s[i + 2]) & 0x3Fu);
      len = 3;
    } else if ((b0 & 0xF8) == 0xF0 && cont(1) && cont(2) && cont(3)) {
      cp = ((b0 & 0x07u) << 18) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 12) |
           ((static_cast<unsigned char>(s[i + 2]) & 0x3Fu) << 6) | (static_cast<unsigned char>(s[i + 3]) & 0x3Fu);
      len = 4;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
    i += len;
  }
  return out;
}

// RFC 8785 §3.2.2.2: only these escapes; every other character is written as is.
void write_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out.push_back(hex[u >> 4]);
          out.push_back(hex[u & 0xF]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

// ECMAScript Number.prototype.toString (ECMA-262 §6.1.6.1.20), which RFC 8785
// §3.2.2.3 prescribes. std::to_chars gives the shortest round-trip digits; the
// ES rules then decide between plain and exponent form.
void write_double(std::string& out, double d) {
  // NaN and infinities have no JSON form; JSON.stringify writes them as null.
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  if (d == 0) {  // also -0, which ES prints as "0"
    out.push_back('0');
    return;
  }
  if (d < 0) {
    out.push_back('-');
    d = -d;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  (void)ec;  // 64 bytes always hold a double in scientific form
  std::string_view sci(buf, static_cast<std::size_t>(end - buf));
  auto e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  int exp10 = 0;
  std::from_chars(sci.data() + e_pos + 1 + (sci[e_pos + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exp10);
  // ES terms: value = digits × 10^(n − k), k = number of digits.
  const int k = static_cast<int>(digits.size());
  const int n = exp10 + 1;
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<std::size_t>(n));
    out.push_back('.');
    out.append(digits, static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += digits;
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.push_back('e');
    out.push_back(n - 1 >= 0 ? '+' : '-');
    out += std::to_string(std::abs(n - 1));
  }
}

// RFC 8785 treats every number as an IEEE 754 double. Integers up to 2^53 are
// exact doubles and print as plain decimals; larger ones are written as the
// double they parse to, so that any JCS implementation (JavaScript's first of
// all) reproduces the same bytes from an export.
constexpr std::int64_t exact_int_limit = std::int64_t{1} << 53;

void write_value(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: out += "null"; break;
    case boost::json::kind::bool_: out += v.get_bool() ? "true" : "false"; break;
    case boost::json::kind::int64: {
      auto i = v.get_int64();
      if (i >= -exact_int_limit && i <= exact_int_limit) {
        out += std::to_string(i);
      } else {
        write_double(out, static_cast<double>(i));
      }
      break;
    }
    case boost::json::kind::uint64: {
      auto u = v.get_uint64();
      if (u <= static_cast<std::uint64_t>(exact_int_limit)) {
        out += std::to_string(u);
      } else {
        write_double(out, static_cast<double>(u));
      }
      break;
    }
    case boost::json::kind::double_: write_double(out, v.get_double()); break;
    case boost::json::kind::string: write_string(out, v.get_string()); break;
    case boost::json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& item : v.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        write_value(out, item);
      }
      out.push_back(']');
      break;
    }
    case boost::json::kind::object: {
      const auto& obj = v.get_object();
      std::vector<std::pair<std::u16string, const boost::json::key_value_pair*>> members;
      members.reserve(obj.size());
      for (const auto& kv : obj) members.emplace_back(to_utf16(kv.key()), &kv);
      std::sort(members.begin(), members.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      out.push_back('{');
      bool first = true;
      for (const auto& [key16, kv] : members) {
        if (!first) out.push_back(',');
        first = false;
        write_string(out, kv->key());
        out.push_back(':');
        write_value(out, kv->value());
      }
      out.push_back('}');
      break;
    }
  }
}

}  // namespace

std::string canonical_json(const boost::json::value& v) {
  std::string out;
  write_value(out, v);
  return out;
}

std::optional<boost::json::object> parse_record(std::string_view json) {
  // Deeper than any record the server writes: terms are capped by the frame depth.
  constexpr int max_record_depth = 64;
  auto parsed = detail::parse_strict_json(json, max_record_depth);
  auto* v = std::get_if<boost::json::value>(&parsed);
  if (!v || !v->is_object()) return std::nullopt;
  return std::move(v->get_object());
}

std::string record_hash(const boost::json::object& record) {
  boost::json::object copy = record;
  copy.erase("hash");
  copy.erase("kid");
  copy.erase("sig");
  return sha256_hex(canonical_json(copy));
}

std::string seal_record(boost::json::object& record, const ed25519_key* signer) {
  record.erase("hash");
  record.erase("kid");
  record.erase("sig");
  std::string hash = record_hash(record);
  record["hash"] = hash;
  if (signer) {
    record["kid"] = signer->kid();
    record["sig"] = base64url_encode(signer->sign(hash));
  }
  return hash;
}

result<void> check_record_signature(const boost::json::object& record, const key_set& keys) {
  const auto* hash = record.if_contains("hash");
  const auto* kid = record.if_contains("kid");
  const auto* sig = record.if_contains("sig");
  if (!sig) return make_error(errc::bad_request, "no sig");
  if (!kid || !kid->is_string()) return make_error(errc::bad_request, "no kid");
  if (!hash || !hash->is_string()) return make_error(errc::bad_request, "no hash");
  const ed25519_key* key = keys.find(kid->get_string());
  if (!key) {
    // The kid comes from the file being checked: echo it only when it looks like one.
    std::string_view k = kid->get_string();
    bool printable = !k.empty() && k.size() <= 64 && std::all_of(k.begin(), k.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
    return make_error(errc::bad_request, printable ? "unknown kid " + std::string(k) : std::string("unknown kid"));
  }
  auto raw = sig->is_string() ? base64url_decode(sig->get_string()) : std::nullopt;
  if (!raw || !key->verify(hash->get_string(), *raw)) return make_error(errc::bad_request, "bad signature");
  return {};
}

result<void> verify_chain(const std::vector<boost::json::object>& records) {
  std::string expected_prev = genesis_prev;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& rec = records[i];
    const auto position = static_cast<std::int64_t>(i + 1);
    auto bad = [&](const std::string& what) {
      return make_error(errc::bad_request, "record " + std::to_string(position) + ": " + what);
    };
    const auto* n = rec.if_contains("n");
    if (!n || !n->is_number()) return bad("no n");
    boost::system::error_code ec;
    auto n_value = n->to_number<std::int64_t>(ec);
    if (ec) return bad("n is not an integer");
    if (n_value != position) return bad("out of order (n is " + std::to_string(n_value) + ")");
    const auto* prev = rec.if_contains("prev");
    if (!prev || !prev->is_string()) return bad("no prev");
    if (prev->get_string() != expected_prev) return bad("prev does not match the previous record's hash");
    const auto* hash = rec.if_contains("hash");
    if (!hash || !hash->is_string()) return bad("no hash");
    auto actual = record_hash(rec);
    if (hash->get_string() != actual) return bad("hash mismatch");
    expected_prev = std::move(actual);
  }
  return {};
}

}  // namespace parley
