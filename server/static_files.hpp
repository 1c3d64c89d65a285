#pragma once
// The web client: files under the web root, served at /.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace parley {

struct static_file {
  std::string body;
  std::string content_type;
};

// The file for a URL path ("/" is index.html). Paths that leave the root
// (.., hidden files) and missing files give nothing.
std::optional<static_file> load_static_file(const std::filesystem::path& root, std::string_view url_path);

}  // namespace parley
