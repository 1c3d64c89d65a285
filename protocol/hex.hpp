#pragma once
// Lowercase hex, and the SHA-256 digest written in it (record hashes, epochs).
#include <cstddef>
#include <string>
#include <string_view>

namespace parley {

std::string to_hex(const unsigned char* data, std::size_t size);

// Lowercase hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

}  // namespace parley
