#include "storage/database_lock.hpp"

#include "storage/sqlite_errors.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace parley {

database_lock::database_lock(const std::filesystem::path& db_path) {
  std::string lock_path = db_path.string() + ".lock";
  fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_open_error(db_path, "cannot create " + lock_path + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    release();
    if (err == EWOULDBLOCK) throw_open_error(db_path, "in use by another Parley process");
    throw_open_error(db_path, "cannot lock " + lock_path + ": " + std::strerror(err));
  }
}

void database_lock::release() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace parley
