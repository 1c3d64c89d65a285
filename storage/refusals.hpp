#pragma once
// What an engine answers when it does not take an operation at all: both are
// `unavailable`, which clients retry.
#include "protocol/result.hpp"
#include "storage/error_counts.hpp"

namespace parley {

// The engine is shutting down.
inline error storage_stopping() { return make_error(errc::unavailable, "storage is stopping"); }

// The engine's queue (or its operations in flight) is at its cap.
inline error storage_busy() {
  count_storage_error(storage_error_kind::busy);
  return make_error(errc::unavailable, "storage is busy; try again");
}

}  // namespace parley
