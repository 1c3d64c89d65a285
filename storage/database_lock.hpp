#pragma once
// The channel heads live in the server's memory, so a second server on the
// same database would hand out the same seqs, and a restore under a running
// server would swap its file away. An advisory lock on a sibling file
// (<db>.lock) turns those mistakes into errors. The kernel drops it when the
// process dies, so a crash never leaves it behind.
#include <chrono>
#include <filesystem>

namespace parley {

class database_lock {
 public:
  // Throws std::runtime_error naming the database when the lock is held by
  // another process ("in use by another Parley process") for longer than
  // `wait`, or cannot be taken.
  explicit database_lock(const std::filesystem::path& db_path,
                         std::chrono::milliseconds wait = std::chrono::milliseconds(0));
  ~database_lock() { release(); }
  database_lock(const database_lock&) = delete;
  database_lock& operator=(const database_lock&) = delete;

  void release();

 private:
  int fd_ = -1;
};

}  // namespace parley
