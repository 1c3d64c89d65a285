#pragma once
// Ephemeral pushes (presence, typing, read) that arrive from other
// instances: parsed and written again with this instance's own writers, so
// that nothing another process (or whoever can publish to Redis) sends
// reaches a client byte for byte.
#include <optional>
#include <string>
#include <string_view>

namespace parley {

// The frame, re-serialised, when it is a well-formed presence, typing or
// read push of channel `ch`; nullopt for anything else.
std::optional<std::string> reserialize_ephemeral(std::string_view frame, std::string_view ch);

}  // namespace parley
