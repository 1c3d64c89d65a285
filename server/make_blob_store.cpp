#include "server/make_blob_store.hpp"

#include "server/local_blob_store.hpp"

namespace parley {

std::shared_ptr<blob_store> make_blob_store(const config& cfg) {
  return std::make_shared<local_blob_store>(cfg.files_dir.empty() ? cfg.data_dir / "files" : cfg.files_dir);
}

}  // namespace parley
