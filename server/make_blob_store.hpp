#pragma once
// The file store the configuration asks for (protocol §9.6): the directory
// store at --files-dir. Every store is made here and only here.
#include "server/blob_store.hpp"
#include "server/config.hpp"

#include <memory>

namespace parley {

// Throws std::runtime_error when the store cannot be used.
std::shared_ptr<blob_store> make_blob_store(const config& cfg);

}  // namespace parley
