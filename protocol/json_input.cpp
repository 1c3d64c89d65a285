#include "protocol/json_input.hpp"

#include <simdjson.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <cmath>
#include <limits>

namespace parley::detail {

bool is_time_zone_name(std::string_view tz) {
  bool part_start = true;
  for (char c : tz) {
    if (c == '/') {
      if (part_start) return false;
      part_start = true;
      continue;
    }
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    if (part_start ? !letter : !(letter || digit || c == '_' || c == '+' || c == '-')) return false;
    part_start = false;
  }
  return !tz.empty() && !part_start;
}

namespace {

namespace dom = simdjson::dom;

json_input_error bad(std::string message, bool garbage = false) {
  return json_input_error{make_error(errc::bad_request, std::move(message)), garbage};
}

// Recursive copy of a simdjson element into Boost.JSON. Recursion is bounded by
// `max_depth`, which the callers keep small.
std::optional<json_input_error> convert(dom::element e, boost::json::value& out, int depth, int max_depth) {
  switch (e.type()) {
    case dom::element_type::OBJECT: {
      if (depth > max_depth) return bad("nesting deeper than " + std::to_string(max_depth) + " levels");
      dom::object src;
      if (e.get_object().get(src)) return bad("invalid JSON", true);
      boost::json::object& dst = out.emplace_object();
      dst.reserve(src.size());
      for (dom::key_value_pair field : src) {
        // Boost.JSON objects are hashed, so this check stays linear even for many keys.
        auto [it, inserted] = dst.emplace(field.key, nullptr);
        if (!inserted) return bad("duplicate key " + display_name(field.key));
        if (auto err = convert(field.value, it->value(), depth + 1, max_depth)) return err;
      }
      return std::nullopt;
    }
    case dom::element_type::ARRAY: {
      if (depth > max_depth) return bad("nesting deeper than " + std::to_string(max_depth) + " levels");
      dom::array src;
      if (e.get_array().get(src)) return bad("invalid JSON", true);
      boost::json::array& dst = out.emplace_array();
      dst.reserve(src.size());
      for (dom::element item : src) {
        dst.emplace_back(nullptr);
        if (auto err = convert(item, dst.back(), depth + 1, max_depth)) return err;
      }
      return std::nullopt;
    }
    case dom::element_type::INT64: {
      std::int64_t v = 0;
      if (e.get_int64().get(v)) return bad("invalid JSON", true);
      out = v;
      return std::nullopt;
    }
    case dom::element_type::UINT64: {
      std::uint64_t v = 0;
      if (e.get_uint64().get(v)) return bad("invalid JSON", true);
      if (v <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        out = static_cast<std::int64_t>(v);
      } else {
        out = v;
      }
      return std::nullopt;
    }
    case dom::element_type::DOUBLE: {
      double v = 0;
      if (e.get_double().get(v)) return bad("invalid JSON", true);
      out = v;
      return std::nullopt;
    }
    case dom::element_type::STRING: {
      std::string_view v;
      if (e.get_string().get(v)) return bad("invalid JSON", true);
      out.emplace_string().assign(v.data(), v.size());
      return std::nullopt;
    }
    case dom::element_type::BOOL: {
      bool v = false;
      if (e.get_bool().get(v)) return bad("invalid JSON", true);
      out = v;
      return std::nullopt;
    }
    case dom::element_type::NULL_VALUE:
      out = nullptr;
      return std::nullopt;
  }
  return bad("invalid JSON", true);
}

std::optional<std::int64_t> peek_id(dom::element root) {
  dom::object obj;
  if (root.get_object().get(obj)) return std::nullopt;
  std::optional<std::int64_t> id;
  int seen = 0;
  for (dom::key_value_pair field : obj) {
    if (field.key != "id") continue;
    ++seen;
    if (field.value.type() == dom::element_type::INT64) {
      std::int64_t v = 0;
      if (!field.value.get_int64().get(v)) id = v;
    }
  }
  // A duplicated id is ambiguous: answer without one rather than guess.
  if (seen != 1) return std::nullopt;
  return id;
}

// As peek_id, for a document that the DOM parser refused over a number: the
// On-Demand parser skips the values it is not asked for, so the id is found
// even when a number elsewhere is out of range, and the reply can carry it.
std::optional<std::int64_t> peek_id_lazily(const std::string& padded, std::size_t length) {
  thread_local simdjson::ondemand::parser lazy;
  simdjson::ondemand::document doc;
  if (lazy.iterate(padded.data(), length, padded.size()).get(doc)) return std::nullopt;
  simdjson::ondemand::object obj;
  if (doc.get_object().get(obj)) return std::nullopt;
  std::optional<std::int64_t> id;
  int seen = 0;
  for (auto field : obj) {
    std::string_view key;
    if (field.error() || field.unescaped_key().get(key)) return std::nullopt;
    if (key != "id") continue;
    ++seen;
    std::int64_t v = 0;
    if (!field.value().get_int64().get(v)) id = v;
  }
  if (seen != 1) return std::nullopt;
  return id;
}

}  // namespace

std::variant<boost::json::value, json_input_error> parse_strict_json(std::string_view text, int max_depth,
                                                                     std::optional<std::int64_t>* top_level_id) {
  // One parser and one padded scratch buffer per thread: parsing a frame then
  // allocates nothing once they have grown to the largest frame seen (frames
  // are capped at 64 KiB by the transport).
  thread_local dom::parser parser;
  thread_local std::string scratch;
  scratch.assign(text.data(), text.size());
  scratch.append(simdjson::SIMDJSON_PADDING, '\0');

  dom::element root;
  auto code = parser.parse(scratch.data(), text.size(), false).get(root);
  if (code == simdjson::DEPTH_ERROR) {
    return bad("nesting deeper than " + std::to_string(max_depth) + " levels");
  }
  // Numbers beyond a double's range (1e400) or beyond 64-bit integers are a
  // bad request, not garbage: the frame is otherwise well-formed JSON.
  if (code == simdjson::NUMBER_ERROR) {
    if (top_level_id) *top_level_id = peek_id_lazily(scratch, text.size());
    return bad("a number is malformed or out of range");
  }
  // simdjson refuses truncated input, bad UTF-8 and anything after the root value ("{}{}", "{} x").
  if (code != simdjson::SUCCESS) return bad("invalid JSON", true);

  if (top_level_id) *top_level_id = peek_id(root);
  boost::json::value out;
  if (auto err = convert(root, out, 1, max_depth)) return *err;
  return out;
}

result<void> check_i_json_numbers(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::int64:
      if (v.get_int64() > max_exact_integer || v.get_int64() < -max_exact_integer) break;
      return {};
    case boost::json::kind::uint64:
      if (v.get_uint64() > static_cast<std::uint64_t>(max_exact_integer)) break;
      return {};
    case boost::json::kind::double_:
      if (!std::isfinite(v.get_double())) {
        return make_error(errc::bad_request, "numbers must be finite");
      }
      return {};
    case boost::json::kind::array:
      for (const auto& item : v.get_array()) {
        if (auto numbers = check_i_json_numbers(item); !numbers) return numbers;
      }
      return {};
    case boost::json::kind::object:
      for (const auto& member : v.get_object()) {
        if (auto numbers = check_i_json_numbers(member.value()); !numbers) return numbers;
      }
      return {};
    default:
      return {};
  }
  return make_error(errc::bad_request, "integers must lie within ±9007199254740991 (I-JSON, RFC 7493)");
}

std::size_t count_code_points(std::string_view utf8) {
  std::size_t n = 0;
  for (unsigned char c : utf8) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::string display_name(std::string_view name) {
  constexpr std::size_t max_bytes = 64;
  if (name.size() <= max_bytes) return std::string(name);
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
  return std::string(name.substr(0, cut)) + "...";
}

}  // namespace parley::detail
