#pragma once
// Files of an engagement (protocol §9.6), the pure parts: upload names, hashes
// as they appear in paths and bodies, the media type an upload is served
// with, the Content-Disposition of a download, byte ranges, and the `files`
// of a message or delivery body (their shape, then their resolution against
// the engagement's index of uploads).
#include "protocol/result.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace parley {

// A body carries at most this many attached files.
inline constexpr std::size_t max_attached_files = 20;
inline constexpr std::size_t max_file_name_chars = 255;

// 64 lowercase hex digits: the only spelling of a file's SHA-256 in paths and bodies.
bool is_sha256_hex(std::string_view s);

// A file name: valid UTF-8, 1–255 characters, no '/', '\' or control
// characters (C0, DEL, C1). `bad_request` naming the rule otherwise.
result<void> check_file_name(std::string_view name);

// The media type a file is indexed (and served) with: from the name's
// extension when it is a known one, else `declared` (the upload's
// Content-Type) when it is a well-formed type/subtype, else
// application/octet-stream. Parameters of `declared` are dropped.
std::string media_type_for(std::string_view name, std::string_view declared);

// `attachment; filename*=UTF-8''<name>` with the name percent-encoded as RFC 5987 says.
std::string content_disposition(std::string_view name);

// The answer to a Range header for a file of `size` bytes (RFC 9110 §14):
// `whole` for no header, a header that is not one well-formed `bytes=` range
// (several ranges are served whole too), `partial` with [first, last], or
// `unsatisfiable` (416) when the range starts at or past the end.
struct byte_range {
  enum class outcome { whole, partial, unsatisfiable };
  outcome kind = outcome::whole;
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};
byte_range parse_range(std::string_view header, std::uint64_t size);

// The `files` field of a message or delivery body: an array of at most 20
// {sha256, name} objects with distinct hashes, copied into a fresh array.
// `min` is the fewest allowed (a delivery needs one).
result<boost::json::array> files_field(const boost::json::value& v, std::size_t min);

// The hashes a body's `files` names (none when it has no such field).
std::vector<std::string> attached_hashes(const boost::json::object& body);

// What the engagement's index knows of an uploaded file.
struct indexed_file {
  std::uint64_t size = 0;
  std::string type;
};

// Replaces each {sha256, name} of the body's `files` with {sha256, name,
// size, type} from `index` (the engagement's uploads by hash). A hash the
// index lacks is `not_found` and the body is left unchanged.
result<void> resolve_files(boost::json::object& body, const std::unordered_map<std::string, indexed_file>& index);

}  // namespace parley
