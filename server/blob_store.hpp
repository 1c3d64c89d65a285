#pragma once
// Where uploaded files live (protocol §9.6). Files are content-addressed by
// their SHA-256 and never change, so a store only adds and reads. Two stores:
// a directory (local or shared by every instance: local_blob_store) and an
// S3-compatible object store (s3_blob_store).
//
// Uploads are always staged as a file on local disk first (the HTTP session
// writes the body there while hashing it); `store` then makes that file
// durable under its hash. Downloads are served from a local file, so that
// `Range` and `If-None-Match` work the same for every store.
//
// Threading: every method may be called from any thread; `done` may run on
// any thread (post to your executor).
#include "protocol/result.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace parley {

class blob_store {
 public:
  virtual ~blob_store() = default;

  // The directory uploads are staged in: on the same file system as the
  // store's own files where it has any, so that storing is a rename.
  virtual std::filesystem::path staging_dir() const = 0;

  // Makes the staged file `staged` (`size` bytes whose hex SHA-256 is
  // `sha256`) durable under its hash, and removes `staged` in every case.
  // `done` runs once the bytes would survive a crash (fsync, or the object
  // store's success answer). Storing a hash already stored succeeds.
  virtual void store(std::filesystem::path staged, std::string sha256, std::uint64_t size,
                     std::function<void(result<void>)> done) = 0;

  // A local file holding exactly the bytes of `sha256`, to be served
  // (`not_found` when the store has no such blob). The file stays readable
  // while it is served: stores never change or remove a file they handed out.
  virtual void local_file(std::string sha256, std::function<void(result<std::filesystem::path>)> done) = 0;
};

}  // namespace parley
