#pragma once
// Lowercase hex, the SHA-256 digest written in it (record hashes, epochs),
// and HMAC-SHA256 (token and request signatures).
#include <cstddef>
#include <string>
#include <string_view>

namespace parley {

std::string to_hex(const unsigned char* data, std::size_t size);

// Lowercase hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

// The raw 32-byte HMAC-SHA256 of `data` under `key` (empty only if OpenSSL fails).
std::string hmac_sha256(std::string_view key, std::string_view data);

}  // namespace parley
