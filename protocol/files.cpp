#include "protocol/files.hpp"

#include "protocol/json_input.hpp"

#include <simdjson.h>

#include <array>
#include <charconv>
#include <utility>

namespace parley {
using detail::bad_request;

namespace {

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// RFC 9110 token characters (a media type's type and subtype).
bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  if (s.empty() || s.size() > 127) return false;
  for (char c : s)
    if (!is_token_char(c)) return false;
  return true;
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// The extensions people exchange most in a project, and what they are.
// Anything else is served as the uploader declared it, or as bytes.
constexpr std::array<std::pair<std::string_view, std::string_view>, 32> known_extensions = {{
    {"pdf", "application/pdf"},
    {"txt", "text/plain"},
    {"md", "text/markdown"},
    {"csv", "text/csv"},
    {"json", "application/json"},
    {"xml", "application/xml"},
    {"html", "text/html"},
    {"htm", "text/html"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"svg", "image/svg+xml"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"tar", "application/x-tar"},
    {"7z", "application/x-7z-compressed"},
    {"doc", "application/msword"},
    {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"xls", "application/vnd.ms-excel"},
    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"ppt", "application/vnd.ms-powerpoint"},
    {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
    {"odt", "application/vnd.oasis.opendocument.text"},
    {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"mov", "video/quicktime"},
    {"wav", "audio/wav"},
    {"rtf", "application/rtf"},
    {"epub", "application/epub+zip"},
}};

bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool is_sha256_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!is_lower_hex(c)) return false;
  return true;
}

result<void> check_file_name(std::string_view name) {
  if (name.empty()) return bad_request("the file name must not be empty");
  if (!simdjson::validate_utf8(name.data(), name.size())) return bad_request("the file name must be UTF-8");
  if (detail::count_code_points(name) > max_file_name_chars)
    return bad_request("the file name exceeds " + std::to_string(max_file_name_chars) + " characters");
  for (std::size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    if (c == '/' || c == '\\') return bad_request("the file name must not contain '/' or '\\'");
    if (c < 0x20 || c == 0x7f) return bad_request("the file name must not contain control characters");
    // C1 controls (U+0080..U+009F) are 0xC2 0x80..0x9F in UTF-8.
    if (c == 0xc2 && i + 1 < name.size() && static_cast<unsigned char>(name[i + 1]) <= 0x9f)
      return bad_request("the file name must not contain control characters");
  }
  return {};
}

std::string media_type_for(std::string_view name, std::string_view declared) {
  if (auto dot = name.rfind('.'); dot != std::string_view::npos && dot + 1 < name.size()) {
    auto ext = lowercase(name.substr(dot + 1));
    for (const auto& [known, type] : known_extensions)
      if (ext == known) return std::string(type);
  }
  auto essence = trim(declared.substr(0, declared.find(';')));
  auto slash = essence.find('/');
  if (slash != std::string_view::npos && is_token(essence.substr(0, slash)) && is_token(essence.substr(slash + 1)))
    return lowercase(essence);
  return "application/octet-stream";
}

std::string content_disposition(std::string_view name) {
  // RFC 5987 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~"; everything else is %XX of its UTF-8 bytes.
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out = "attachment; filename*=UTF-8''";
  for (char ch : name) {
    auto c = static_cast<unsigned char>(ch);
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 std::string_view("!#$&+-.^_`|~").find(ch) != std::string_view::npos;
    if (plain) {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  return out;
}

byte_range parse_range(std::string_view header, std::uint64_t size) {
  using outcome = byte_range::outcome;
  byte_range whole;
  header = trim(header);
  constexpr std::string_view unit = "bytes=";
  if (header.size() <= unit.size() || lowercase(header.substr(0, unit.size())) != unit) return whole;
  auto spec = trim(header.substr(unit.size()));
  // Several ranges: served whole, which RFC 9110 allows (a server may ignore Range).
  if (spec.find(',') != std::string_view::npos) return whole;
  auto dash = spec.find('-');
  if (dash == std::string_view::npos) return whole;
  auto first_text = trim(spec.substr(0, dash));
  auto last_text = trim(spec.substr(dash + 1));
  std::uint64_t first = 0, last = 0;
  if (first_text.empty()) {
    // "-n": the last n bytes.
    if (!parse_u64(last_text, last)) return whole;
    if (last == 0 || size == 0) return {outcome::unsatisfiable, 0, 0};
    return {outcome::partial, last >= size ? 0 : size - last, size - 1};
  }
  if (!parse_u64(first_text, first)) return whole;
  if (last_text.empty()) {
    last = size == 0 ? 0 : size - 1;
  } else {
    if (!parse_u64(last_text, last)) return whole;
    if (last < first) return whole;  // invalid: ignored
  }
  if (first >= size) return {outcome::unsatisfiable, 0, 0};
  if (last >= size) last = size - 1;
  return {outcome::partial, first, last};
}

result<boost::json::array> files_field(const boost::json::value& v, std::size_t min) {
  if (!v.is_array()) return bad_request("files must be an array");
  const auto& in = v.get_array();
  if (in.size() > max_attached_files)
    return bad_request("files holds at most " + std::to_string(max_attached_files) + " entries");
  if (in.size() < min) return bad_request("files must hold at least " + std::to_string(min) + " entry");
  boost::json::array out;
  std::vector<std::string_view> seen;
  for (const auto& item : in) {
    if (!item.is_object()) return bad_request("each entry of files must be an object {sha256, name}");
    const auto& o = item.get_object();
    for (const auto& member : o)
      if (member.key() != "sha256" && member.key() != "name")
        return bad_request("unknown field " + detail::display_name(member.key()) + " in files");
    const auto* sha = o.if_contains("sha256");
    const auto* name = o.if_contains("name");
    if (!sha || !sha->is_string() || !is_sha256_hex(sha->get_string()))
      return bad_request("files[].sha256 must be 64 lowercase hex digits");
    if (!name || !name->is_string()) return bad_request("files[].name must be a string");
    if (auto ok = check_file_name(name->get_string()); !ok) return ok.err();
    std::string_view hash = sha->get_string();
    for (auto s : seen)
      if (s == hash) return bad_request("files names the same sha256 twice");
    seen.push_back(hash);
    out.push_back(boost::json::object{{"sha256", sha->get_string()}, {"name", name->get_string()}});
  }
  return out;
}

std::vector<std::string> attached_hashes(const boost::json::object& body) {
  std::vector<std::string> out;
  const auto* files = body.if_contains("files");
  if (!files || !files->is_array()) return out;
  for (const auto& f : files->get_array())
    if (const auto* o = f.if_object(); o && o->contains("sha256") && o->at("sha256").is_string())
      out.emplace_back(o->at("sha256").get_string());
  return out;
}

result<void> resolve_files(boost::json::object& body, const std::unordered_map<std::string, indexed_file>& index) {
  auto* files = body.if_contains("files");
  if (!files || !files->is_array()) return {};
  boost::json::array resolved;
  for (const auto& f : files->get_array()) {
    const auto& o = f.as_object();
    std::string sha(o.at("sha256").as_string());
    auto it = index.find(sha);
    if (it == index.end()) return detail::not_found("no file " + sha + " was uploaded to this engagement");
    resolved.push_back(boost::json::object{{"sha256", sha},
                                           {"name", o.at("name")},
                                           {"size", static_cast<std::int64_t>(it->second.size)},
                                           {"type", it->second.type}});
  }
  *files = std::move(resolved);
  return {};
}

}  // namespace parley
