// Post bodies (protocol §3 kinds table): validate_body gets any JSON object
// under any kind. The first byte picks the kind, the rest is the body. What
// it accepts is normalised: validating the result again gives the same body.
#include "protocol/decision_log.hpp"
#include "protocol/frame.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

constexpr std::array<std::string_view, 14> kinds = {
    "message", "status",  "flag",           "flag_update",      "proposal", "decision", "phase",
    "notice",  "unknown", "acknowledgement", "revision_request", "delivery", "review",   ""};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::string_view kind = kinds[data[0] % kinds.size()];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  // Read as the server reads client JSON (simdjson, strict): Boost.JSON would
  // turn "0E0600000000" into NaN, which no client can send.
  auto body = parley::parse_record(text);
  if (!body) return 0;
  auto checked = parley::validate_body(kind, *body);
  if (!checked) return 0;
  auto again = parley::validate_body(kind, *checked);
  if (!again || *again != *checked) __builtin_trap();
  return 0;
}
