#include "storage/random_hex.hpp"

#include "protocol/hex.hpp"

#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace parley {

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) throw std::runtime_error("no random bytes");
  return to_hex(raw.data(), raw.size());
}

}  // namespace parley
