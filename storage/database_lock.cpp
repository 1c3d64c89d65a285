#include "storage/database_lock.hpp"

#include "storage/log.hpp"
#include "storage/sqlite_errors.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

namespace parley {

database_lock::database_lock(const std::filesystem::path& db_path, std::chrono::milliseconds wait) {
  std::string lock_path = db_path.string() + ".lock";
  fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_open_error(db_path, "cannot create " + lock_path + ": " + std::strerror(errno));
  // Polled rather than a blocking flock: the wait has an end, and says once what it waits for.
  auto give_up = std::chrono::steady_clock::now() + wait;
  bool said = false;
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err == EWOULDBLOCK && std::chrono::steady_clock::now() < give_up) {
      if (!said)
        log_event(log_level::info, "waiting_for_database", {{"database", db_path.string()}, {"wait_ms", std::to_string(wait.count())}});
      said = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
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
