#pragma once
// The embedded engine: one SQLite database in WAL mode (DESIGN §2).
// One writer thread with group commit: every append waiting in its queue goes
// into one transaction, and each caller is answered after that commit.
// Reads run on a reader thread with their own connection.
#include "protocol/signing.hpp"
#include "storage/engine.hpp"

#include <chrono>
#include <filesystem>
#include <memory>

namespace parley {

struct local_engine_options {
  std::filesystem::path db_path;  // e.g. <data-dir>/parley.db; created when missing
  int max_batch = 512;            // appends per transaction at most
  // Requests waiting for the writer, and for the reader, at most: past it a
  // request is answered `unavailable` at once, so memory stays bounded when
  // the disk cannot keep up (a read marker past it is dropped).
  std::size_t max_queue = 10000;
  // Signs every decision record (protocol §9.11); null: records carry no kid/sig.
  std::shared_ptr<const ed25519_key> signer;
  // Stores the webhooks appends cause (protocol §9.8, webhook_hooks.hpp) in
  // their transaction. Off (no --webhook-url): nothing is stored, so the
  // outbox cannot grow without a sender to empty it.
  bool webhooks = false;
  // How long to wait for another Parley process to release the database (it
  // drains while this one takes over the port); zero: refuse at once.
  std::chrono::milliseconds lock_wait{0};
};

// Throws std::runtime_error at start-up when the database cannot be opened or migrated.
std::unique_ptr<engine> make_local_engine(const local_engine_options& options);

}  // namespace parley
