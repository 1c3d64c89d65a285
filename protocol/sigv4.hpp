#pragma once
// AWS Signature Version 4 (the `Authorization` header that S3 and every
// S3-compatible store check). Pure: the caller passes the time, the headers
// and the payload's hash; nothing here reads a clock or a socket.
//
// Paths are signed as S3 wants them: the path is given decoded and each byte
// other than the unreserved characters and '/' is percent-encoded once; no
// `.`/`..` normalisation. The services of AWS's generic test suite encode the
// same way for every path without '%', '.' segments or repeated slashes.
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::sigv4 {

struct credentials {
  std::string access_key;
  std::string secret_key;
};

// Where a signature is valid: the credential scope's region and service.
struct scope {
  std::string region;
  std::string service;
};

struct request {
  std::string method;  // "GET", "PUT", ...
  std::string path;    // decoded: "/bucket/files/ab/<sha256>"
  std::vector<std::pair<std::string, std::string>> query;    // decoded names and values
  std::vector<std::pair<std::string, std::string>> headers;  // every header that is signed, `host` and `x-amz-date` included
  std::string payload_sha256;  // lowercase hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

// The SHA-256 of an empty body, which every body-less request signs.
inline constexpr std::string_view empty_payload_sha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// "20150830T123600Z": the x-amz-date form of `at` (UTC).
std::string amz_date(std::chrono::sys_seconds at);

// RFC 3986 percent-encoding with uppercase hex; unreserved characters
// (A-Z a-z 0-9 - . _ ~) stay, and '/' too unless `encode_slash`.
std::string uri_encode(std::string_view text, bool encode_slash);

// The four tasks of the signing process, each visible so that each can be
// checked against the published test vectors.
std::string canonical_request(const request& req);
std::string signed_headers(const request& req);
// `when` is the request's x-amz-date ("20150830T123600Z").
std::string string_to_sign(std::string_view when, const scope& where, std::string_view canonical);
// The raw 32-byte key: HMAC chain "AWS4"+secret → date → region → service → "aws4_request".
std::string signing_key(std::string_view secret_key, std::string_view date, const scope& where);

// The `Authorization` header value for `req`, signed at `when` (its x-amz-date).
std::string authorization(const request& req, const credentials& who, const scope& where, std::string_view when);

}  // namespace parley::sigv4
