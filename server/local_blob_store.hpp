#pragma once
// The directory store of uploaded files (protocol §9.6): <dir>/ab/cd/<sha256>
// (the hash's first two and next two hex digits), uploads staged in <dir>/tmp
// on the same file system. A directory shared by every instance (NFS or the
// like) serves a cluster: files never change once stored, and storing the
// same hash twice renames identical bytes over each other.
//
// Blocking file I/O (fsync, rename, mkdir) runs on the store's own thread,
// never on an I/O thread (DESIGN §4).
#include "server/blob_store.hpp"
#include "storage/job_queue.hpp"

#include <filesystem>
#include <functional>
#include <thread>

namespace parley {

class local_blob_store final : public blob_store {
 public:
  // Creates `dir` and its staging directory when missing and removes what
  // an interrupted upload left staged (also after a crash). Throws
  // std::runtime_error when the directory cannot be used.
  explicit local_blob_store(std::filesystem::path dir);
  ~local_blob_store() override;

  std::filesystem::path staging_dir() const override { return dir_ / "tmp"; }
  void store(std::filesystem::path staged, std::string sha256, std::uint64_t size,
             std::function<void(result<void>)> done) override;
  void local_file(std::string sha256, std::function<void(result<std::filesystem::path>)> done) override;

  // Where a blob lives (whether or not it is stored).
  std::filesystem::path path_of(const std::string& sha256) const;

 private:
  using job = std::function<void(const error*)>;
  void post(job j);
  void loop();
  result<void> do_store(const std::filesystem::path& staged, const std::string& sha256);

  std::filesystem::path dir_;
  job_queue<job> queue_;
  std::thread thread_;
};

}  // namespace parley
