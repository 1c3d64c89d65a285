#pragma once
// The engagement state machine (protocol §1, §3 kinds, §4): what a post may do
// (`check`), and how committed events change the state (`apply`). Pure: no
// clock of its own, no I/O; the caller serialises check + append per engagement.
#include "protocol/channel.hpp"
#include "protocol/decision_log.hpp"
#include "protocol/event.hpp"
#include "protocol/result.hpp"
#include "protocol/token.hpp"
#include "protocol/user.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley {

// `invited` comes before `discovery` and `declined` after `closed` (protocol
// §9.1): both only for engagements created by the platform; `declined` is
// terminal and never a step of the v1 order.
enum class engagement_phase { invited, discovery, agreement, active, completion, closed, declined };
inline constexpr std::size_t engagement_phase_count = 7;
std::string_view phase_name(engagement_phase p);
std::optional<engagement_phase> parse_phase(std::string_view name);

// The two parties of an engagement.
enum class side { client, expert };
std::string_view side_name(side s);
// client -> client side, expert -> expert side; other roles are no party.
std::optional<side> side_of(user_role r);

// Upper bounds of each phase (protocol §1 "expected length"), in ms.
struct phase_limits {
  // How long an invitation waits for the expert's answer before support is
  // told (phase_overdue); shorter than the 72 h proposal TTL, after which the
  // invitation lapses (protocol/README.md).
  std::int64_t invited_ms = 2LL * 24 * 3600 * 1000;
  std::int64_t discovery_ms = 2LL * 24 * 3600 * 1000;
  std::int64_t agreement_ms = 3LL * 24 * 3600 * 1000;
  std::int64_t active_ms = 28LL * 24 * 3600 * 1000;
  std::int64_t completion_ms = 5LL * 24 * 3600 * 1000;
  // How long after entering `closed` the parties may review (protocol §9.7,
  // reviews.hpp): state.reviews.due and the reveal at its end.
  std::int64_t review_period_ms = 14LL * 24 * 3600 * 1000;

  // No bound for `closed` and `declined`.
  std::optional<std::int64_t> of(engagement_phase p) const;
};

struct engagement_flag {
  std::int64_t seq = 0;  // the flag's id (its event's seq in eng:<id>)
  std::string type;      // delay, scope_change, dispute, risk, blocker
  std::string state;     // open, acknowledged, resolved
  std::string text;
  std::string by;        // user id
  std::size_t bytes = 0;  // its share of the open-flag byte budget (open_flag_bytes)
};

struct engagement_proposal {
  std::int64_t seq = 0;  // the proposal's id, in channel `ch`
  std::string ch;
  std::string topic;
  std::string text;
  boost::json::object terms;
  std::string by;  // user id of the proposer
  std::optional<side> by_side;  // none for support's resolutions
  std::vector<std::string> accepted_by;  // user ids, in order of acceptance
  std::vector<side> accepted_sides;      // resolutions: the parties that accepted so far
  std::int64_t ts = 0;  // its event's ts: it expires at ts + the proposal TTL (proposal_expiry.hpp)
  std::size_t bytes = 0;  // its share of the open-proposal byte budget (open_proposal_bytes)
};

struct reply_debt {
  side owing = side::client;  // the side that owes an answer
  std::int64_t since_seq = 0;  // the first unanswered message of the other side (eng:<id>)
  std::int64_t since_ts = 0;
};

// §9.6 settings an engagement has when its creation names none (and a first-use one).
constexpr std::int64_t default_settings_revisions = 2;
constexpr std::int64_t default_settings_review_days = 3;

// An accepted `call` proposal (protocol §9.5, calls.hpp): the slot it chose.
struct scheduled_call {
  std::int64_t proposal = 0;  // the proposal's seq in eng:<id>
  std::int64_t start = 0;     // ms
  std::int64_t minutes = 0;
  std::string link;  // empty when none
  std::string tz;    // empty when none
  bool reminded = false;  // its `reminder` is stored

  std::int64_t end_ms() const { return start + minutes * 60'000; }
};

// The latest version of one deliverable (protocol §9.6, deliveries.hpp): what
// its state entry shows, and what accepting it records.
struct deliverable {
  std::string key;
  std::int64_t version = 0;  // 1, 2, … per deliverable
  std::int64_t seq = 0;      // the latest delivery's seq in eng:<id>
  std::string status;        // submitted, revision_requested, accepted
  std::int64_t revisions_used = 0;
  bool final = false;
  std::optional<std::int64_t> review_due;  // while submitted: when it is accepted automatically
  bool warned = false;       // its `review_due_soon` is stored
  std::string by;            // the expert's user id
  std::string text;          // the delivery's text (the record's text)
  boost::json::array files;  // [{name, sha256, size}] (the record's terms)
};

// A party's review (protocol §9.7, reviews.hpp) as its sealed event holds it.
struct party_review {
  std::string by;  // user id
  std::int64_t seq = 0;  // in eng:<id>
  std::string commitment;
};

struct engagement_agreement {
  boost::json::object terms;
  int version = 0;
};

// Open proposals and open (not yet resolved) flags an engagement may hold at
// once (protocol §9.10): one more is `conflict`. They bound the state kept in memory.
constexpr std::size_t max_open_proposals = 50;
constexpr std::size_t max_open_flags = 50;
// The bytes of content those may hold together: the counts alone let 50
// proposals of 64 KiB each make a state of megabytes, pushed to every member
// after every workflow event. Measured by content_bytes below.
constexpr std::size_t max_open_proposal_bytes = 192 * 1024;
constexpr std::size_t max_open_flag_bytes = 64 * 1024;
// Expired proposals remembered per engagement, so that deciding one answers
// "proposal <seq> expired"; beyond it the oldest are forgotten and deciding
// them is still `conflict` ("already decided (or lapsed)").
constexpr std::size_t max_expired_remembered = 128;
struct engagement_limits {
  std::size_t open_proposals = max_open_proposals;
  std::size_t open_flags = max_open_flags;
  std::size_t open_proposal_bytes = max_open_proposal_bytes;
  std::size_t open_flag_bytes = max_open_flag_bytes;
  // The review window of a delivery under the default settings.review_days
  // (3): an engagement naming N days gets N/3 of it (deliveries.hpp).
  std::int64_t review_window_ms = 3LL * 24 * 3600 * 1000;
  // The review period (protocol §9.7): a review after it is `conflict`. The
  // same value as phase_limits::review_period_ms (both set from --review-period).
  std::int64_t review_period_ms = 14LL * 24 * 3600 * 1000;
};

// What a proposal (text and terms) or a flag (text, no terms) counts against
// its byte budget: the length of `text` as a JSON string plus that of `terms`
// as serialised in the state, so the budget bounds what the state pushes.
std::size_t content_bytes(std::string_view text, const boost::json::object* terms);

// Only what the rules still need is kept: open flags and open proposals.
// Resolved flags and decided or lapsed proposals live in the events and the
// decision log; that such a seq was one is known from the highest flag and
// proposal seq seen per channel (see closed_or_missing in engagement_rules.cpp).
//
// Flags, proposals and the agreement are immutable values shared between
// snapshots: copying a state copies pointers, not terms and texts, and apply
// replaces a value instead of changing it. A snapshot handed out never changes.
struct engagement_state {
  std::string eng;
  engagement_phase phase = engagement_phase::discovery;
  std::int64_t phase_since_ms = 0;
  // The normalised invitation of an engagement created by the platform
  // (invitation.hpp), from its opening event; null for a first-use one.
  std::shared_ptr<const boost::json::object> invitation;
  // Requirement key -> the ids of the users who acknowledged it, in the order
  // their acknowledgements were stored (requirements.hpp, protocol §9.2).
  std::map<std::string, std::vector<std::string>> acknowledged_by;
  std::shared_ptr<const engagement_agreement> agreement;  // null before the first accepted one
  bool agreement_accepted = false;  // an `agreement`-topic proposal was accepted (needed to enter active)
  std::map<std::int64_t, std::shared_ptr<const engagement_flag>> flags;  // the flags not yet resolved, by seq
  // The open proposals, by (ch, seq).
  std::map<std::pair<std::string, std::int64_t>, std::shared_ptr<const engagement_proposal>> proposals;
  // The sums of `bytes` of the open proposals and of the open flags: derived by
  // apply like everything here, so a replay gives the same totals.
  std::size_t open_proposal_bytes = 0;
  std::size_t open_flag_bytes = 0;
  std::int64_t last_flag_seq = 0;  // the highest flag seq seen in eng:<id>
  std::map<std::string, std::int64_t> last_proposal_seq;  // the highest proposal seq seen, per channel
  bool mediation_open = false;
  bool mediation_exists = false;  // opened at least once: eng:<id>:mediation may be joined
  std::optional<reply_debt> owed_reply;
  std::optional<std::int64_t> last_status_ts;
  // The agreed due date (§9.4): `terms.due` of the latest accepted proposal holding one.
  std::optional<std::int64_t> agreed_due;
  // Proposals that expired (§9.4), by (in mediation?, seq), at most
  // max_expired_remembered; shared between snapshots like the proposals (null: none yet).
  std::shared_ptr<const std::set<std::pair<bool, std::int64_t>>> expired_proposals;
  // Scheduled calls by start, at most max_listed_calls (calls.hpp); shared like proposals.
  std::vector<std::shared_ptr<const scheduled_call>> calls;
  // Deliverables by key, at most max_deliverables (deliveries.hpp); shared like proposals.
  std::map<std::string, std::shared_ptr<const deliverable>> deliverables;
  std::int64_t last_delivery_seq = 0;  // the highest delivery seq seen in eng:<id>
  // The last user of each side (client, expert) who posted a message: who owes
  // a reply in a first-use engagement, which names no parties (protocol §9.3).
  std::array<std::string, 2> last_speaker;
  // Each side's review (client, expert) once `closed`, and the revealed list
  // of the `reviews` event (null until revealed) (reviews.hpp).
  std::array<std::optional<party_review>, 2> reviews;
  std::shared_ptr<const boost::json::array> revealed_reviews;

  // Service-level misses already posted (recorded by apply of `sla` events), so
  // each miss is posted once.
  std::optional<std::int64_t> reply_miss_posted;   // owed_reply.since_seq it was posted for
  std::optional<std::int64_t> status_miss_posted;  // the `since` it was posted for
  std::optional<std::pair<engagement_phase, std::int64_t>> phase_miss_posted;  // phase and phase_since
  std::optional<std::int64_t> phase_miss_due;  // the `due` of that miss: an agreed due moved later misses again

  // Last seq applied per channel: apply ignores anything at or below it.
  std::map<std::string, std::int64_t> applied;
};

// ---- The state and its reading (engagement.cpp)

// A fresh engagement: `discovery` from now (protocol §1, first use).
engagement_state new_engagement(std::string eng, std::int64_t now_ms);
// The event that stores that moment in eng:<id> (`phase` {from: null, to:
// discovery}, from system_user()), so that a restart keeps it. Its cid is
// fixed: opening twice appends it once. `ts` is now_ms until the engine stamps its own.
event opening_event(std::string_view eng, std::int64_t now_ms);
// The user id named for `side` by the engagement's invitation; none for a first-use engagement.
std::optional<std::string_view> named_party(const engagement_state& s, side party);
// `not_found` "engagement <id> does not exist": an id no party has used yet.
error engagement_not_found(std::string_view eng);

// Grows with every event the state reflects: the sum of the last seqs applied
// in eng:<id> and eng:<id>:mediation. Clients keep the state with the highest
// one, whatever order a join reply, a push and an HTTP read arrive in.
std::int64_t state_revision(const engagement_state& s);

// phase_since + the phase's bound; none once closed. While `active`, the
// agreed due date instead when one is set (§9.4).
std::optional<std::int64_t> phase_due(const engagement_state& s, const phase_limits& limits);

// The §4 `state` object: phase, phase_since, phase_due, agreement, open_flags
// [{seq,type,state,text,by}], open_proposals [{seq,ch,topic,text,terms,by,accepted_by}],
// owed_reply, last_status_ts, and `can` (§9.9): the actions `reader` may take
// now (can.hpp). `by` and `accepted_by` hold user ids.
boost::json::object state_json(const engagement_state& s, const phase_limits& limits, const claims& reader,
                               const engagement_limits& open_limits = {},
                               std::optional<std::int64_t> reply_due = std::nullopt);
// The same object without `can`: what every reader sees alike. `reply_due`,
// when known, is `owed_reply.due` (the server moves it by the owing user's
// availability, protocol §9.3; the rules here have no clock or user store).
boost::json::object shared_state_json(const engagement_state& s, const phase_limits& limits,
                                      std::optional<std::int64_t> reply_due = std::nullopt);

// The state push frame {"ev":"state","eng":<id>,"state":{…}} (protocol §9.9)
// of one state, for readers that differ only in `can`: the part every reader
// shares is serialised once, each frame then adds its reader's `can`. The
// frames equal serialising the frame object with state_json, byte for byte.
class state_push_frames {
 public:
  state_push_frames(const engagement_state& s, const phase_limits& limits,
                    std::optional<std::int64_t> reply_due = std::nullopt);
  std::string frame(const std::vector<std::string>& can) const;

 private:
  std::string head_;  // the frame without the state's and the frame's closing braces
};

// Posts that change rules other posts depend on: they are checked and appended
// one at a time per engagement, guarded by the heads of guarded_channels().
// `message` and `status` are not: they need not wait for workflow posts.
bool is_workflow(std::string_view kind);
// The channels whose heads a workflow post's state was built from: eng:<id> and eng:<id>:mediation.
std::array<std::string, 2> guarded_channels(std::string_view eng);
// The last seq of `ch` the state reflects (0: none).
std::int64_t applied_seq(const engagement_state& s, const std::string& ch);
// Each guarded channel with the last seq the state reflects: the heads an
// append of a plan checked against `s` expects (append_request::expect_heads).
std::vector<std::pair<std::string, std::int64_t>> guarded_heads(const engagement_state& s);

// ---- What a post may do (engagement_rules.cpp)

// May eng:<id> or its mediation channel be used with this state? A mediation
// channel that no dispute has opened is `not_found`.
result<void> check_join(const engagement_state& s, const channel& ch);

// A client's post, already past validate_body (frame.hpp).
struct post_request {
  channel ch;
  std::string kind;
  boost::json::object body;
  std::string cid;  // empty when none
  // The kind of the stored event a decision, flag_update or resolution names
  // when it is no longer held open in the state, if the caller looked it up
  // (target_lookup): it tells "decided or resolved already" (`conflict`) from
  // "no such proposal or flag" (`not_found`) exactly.
  std::optional<std::string> target_kind;
  // When the post is checked (ms), for rules about time (a call's slots);
  // 0 when no clock is at hand (can's candidate posts), which every time passes.
  std::int64_t checked_at_ms = 0;
  // The server's random salt (32 hex) that seals a `review` (reviews.hpp);
  // empty in can's candidates, which are never stored.
  std::string salt{};
};

// The (channel, seq) of the stored event whose kind `check` would need to
// answer `p` exactly: a proposal or flag seq that is no longer open but not
// above the highest one seen. Without a lookup, check() takes such a seq for a
// proposal or flag that is closed (`conflict`).
std::optional<std::pair<std::string, std::int64_t>> target_lookup(const engagement_state& s, const post_request& p);

struct plan {
  // Appended in one atomic step: the actor's event first (with the post's cid),
  // then server-made follow-ups (`phase`, `mediation`) from system_user().
  std::vector<event> events;
  std::optional<record_draft> record;
  // A review's sealed payload, stored beside events[0] (append_request::sealed).
  std::optional<std::string> sealed;
};

// Decides whether `actor` may post `p` given the engagement state: an error
// (`forbidden` wrong role or place, `not_found` unknown proposal / flag / mediation
// channel, `conflict` a broken rule, `bad_request` a malformed body) or the plan.
// Rules beyond protocol §3:
//  - once `closed`, only `message` is allowed, plus resolutions and their decisions
//    in mediation; everything else is `conflict`;
//  - in eng:<id>:mediation only message, resolution proposals and decisions;
//    flag, flag_update and status belong in eng:<id> (`forbidden` elsewhere);
//  - a phase proposal is checked again when it is accepted (the phase may have moved).
// For the `support` channel the state is unused (check_support_post).
// `limits` bound the open proposals and flags (protocol §9.10).
result<plan> check(const engagement_state& s, const user& actor, const post_request& p,
                   const engagement_limits& limits = {});

// A post to the `support` channel: notes among support staff, no engagement
// rules apply. The plan holds the actor's event alone.
result<plan> check_support_post(const user& actor, const post_request& p);

// The `support` notices a committed event implies: one for a `scope_change`
// or `dispute` flag (body {type, eng, flag, text}), none otherwise. Derived
// from the stored event alone, with a cid made of the flag
// ("notice:<type>:<eng>:<flag>"), so a retry after a crash appends it again
// safely and never twice.
std::vector<event> notices_for(const event& committed);
// Whether a committed event of this kind may imply notices (only `flag` does):
// other kinds need not be parsed for them.
bool implies_notices(std::string_view kind);

// ---- Folding committed events (engagement_apply.cpp)

// Folds one committed event of eng:<id> or eng:<id>:mediation into the state.
// Channels must each be replayed in seq order (they may be interleaved in any
// way); an event whose seq is not above the last applied in its channel is
// ignored, so replaying twice changes nothing. Returns false when ignored.
bool apply(engagement_state& s, const event& ev);

// Was proposal `seq` of channel `ch` expired (and is it still remembered)?
bool is_expired(const engagement_state& s, const std::string& ch, std::int64_t seq);

// Copy-on-write apply: the same snapshot when `ev` changes nothing (already
// applied, another engagement), else a new state made from `s` with `ev`
// applied. Snapshots already handed out never change.
std::shared_ptr<const engagement_state> apply_shared(const std::shared_ptr<const engagement_state>& s,
                                                     const event& ev);

}  // namespace parley
