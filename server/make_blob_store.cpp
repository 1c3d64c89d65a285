#include "server/make_blob_store.hpp"

#include "server/local_blob_store.hpp"
#include "server/s3_blob_store.hpp"

namespace parley {

std::shared_ptr<blob_store> make_blob_store(const config& cfg) {
  auto files_dir = cfg.files_dir.empty() ? cfg.data_dir / "files" : cfg.files_dir;
  // With an object store, the files directory holds only this instance's staging and cache.
  if (!cfg.s3_endpoint.empty()) return make_s3_blob_store(cfg, files_dir);
  return std::make_shared<local_blob_store>(files_dir);
}

}  // namespace parley
