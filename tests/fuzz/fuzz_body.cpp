// Post bodies (protocol §3 kinds table): validate_body gets any JSON object
// under any kind. The first byte picks the kind, the rest is the body. What
// it accepts is normalised: validating the result again gives the same body.
#include "protocol/frame.hpp"

#include <boost/json/parse.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

constexpr std::array<std::string_view, 10> kinds = {"message",  "status", "flag",  "flag_update", "proposal",
                                                    "decision", "phase",  "notice", "unknown",    ""};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::string_view kind = kinds[data[0] % kinds.size()];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  boost::system::error_code ec;
  boost::json::parse_options opts;
  opts.max_depth = 16;
  auto v = boost::json::parse(text, ec, {}, opts);
  if (ec || !v.is_object()) return 0;
  auto checked = parley::validate_body(kind, v.get_object());
  if (!checked) return 0;
  auto again = parley::validate_body(kind, *checked);
  if (!again || *again != *checked) __builtin_trap();
  return 0;
}
