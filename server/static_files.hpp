#pragma once
// The web client, served at /. Loaded into memory once at start from a fixed
// set of files, so that a request can name nothing but those files: no path
// in a URL ever reaches the file system.
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>

namespace parley {

struct static_file {
  std::string body;
  std::string content_type;
  std::string etag;
};

struct web_asset_limits {
  std::size_t max_file_bytes = 4 * 1024 * 1024;
  std::size_t max_total_bytes = 64 * 1024 * 1024;
  std::size_t max_files = 1000;
  int max_depth = 8;
};

class web_assets {
 public:
  web_assets() = default;

  // Every regular file under `root` whose path components are all of
  // [A-Za-z0-9._-] and do not start with a dot; symbolic links, special files
  // and anything over the limits are skipped (with one line on stderr each).
  // A missing root gives an empty set.
  static web_assets load(const std::filesystem::path& root, const web_asset_limits& limits = {});

  // The file for a URL path as it came in (no decoding): "/" and "/dir/" mean
  // their index.html. Anything else not loaded is null.
  const static_file* find(std::string_view url_path) const;

  std::size_t size() const { return files_.size(); }

 private:
  std::unordered_map<std::string, static_file> files_;  // by "/relative/path"
};

// Whether one path component may be served: [A-Za-z0-9._-]+, not starting with a dot.
bool is_servable_name(std::string_view name);

}  // namespace parley
