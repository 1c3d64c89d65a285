#include "storage/error_counts.hpp"

#include <atomic>

namespace parley {
namespace {
std::atomic<std::uint64_t> counts[std::size(storage_error_kinds)];
}

void count_storage_error(storage_error_kind kind) {
  counts[static_cast<int>(kind)].fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t storage_errors(storage_error_kind kind) {
  return counts[static_cast<int>(kind)].load(std::memory_order_relaxed);
}

const char* storage_error_name(storage_error_kind kind) {
  switch (kind) {
    case storage_error_kind::busy: return "busy";
    case storage_error_kind::unavailable: return "unavailable";
    case storage_error_kind::internal: return "internal";
  }
  return "unknown";
}

}  // namespace parley
