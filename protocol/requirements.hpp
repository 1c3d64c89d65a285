#pragma once
// Requirements: NDA and compliance (protocol §9.2). An engagement created by
// the platform lists requirements [{key, title, by}] in its invitation; each
// party whose role is in a requirement's `by` acknowledges it once, with an
// `acknowledgement` post {key, text?} in eng:<id>, and `active` is entered
// only once every such acknowledgement is in. Pure rules, called from the
// engagement state machine (engagement.hpp).
#include "protocol/engagement.hpp"

#include <boost/json/array.hpp>

namespace parley {

// A requirement's key: 1-64 characters of a-z, 0-9, `_` and `-` (the
// invitation's rule, protocol/README.md "Invitations").
constexpr std::size_t max_requirement_key_chars = 64;
bool is_requirement_key(std::string_view key);

// The invitation's requirements, [{key, title, by}]; empty for an engagement
// made on first use (it has none).
const boost::json::array& requirements_of(const engagement_state& s);

// Checks an `acknowledgement` post (its body past validate_body) by `actor`,
// a named party of the engagement, and answers what the decision log records
// for it: a proposal of topic `acknowledgement` with terms {key, title} and
// the post's text, made by `actor`, which `actor` accepts at once. Refused:
// `conflict` outside discovery, agreement, active and completion, or when
// `actor` acknowledged that requirement already; `not_found` for a key that
// is no requirement; `forbidden` for a party whose role is not in its `by`.
result<engagement_proposal> check_acknowledgement(const engagement_state& s, const user& actor,
                                                  const post_request& p);

// Whether every requirement has the acknowledgement of every role in its
// `by`: `conflict` naming each missing one otherwise (entering `active`).
result<void> check_requirements_met(const engagement_state& s);

// Folds a stored acknowledgement into `s.acknowledged_by`: the acknowledging
// user's id is added to its requirement's list once.
void apply_acknowledgement(engagement_state& s, const event& ev);

// The state's `requirements`: [{key, title, by, acknowledged_by}], the ids
// in the order the acknowledgements were stored.
boost::json::array requirements_json(const engagement_state& s);

}  // namespace parley
