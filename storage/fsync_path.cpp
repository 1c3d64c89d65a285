#include "storage/fsync_path.hpp"

#include "storage/error_counts.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace parley {

result<void> fsync_path(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return storage_unavailable("cannot open " + path.string() + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return storage_unavailable("cannot fsync " + path.string() + ": " + std::strerror(err));
  return {};
}

}  // namespace parley
