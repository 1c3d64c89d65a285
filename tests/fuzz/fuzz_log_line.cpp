// Log lines carry bytes a client chose (addresses aside: user ids, channel
// names, reasons). Whatever they are, a text line and a JSON line stay one
// line; the JSON line parses as one object whose fixed keys are the server's;
// a value of valid UTF-8 within the length bound comes back unchanged.
#include "protocol/log_line.hpp"

#include <boost/json/parse.hpp>
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string value(reinterpret_cast<const char*>(data), size);
  std::vector<parley::log_field> fields{{"reason", value}, {"event", value}};
  auto text = parley::format_log_line("warn", "fuzz", fields);
  if (text.find('\n') != std::string::npos || text.find('\r') != std::string::npos) __builtin_trap();

  auto json = parley::format_log_json("warn", "fuzz", fields, 1, 1'800'000'000'000);
  if (json.find('\n') != std::string::npos) __builtin_trap();
  if (!simdjson::validate_utf8(json.data(), json.size())) __builtin_trap();
  boost::system::error_code ec;
  auto parsed = boost::json::parse(json, ec);
  if (ec || !parsed.is_object()) __builtin_trap();
  const auto& o = parsed.as_object();
  if (o.at("event").as_string() != "fuzz" || o.at("level").as_string() != "warn") __builtin_trap();
  if (size <= 200 && simdjson::validate_utf8(value.data(), value.size()) && o.at("reason").as_string() != value)
    __builtin_trap();
  return 0;
}
