#pragma once
// The names of the Redis engine's keys (layout: redis_scripts.hpp).
#include <string>
#include <string_view>

namespace parley {

// The hash tag of a channel: an engagement's channels share one slot.
std::string tag_of(std::string_view ch);

// parley:<tag>:<what>:<ch> ("meta", "events", "cids", "pub", "read", "presence", "sealed").
std::string channel_key(std::string_view ch, std::string_view what);

// The decision log of engagement `eng`.
std::string log_key(std::string_view eng);

// The set of engagements whose main channel holds events (no hash tag).
inline constexpr std::string_view engagements_key = "parley:engagements";

// The same engagements as a sorted set, all scores 0, read in id order a page
// at a time (redis_engagement_index.hpp); and the key that says it was
// completed from the set once (a Redis written before it existed).
inline constexpr std::string_view engagement_index_key = "parley:engagements:by_id";
inline constexpr std::string_view engagement_index_done_key = "parley:engagements:by_id:complete";

// Engagement `eng`'s index of uploaded files and their running total
// (protocol §9.6), with the engagement's hash tag.
std::string files_key(std::string_view eng);

// Engagement `eng`'s snapshot (engine::save_snapshot), with its hash tag:
// written to the master of the engagement's events after them, so a replica
// that has the snapshot has the events it reflects.
std::string snapshot_key(std::string_view eng);

// Engagement `eng`'s webhook outbox keys ("meta", "queue", "failed"), the
// prefix of its entry keys, and entry `id`'s key (layout: redis_scripts.hpp).
std::string webhook_key(std::string_view eng, std::string_view what);
std::string webhook_entry_prefix(std::string_view eng);
std::string webhook_entry_key(std::string_view eng, std::string_view id);

// The global webhook indices (no hash tag; rebuilt from the keys above).
inline constexpr std::string_view webhooks_due_key = "parley:webhooks:due";
inline constexpr std::string_view webhooks_eng_key = "parley:webhooks:eng";
// parley:webhooks:<state>: the entries in that state.
std::string webhooks_state_key(std::string_view state);

// A user's stored availability (protocol §9.3): a hash with the fields
// availability (JSON text), set_at and last_seen (ms). No hash tag: a lookup
// of many users sends one HMGET per user, pipelined.
std::string user_key(std::string_view user_id);

// The pub/sub channel every instance subscribes to: "<instance> <user id>"
// when a user's availability changed.
inline constexpr std::string_view user_changes_channel = "parley:users:changed";

// The due index (engine::set_due): its keys are spread over due_partitions
// sorted sets, each with a hash tag of its own, so that a cluster spreads
// them over its masters; partition p's is parley:{due:<p>}:due.
inline constexpr int due_partitions = 16;
std::string due_key(int partition);
int due_partition_of(std::string_view key);
// Set once every engagement stored before the index existed is in it.
inline constexpr std::string_view due_complete_key = "parley:due:complete";

// The engagement whose set entry an event in `ch` maintains (main channels only).
std::string listed_engagement_of(std::string_view ch);

// The idempotency key's field: length-prefixed, so no sender/cid pair can
// spell another's.
std::string cid_field_of(std::string_view sender, std::string_view cid);

}  // namespace parley
