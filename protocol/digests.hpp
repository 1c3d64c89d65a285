#pragma once
// Offline digests (protocol §9.8 `notify.digest`): a party who has had unread
// events in eng:<id> for `after` (15 min) and is not present gets one
// digest, at most one per party and engagement every `every` (1 h); the
// platform turns it into e-mail. Pure: the caller reads the channel's tail,
// the read markers, presence and the last digest, and passes the clock.
//
// A digest covers a stretch of unread events: those after the party's read
// point (their read marker, or their own latest post: who posts has seen the
// channel) and after the last digest's `through`. It is named by the stretch's
// first seq, so every instance that finds it due makes the same webhook id
// and the outbox stores it once. Once sent, only newer events can start the
// next stretch: a party is not mailed again about what a digest already told.
#include "protocol/engagement.hpp"
#include "protocol/service_levels.hpp"

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

struct digest_settings {
  std::int64_t after_ms = 15LL * 60 * 1000;  // --digest-after
  std::int64_t every_ms = 60LL * 60 * 1000;  // --digest-every
};

// The watcher reads this many of eng:<id>'s latest events for a check: a
// party's own latest post older than that is not seen (their read marker
// still counts), and a stretch that began before them is timed from the
// oldest of them.
constexpr int digest_tail_events = 50;
// `unread` stops counting here: the platform says "1000 or more".
constexpr std::int64_t max_digest_unread = 1000;

// One event of eng:<id>, as much as the rule needs of it.
struct tail_event {
  std::int64_t seq = 0;
  std::int64_t ts = 0;
  std::string from;  // the poster's user id
};

// eng:<id>'s head and its latest events, ascending (at most digest_tail_events).
struct channel_tail {
  std::int64_t head = 0;
  std::vector<tail_event> events;
};

// A party of the engagement: the users its invitation names, or in a
// first-use engagement (which names none) the last user of each side who
// posted a message. Support, bots and service never get digests.
struct digest_party {
  std::string user;
  side party = side::client;
};
std::vector<digest_party> digest_parties(const engagement_state& s);

// The last digest sent to a party: when, and the head it covered (zeros: none).
struct last_digest {
  std::int64_t at = 0;
  std::int64_t through = 0;
};

// What the watcher found of one party.
struct party_reading {
  digest_party who;
  std::int64_t read_seq = 0;  // their read marker on eng:<id> (0: none)
  bool present = false;       // joined to eng:<id> on any instance
  last_digest last;
};

struct digest {
  std::string user;
  std::int64_t first = 0;    // the stretch's first unread seq: it names the digest
  std::int64_t through = 0;  // the head it covers
  std::int64_t unread = 0;   // events by others after the read point, at most max_digest_unread
  bool owed_reply = false;   // the party owes a reply (§4 owed_reply)
  std::optional<std::int64_t> next_due;  // the earliest due of what the party owes
};

struct digest_decision {
  std::optional<digest> send;              // due now
  std::optional<std::int64_t> look_again;  // when it may become due (none: only a new event can make it so)
};

// Whether `p` is due a digest at `now` and, if not, when to look again.
// Never for a closed or declined engagement; never while the party is present
// (looked at again `after` later); never within `every` of the last digest.
digest_decision decide_digest(const engagement_state& s, const party_reading& p, const channel_tail& tail,
                              const digest_settings& settings, const sla_windows& windows, std::int64_t now);

// The earliest due of what `who` owes: their reply (§4, the reply window),
// the review of a delivery awaiting the client (§9.6 review_due), a decision
// on an open proposal of the other side (its expiry, §9.4); none when nothing.
std::optional<std::int64_t> owed_next_due(const engagement_state& s, const digest_party& who,
                                          const sla_windows& windows);

// The webhook entry's id: "wh_" + 32 hex of SHA-256 over the engagement, the
// user and the stretch's first seq; the same on every instance.
std::string digest_id(std::string_view eng, const digest& d);
// The entry's `data`: {user, unread, owed_reply, next_due} (next_due null when none).
boost::json::object digest_data(const digest& d);

}  // namespace parley
