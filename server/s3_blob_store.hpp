#pragma once
// Uploaded files in an S3-compatible object store (protocol §9.6), with a
// read-through cache on local disk. The object of a file is
// `<bucket>/files/<first two hex digits>/<sha256>`; instances that share the
// bucket share the files, each with its own --files-dir for staging and cache.
//
// store: a HEAD first; when the object is already there with the same size,
// nothing is sent again (content-addressed: same key, same bytes). Otherwise
// a PUT streams the staged file, signed with its SHA-256 (the store checks
// it); only a 200 is success. The staged file then becomes the cache's copy
// (this instance serves it without a download), or is removed on failure.
//
// local_file: from `<files-dir>/s3-cache/<sha256>`, or a GET streamed to a
// temporary file there, whose SHA-256 must be the key (an object store that
// returns other bytes is an error, never served), then renamed into place.
// Blobs never change, so a cached copy is never stale. The cache keeps the
// most recently used files up to --s3-cache-size (blob_cache: a file handed
// out within the last minute is never removed).
//
// All network and cache work runs on one thread of the store's own, so no
// I/O thread of the server ever waits on the object store or on a file.
#include "server/blob_store.hpp"
#include "server/s3_client.hpp"

#include <chrono>
#include <memory>

namespace parley {

struct config;

struct s3_blob_store_options {
  s3_settings s3;
  std::filesystem::path files_dir;  // staging in files_dir/tmp, cache in files_dir/s3-cache
  std::uint64_t cache_bytes = 1024ull * 1024 * 1024;
  std::chrono::steady_clock::duration cache_grace = std::chrono::minutes(1);
  // An object store sending more than this for one object is cut off (5 GiB:
  // the largest single PUT S3 accepts).
  std::uint64_t max_object_bytes = 5ull * 1024 * 1024 * 1024;
};

// Creates the staging and cache directories, removes what an interrupted
// upload or download left there, and starts the store's thread. Throws when
// the directories cannot be made (a start-up error).
std::shared_ptr<blob_store> make_s3_blob_store(s3_blob_store_options options);

// The store that the S3 options of `cfg` describe, with its files in `files_dir`.
std::shared_ptr<blob_store> make_s3_blob_store(const config& cfg, const std::filesystem::path& files_dir);

// The object key of a blob.
std::string s3_object_key(const std::string& sha256);

}  // namespace parley
