#include "protocol/sigv4.hpp"

#include "protocol/hex.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace parley::sigv4 {
namespace {

constexpr std::string_view algorithm = "AWS4-HMAC-SHA256";

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trims leading and trailing spaces and turns each run of spaces inside into
// one, as task 1 asks of header values (quoted strings included).
std::string trim_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

struct canonical_header {
  std::string name;
  std::string value;
};

// Lowercased names in order; a name given several times appears once, its
// values joined by commas in the order given.
std::vector<canonical_header> canonical_headers(const request& req) {
  std::vector<canonical_header> out;
  for (const auto& [name, value] : req.headers) {
    auto lower = lowercase(name);
    auto same = std::find_if(out.begin(), out.end(), [&](const auto& h) { return h.name == lower; });
    if (same != out.end()) {
      same->value += ',' + trim_value(value);
    } else {
      out.push_back({std::move(lower), trim_value(value)});
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

std::string canonical_query(const request& req) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(req.query.size());
  for (const auto& [name, value] : req.query) encoded.emplace_back(uri_encode(name, true), uri_encode(value, true));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out += name + '=' + value;
  }
  return out;
}

}  // namespace

std::string amz_date(std::chrono::sys_seconds at) {
  auto day = std::chrono::floor<std::chrono::days>(at);
  std::chrono::year_month_day ymd{day};
  std::chrono::hh_mm_ss<std::chrono::seconds> time{at - day};
  char out[32];  // room for any year the types allow
  std::snprintf(out, sizeof out, "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                static_cast<int>(time.seconds().count()));
  return out;
}

std::string uri_encode(std::string_view text, bool encode_slash) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (unreserved(c) || (c == '/' && !encode_slash)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 0xf]);
    }
  }
  return out;
}

std::string signed_headers(const request& req) {
  std::string out;
  for (const auto& h : canonical_headers(req)) {
    if (!out.empty()) out += ';';
    out += h.name;
  }
  return out;
}

std::string canonical_request(const request& req) {
  std::string out = req.method + '\n' + uri_encode(req.path.empty() ? "/" : req.path, false) + '\n' +
                    canonical_query(req) + '\n';
  for (const auto& h : canonical_headers(req)) out += h.name + ':' + h.value + '\n';
  out += '\n' + signed_headers(req) + '\n' + req.payload_sha256;
  return out;
}

std::string string_to_sign(std::string_view when, const scope& where, std::string_view canonical) {
  std::string out(algorithm);
  out += '\n';
  out += when;
  out += '\n';
  out += when.substr(0, 8);
  out += '/' + where.region + '/' + where.service + "/aws4_request\n";
  out += sha256_hex(canonical);
  return out;
}

std::string signing_key(std::string_view secret_key, std::string_view date, const scope& where) {
  std::string key = hmac_sha256(std::string("AWS4").append(secret_key), date);
  key = hmac_sha256(key, where.region);
  key = hmac_sha256(key, where.service);
  return hmac_sha256(key, "aws4_request");
}

std::string authorization(const request& req, const credentials& who, const scope& where, std::string_view when) {
  auto date = when.substr(0, 8);
  auto to_sign = string_to_sign(when, where, canonical_request(req));
  auto mac = hmac_sha256(signing_key(who.secret_key, date, where), to_sign);
  std::string out(algorithm);
  out += " Credential=" + who.access_key + '/';
  out += date;
  out += '/' + where.region + '/' + where.service + "/aws4_request, SignedHeaders=" + signed_headers(req) +
         ", Signature=" + to_hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
  return out;
}

}  // namespace parley::sigv4
