// Client WebSocket bytes (protocol/websocket): whatever a peer sends, the
// reader takes no more than it was given, never hands over a message past
// its limit, fails only with 1002, 1007 or 1009, and reads the same events
// whether the bytes come at once or in two reads (the way a session keeps
// the rest of a frame between reads).
#include "protocol/websocket.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

namespace {

constexpr std::size_t max_message = 4096;
using event = std::tuple<int, std::string, std::uint16_t>;

// Reads `bytes` given in reads cut at `cuts`, keeping what a read leaves.
std::vector<event> read_in_parts(const std::string& bytes, std::vector<std::size_t> cuts) {
  parley::websocket::frame_reader reader(max_message);
  std::vector<event> out;
  std::string held;
  std::size_t at = 0;
  cuts.push_back(bytes.size());
  for (auto cut : cuts) {
    held.append(bytes, at, cut - at);
    at = cut;
    for (;;) {
      std::size_t used = 0;
      auto e = reader.next(held.data(), held.size(), used);
      if (used > held.size()) __builtin_trap();
      if (e.what == parley::websocket::frame_event::kind::message && e.payload.size() > max_message) __builtin_trap();
      if (e.what == parley::websocket::frame_event::kind::fail && e.code != 1002 && e.code != 1007 && e.code != 1009)
        __builtin_trap();
      std::string payload(e.payload);
      held.erase(0, used);
      if (e.what == parley::websocket::frame_event::kind::need_more) break;
      out.emplace_back(static_cast<int>(e.what), std::move(payload), e.code);
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::size_t cut = bytes.empty() ? 0 : data[0] % (bytes.size() + 1);
  if (read_in_parts(bytes, {}) != read_in_parts(bytes, {cut})) __builtin_trap();
  return 0;
}
