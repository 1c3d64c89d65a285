#pragma once
// Snapshots of an engagement's state: the state as one JSON text, stored with
// the seqs it reflects (its `applied`), so that loading an engagement reads
// the snapshot and applies only the events after it instead of replaying every
// event. Pure: no I/O; the caller stores and loads the text.
#include "protocol/engagement.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley {

// Version of the snapshot text. Bumped whenever engagement_state gains or changes a field or
// apply() folds an event differently: a snapshot of another format is ignored (the engagement is
// replayed from its events and snapshotted again), so a stored snapshot never outlives the rules that made it.
inline constexpr std::int64_t snapshot_format = 1;

// The whole state as one JSON text {"format":1, ...every field...}.
std::string snapshot_text(const engagement_state& s);

// The state back; none when the text is not a snapshot of this format, or any field is missing or of the wrong type
// (a damaged snapshot is then simply not used).
std::optional<engagement_state> parse_snapshot(std::string_view text);

}  // namespace parley
