#pragma once
// The wall clock in Unix milliseconds: event ts, presence expiry, token times.
// protocol/ has no clock of its own (DESIGN §5): the engines read it here and
// pass it in.
#include <chrono>
#include <cstdint>

namespace parley {

inline std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace parley
