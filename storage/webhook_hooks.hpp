#pragma once
// The webhook entries an append causes (protocol §9.8), as a pure function of
// its plan: both engines store them in the same atomic step as the events and
// the record, so a hook is never lost nor stored for an append that was not.
#include "protocol/engagement.hpp"
#include "protocol/event.hpp"
#include "storage/append_plan.hpp"
#include "storage/webhook_outbox.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

// Delivered entries are kept this long (for the operator to look up), then
// pruned (both engines): an outbox holds what is pending, what failed, and a
// week of the rest.
constexpr std::int64_t webhook_retention_ms = 7LL * 24 * 3600 * 1000;

// "wh_" and 32 hex digits of SHA-256 over what the hook is about: the same
// fact always gets the same id (URL-safe), so a receiver can drop repeats.
std::string webhook_id(std::string_view eng, std::string_view ch, std::int64_t seq, std::string_view type);

// The body POSTed, serialised once: {"id","type","eng","ts","data"}.
std::string webhook_body(std::string_view id, std::string_view type, std::string_view eng, std::int64_t ts,
                         const boost::json::object& data);

// A pending entry, due at once, for `data` about (ch, seq).
webhook_entry make_webhook_entry(std::string eng, std::string_view ch, std::int64_t seq, std::string type,
                                 std::int64_t ts, const boost::json::object& data);

// What the plan does not hold: the event its record is attached to
// (record_draft::attach_to) and append_request::closing_agreement.
struct hook_context {
  std::size_t attach_to = 0;
  std::optional<std::string> closing_agreement;
};

// The entries of a planned append, in the order of its events: one per
// `phase`, `delivery`, `flag` and `sla` event of an engagement channel,
// `decision.recorded` for its record (after the event it is attached to), and
// `engagement.completed` last when a `phase` event enters `closed`, carrying
// the record (null without one) and the closing agreement (JSON text; absent
// or unparsable: null).
std::vector<webhook_entry> webhook_entries_of(const append_plan& plan, const hook_context& context);

// Whether appending `events` may cause a hook (without a record): one of
// them is a phase, delivery, flag or sla event of an engagement channel.
bool may_cause_webhooks(const std::vector<event>& events);

// The engagement of the first of `events` posted in an engagement's channel ("" for none).
std::string first_engagement_of(const std::vector<event>& events);

// For append_request::closing_agreement: the agreement of `s` as JSON text
// ({"terms","version"} or null) when one of `events` enters `closed`, nullopt
// when none does.
std::optional<std::string> closing_agreement_of(const engagement_state& s, const std::vector<event>& events);

}  // namespace parley
