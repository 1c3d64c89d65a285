#pragma once
// What both engines do to an append before they write it, as pure functions
// (no database, no clock): check the request, give its events their seqs and
// one ts from the channel heads, and complete its decision record. The
// embedded engine applies the plan inside its transaction; the Redis engine
// computes it from a state read and has its append script check atomically
// that the heads and the log's tail it was made from still hold.
#include "protocol/decision_log.hpp"
#include "protocol/event.hpp"
#include "protocol/result.hpp"
#include "protocol/signing.hpp"
#include "storage/engine.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace parley {

// A channel's head: its latest seq and that event's ts.
struct channel_head {
  std::int64_t seq = 0;
  std::int64_t ts = 0;
};

// The last record of an engagement's decision log (n = 0: the log is empty).
struct log_tail {
  std::int64_t n = 0;
  std::string hash = genesis_prev;
};

// A decision record made final: n, prev, ts, decision_seq, hash (and kid, sig).
struct sealed_record {
  std::string eng;
  std::int64_t n = 0;
  std::string hash;
  std::string json;  // the record as stored
};

struct append_plan {
  std::vector<event> events;  // with seq and ts; the attached one carries the record's summary
  std::int64_t ts = 0;
  std::map<std::string, channel_head> heads;  // the heads of the event channels after the append
  std::optional<sealed_record> record;
};

// A request an engine can append: events, a record attached to one of them
// and naming its engagement. Anything else is a fault of the caller (`internal`).
result<void> check_append(const append_request& req);

// The engagement a record belongs to ("" when it names none).
std::string record_engagement(const record_draft& draft);

// The channels a request touches, each once: the events' channels in order
// (the first event's first), then those only named by expect_heads.
std::vector<std::string> touched_channels(const append_request& req);

// The answer when an expect_heads entry does not hold (`conflict`).
error stale_head(const std::string& ch, std::int64_t head, std::int64_t expected);

// One ts for the whole request, never older than the head of any channel it
// appends to: ts stays non-decreasing per channel even if the clock steps back.
std::int64_t append_ts(std::int64_t now, const std::vector<channel_head>& heads);

// Plans a checked request. `heads` holds the current head of every channel of
// `events` (an absent one is empty), `tail` the record's log when there is a
// record. The record is sealed with `signer` (null: no kid and sig).
append_plan plan_append(std::vector<event> events, const std::optional<record_draft>& record,
                        const std::map<std::string, channel_head>& heads, std::int64_t now, const log_tail& tail,
                        const ed25519_key* signer);

// A committed event read back from storage (a duplicate, a cid lookup), with
// its JSON parsed once here.
committed_event stored_commit(std::string ch, std::int64_t seq, std::int64_t ts, std::string json);

// A committed event of this instance's own append.
committed_event own_commit(event ev, std::shared_ptr<const std::string> json);

}  // namespace parley
