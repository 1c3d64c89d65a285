#pragma once
// fsync by path: of a file's bytes, or of a directory, which makes the names
// created or renamed in it durable.
#include "protocol/result.hpp"

#include <filesystem>

namespace parley {

// `unavailable` naming the path and the system's reason when it fails.
result<void> fsync_path(const std::filesystem::path& path);

}  // namespace parley
