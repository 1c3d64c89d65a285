#pragma once
// How often storage failed to carry out an operation, by kind, for /metrics,
// and the errors that count themselves.
// Process-wide counters: the failures arise deep in an engine's threads (a
// statement, a Redis reply, a full queue), far from anything /metrics reads,
// and one process runs one engine.
#include "protocol/result.hpp"

#include <cstdint>
#include <string>

namespace parley {

enum class storage_error_kind {
  busy,         // refused at once: the engine's queue was full
  unavailable,  // storage could not be reached or written (clients retry)
  internal,     // storage answered something it should not have
};
inline constexpr storage_error_kind storage_error_kinds[] = {storage_error_kind::busy, storage_error_kind::unavailable,
                                                             storage_error_kind::internal};

void count_storage_error(storage_error_kind kind);

// The errors storage answers with, counted as they are made.
inline error storage_unavailable(std::string message) {
  count_storage_error(storage_error_kind::unavailable);
  return make_error(errc::unavailable, std::move(message));
}
inline error storage_fault(std::string message) {
  count_storage_error(storage_error_kind::internal);
  return make_error(errc::internal, std::move(message));
}
std::uint64_t storage_errors(storage_error_kind kind);
const char* storage_error_name(storage_error_kind kind);

}  // namespace parley
