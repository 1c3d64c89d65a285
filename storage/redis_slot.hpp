#pragma once
// The Redis Cluster hash slot of a key: CRC16 (XMODEM) of the key, or of its
// hash tag (the text between the first '{' and the next '}', when not
// empty), modulo 16384. A Lua script may only touch keys of one slot.
#include <cstdint>
#include <string_view>

namespace parley {

std::uint16_t redis_key_slot(std::string_view key);

}  // namespace parley
