// The decision log (protocol §5): an export (JSON lines) is verified by
// anyone holding it, so verify_chain and the RFC 8785 serialiser meet
// arbitrary JSON. Two properties hold for every value:
// - canonical form is a fixed point: canonicalising the canonical text read
//   back gives the same bytes;
// - a record survives storage: serialised as the engines store it and read
//   back with parse_record, it has the same canonical form, hence the same hash.
#include "protocol/decision_log.hpp"

#include <boost/json/serialize.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<boost::json::object> records;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    // Read as the engines and `parley verify-log` read records.
    auto record = parley::parse_record(line);
    if (!record) continue;
    auto canonical = parley::canonical_json(*record);
    // Integers beyond 64 bits in canonical text are not read back as integers: skipped.
    if (auto again = parley::parse_record("{\"v\":" + canonical + "}")) {
      if (parley::canonical_json(again->at("v")) != canonical) __builtin_trap();
    }
    auto stored = parley::parse_record(boost::json::serialize(*record));
    if (!stored || parley::canonical_json(*stored) != canonical) __builtin_trap();
    (void)parley::record_hash(*record);
    records.push_back(std::move(*record));
  }
  (void)parley::verify_chain(records);
  return 0;
}
