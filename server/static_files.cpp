#include "server/static_files.hpp"

#include "storage/log.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace parley {

namespace {

std::string content_type_for(std::string_view name) {
  static const std::unordered_map<std::string, std::string> types{
      {".html", "text/html; charset=utf-8"},   {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},           {".svg", "image/svg+xml"},
      {".png", "image/png"},                   {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},   {".webmanifest", "application/manifest+json"}};
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos) return "application/octet-stream";
  auto it = types.find(std::string(name.substr(dot)));
  return it == types.end() ? "application/octet-stream" : it->second;
}

std::string strong_etag(const std::string& body) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest);
  static const char* hex = "0123456789abcdef";
  std::string tag = "\"";
  for (int i = 0; i < 16; ++i) {
    tag += hex[digest[i] >> 4];
    tag += hex[digest[i] & 15];
  }
  return tag + "\"";
}

// Reads a regular file without following a symbolic link at its last
// component (the directory walk already refused links above it).
bool read_regular_file(const std::filesystem::path& p, std::size_t max_bytes, std::string& out) {
  int fd = ::open(p.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return false;
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && static_cast<std::size_t>(st.st_size) <= max_bytes;
  if (ok) {
    out.resize(static_cast<std::size_t>(st.st_size));
    std::size_t done = 0;
    while (ok && done < out.size()) {
      auto n = ::read(fd, out.data() + done, out.size() - done);
      if (n <= 0) ok = false;
      else done += static_cast<std::size_t>(n);
    }
  }
  ::close(fd);
  return ok;
}

void skip(const std::filesystem::path& p, std::string_view why) {
  log_event(log_level::warn, "web_asset_skipped", {{"path", p.string()}, {"reason", std::string(why)}});
}

}  // namespace

bool is_servable_name(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

web_assets web_assets::load(const std::filesystem::path& root, const web_asset_limits& limits) {
  namespace fs = std::filesystem;
  web_assets out;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return out;
  std::size_t total = 0;
  // The root itself may be a link (e.g. a packaged install); nothing below it is followed.
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const auto& entry = *it;
    auto name = entry.path().filename().string();
    auto status = entry.symlink_status(ec);
    if (ec) break;
    bool servable = is_servable_name(name) && it.depth() < limits.max_depth;
    if (fs::is_directory(status)) {
      if (!servable) it.disable_recursion_pending();
      continue;
    }
    if (!servable) continue;
    if (fs::is_symlink(status)) {
      skip(entry.path(), "symbolic link");
      continue;
    }
    if (!fs::is_regular_file(status)) continue;
    if (out.files_.size() >= limits.max_files) {
      skip(entry.path(), "too many files");
      continue;
    }
    std::string body;
    if (!read_regular_file(entry.path(), limits.max_file_bytes, body)) {
      skip(entry.path(), "unreadable or over the size limit");
      continue;
    }
    if (total + body.size() > limits.max_total_bytes) {
      skip(entry.path(), "total size limit reached");
      continue;
    }
    total += body.size();
    auto url = "/" + fs::relative(entry.path(), root).generic_string();
    auto etag = strong_etag(body);
    out.files_.emplace(std::move(url), static_file{std::move(body), content_type_for(name), std::move(etag)});
  }
  return out;
}

const static_file* web_assets::find(std::string_view url_path) const {
  std::string key(url_path);
  if (key.empty() || key.front() != '/') return nullptr;
  if (key.back() == '/') key += "index.html";
  auto it = files_.find(key);
  return it == files_.end() ? nullptr : &it->second;
}

}  // namespace parley
