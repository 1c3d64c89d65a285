#pragma once
// Random identifiers (database ids, epochs, probe channel names).
#include <cstddef>
#include <string>

namespace parley {

// `bytes` random bytes from OpenSSL's generator, in lowercase hex; throws
// std::runtime_error when it has none to give.
std::string random_hex(std::size_t bytes);

}  // namespace parley
