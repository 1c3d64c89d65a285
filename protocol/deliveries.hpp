#pragma once
// Deliveries with review windows (protocol §9.6 "Deliveries", §9.9
// `deliverables`): the expert's `delivery` posts, the client's answer (a
// `decision` naming the delivery's seq, or a `revision_request`), automatic
// acceptance when the review window passes, its `review_due_soon` warning,
// and the close that accepting a `final` delivery in `completion` brings.
// Pure: the caller passes the clock and the windows.
//
// The watcher's loop is the proposal expiry's one: wait until
// next_review_step(); then append each due_review_steps() entry, a guarded
// append (expect_heads) for an acceptance. Each step's cid is derived from the
// delivery ("auto_accept:<seq>", "review_due_soon:<seq>"), so the engine
// stores it at most once across restarts and instances; apply() of the
// committed event marks the deliverable accepted or warned, which silences it.
#include "protocol/engagement.hpp"
#include "protocol/event.hpp"
#include "protocol/result.hpp"

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley {

// Deliverables per engagement: a delivery of one more is `conflict`. Only
// the latest version of each is kept, so the state stays small however many
// versions are delivered.
constexpr std::size_t max_deliverables = 50;
// A delivery's text: it is kept in the state (the record's text), so it is
// shorter than a message's.
constexpr std::size_t max_delivery_text_chars = 4000;
constexpr std::size_t max_delivery_files = 20;
constexpr std::size_t max_deliverable_key_chars = 64;
// `review_due_soon` comes this long before the window ends (--review-warning).
constexpr std::int64_t default_review_warning_ms = 24LL * 3600 * 1000;
// When a dispute is resolved, a delivery whose window has passed gets this long more.
constexpr std::int64_t review_extension_ms = 24LL * 3600 * 1000;

// A deliverable's key: 1-64 characters of a-z, 0-9, `_` and `-`.
bool is_deliverable_key(std::string_view key);

// settings.revisions and settings.review_days of the engagement (the defaults
// for a first-use one).
std::int64_t revisions_allowed(const engagement_state& s);
// The review window of a delivery made now: limits.review_window_ms scaled by
// settings.review_days / 3, so the default window (3 days) gives each
// invitation exactly its days, and `--review-window 3s` makes a day a second.
std::int64_t review_window_ms(const engagement_state& s, const engagement_limits& limits);

// ---- Rules (called from check(), engagement_rules.cpp)

// A `delivery` by `actor`: the expert, in `active` or `completion`, at most
// max_deliverables deliverables. The plan's event gets `version` (the
// deliverable's next) and `review_due` (p.checked_at_ms + the review window).
result<plan> check_delivery(const engagement_state& s, const user& actor, const post_request& p, plan pl,
                            const engagement_limits& limits);
// A `revision_request` {delivery, text} by the client on the latest submitted
// version of a deliverable, within settings.revisions.
result<plan> check_revision_request(const engagement_state& s, const user& actor, const post_request& p, plan pl);
// A `decision` {proposal: <seq>} that names a delivery rather than an open
// proposal: the client accepts it (verdict `accepted` only) → record topic
// `delivery`; a `final` one accepted in `completion` also closes the
// engagement. None when the seq names no delivery: the proposal rules answer.
std::optional<result<plan>> check_delivery_decision(const engagement_state& s, const user& actor,
                                                    const post_request& p, plan& pl);
// Entering `closed` while a delivery awaits the client's decision is `conflict`.
result<void> check_no_delivery_awaits(const engagement_state& s);
// The stored event a decision or revision_request names, when it is no
// latest delivery but may have been an older one (see target_lookup).
std::optional<std::pair<std::string, std::int64_t>> delivery_target_lookup(const engagement_state& s,
                                                                          const post_request& p);

// ---- Folding committed events (called from apply(), engagement_apply.cpp)

// `delivery`, `revision_request` and `review_due_soon` events of eng:<id>.
void apply_delivery_event(engagement_state& s, const event& ev);
// A `decision` of eng:<id> naming the latest submitted delivery: marks it
// accepted. False when it names none (it is a proposal's).
bool apply_delivery_decision(engagement_state& s, const event& ev);
// A dispute was resolved at `now_ms`: with no dispute left open, each
// submitted delivery whose window has passed is due review_extension_ms later.
void extend_overdue_reviews(engagement_state& s, std::int64_t now_ms);

// state.deliverables: {key: {version, seq, status, review_due, revisions_used, final}}.
boost::json::object deliverables_json(const engagement_state& s);

// ---- Automatic steps (the watcher, server/sla_watcher_deliveries.cpp)

// When the next warning or automatic acceptance not yet stored is (or was)
// due; none while a dispute is open or nothing awaits the client. May be in the past.
std::optional<std::int64_t> next_review_step(const engagement_state& s, std::int64_t warning_ms);

// What is due at `now_ms`, oldest delivery first: for a delivery whose window
// has passed, its automatic acceptance (a `decision` {proposal, verdict:
// accepted, auto: true} from system_user(), cid "auto_accept:<seq>", with the
// record accepted_by ["system"], and the close when it is final in
// `completion`); for one within `warning_ms` of it and not yet warned,
// `review_due_soon` {delivery, deliverable, version, review_due}, cid
// "review_due_soon:<seq>". Nothing while a dispute is open.
struct review_step {
  bool acceptance = false;  // an acceptance: append it guarded by the heads
  plan steps;
};
std::vector<review_step> due_review_steps(const engagement_state& s, std::int64_t now_ms, std::int64_t warning_ms);

}  // namespace parley
