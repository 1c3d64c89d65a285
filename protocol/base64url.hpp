#pragma once
// Unpadded base64url (RFC 4648 §5, as JWS and JWK use it, RFC 7515 §2).
#include <optional>
#include <string>
#include <string_view>

namespace parley {

std::string base64url_encode(std::string_view in);

// Padding, the standard alphabet's '+' and '/', and non-zero leftover bits are
// all refused, so every value has exactly one spelling and a signature cannot
// be altered without breaking it.
std::optional<std::string> base64url_decode(std::string_view in);

}  // namespace parley
