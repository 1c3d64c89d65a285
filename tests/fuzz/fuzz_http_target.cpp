// The HTTP API's request target (protocol §7): split, percent-decoded, its
// integer parameters read and its path parameters cut out, as the router does,
// before any authentication.
#include "protocol/channel.hpp"
#include "protocol/http_target.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto t = parley::split_target(text);
  if (!t) return 0;
  for (const char* name : {"after", "before", "limit"}) (void)parley::query_int(*t, name, 0, INT64_MAX);
  if (auto raw = parley::path_middle(t->path, "/api/v1/channels/", "/events")) {
    if (raw->size() > t->path.size()) __builtin_trap();
    if (auto ch = parley::percent_decode(*raw)) (void)parley::parse_channel(*ch);
  }
  if (auto eng = parley::path_middle(t->path, "/api/v1/engagements/", "/decisions"))
    (void)parley::parse_channel(parley::channel::main(*eng));
  return 0;
}
