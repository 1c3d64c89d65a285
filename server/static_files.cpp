#include "server/static_files.hpp"

#include <fstream>
#include <sstream>
#include <unordered_map>

namespace parley {

namespace {

std::string content_type_for(const std::filesystem::path& p) {
  static const std::unordered_map<std::string, std::string> types{
      {".html", "text/html; charset=utf-8"},   {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},           {".svg", "image/svg+xml"},
      {".png", "image/png"},                   {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},   {".webmanifest", "application/manifest+json"}};
  auto it = types.find(p.extension().string());
  return it == types.end() ? "application/octet-stream" : it->second;
}

}  // namespace

std::optional<static_file> load_static_file(const std::filesystem::path& root, std::string_view url_path) {
  if (url_path.empty() || url_path.front() != '/') return std::nullopt;
  std::string rel(url_path.substr(1));
  if (rel.empty() || rel.back() == '/') rel += "index.html";
  // Only plain relative names: no "..", no hidden files, no backslashes or NULs.
  std::filesystem::path p(rel);
  for (const auto& part : p) {
    auto s = part.string();
    if (s.empty() || s.front() == '.' || s.find('\\') != std::string::npos || s.find('\0') != std::string::npos)
      return std::nullopt;
  }
  auto full = root / p;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(full, ec)) return std::nullopt;
  std::ifstream in(full, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return static_file{ss.str(), content_type_for(full)};
}

}  // namespace parley
