#pragma once
// Double-blind ratings and reviews (protocol §9.7). Pure: the caller passes
// the clock and the server's random salt.
//
// A `review` is stored and delivered only as {sealed: true, commitment}, where
// commitment = hex SHA-256 of the RFC 8785 form of {ratings, text, salt}; that
// canonical JSON itself (the "sealed payload") is stored beside the event in
// the same atomic step (append_request::sealed) and shown to its author and
// support only. When both parties have reviewed, or the review period since
// entering `closed` ends, the server posts `reviews {reviews: [...]}` with
// every sealed payload opened, and one decision-log record (topic `reviews`).
// Its cid "reviews:<eng>" keeps it once across restarts and instances, and
// apply() of it marks the reviews revealed, so it is never due again.
#include "protocol/engagement.hpp"
#include "protocol/event.hpp"
#include "protocol/result.hpp"
#include "protocol/token.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

constexpr std::size_t review_text_min_chars = 10;
constexpr std::size_t review_text_max_chars = 4000;
// The salt's length in hex digits (16 random bytes).
constexpr std::size_t review_salt_hex_chars = 32;

// The body of a posted review, checked strictly: {ratings: {quality,
// communication, timeliness} (integers 1-5, no other key), text (10-4000
// characters)}; anything else is `bad_request`.
result<boost::json::object> validate_review_body(const boost::json::object& body);

// The canonical JSON (RFC 8785) of {ratings, text, salt}: the sealed payload.
std::string sealed_review_json(const boost::json::object& ratings, std::string_view text, std::string_view salt);
// Lowercase hex SHA-256 of the sealed payload.
std::string review_commitment(std::string_view sealed_json);

// A checked review body sealed with `salt`: the event body {sealed: true,
// commitment} and the sealed payload to store beside it.
struct sealed_post {
  boost::json::object body;
  std::string sealed;
};
sealed_post seal_review(const boost::json::object& review, std::string_view salt);

// When the review period ends: phase_since of `closed` + the period; none
// before `closed`.
std::optional<std::int64_t> review_due(const engagement_state& s, std::int64_t period_ms);

// May `actor` review now (`now_ms` 0: no clock, every time passes)?
// `forbidden` for anyone but a party, `conflict` before `closed`, after the
// period, once revealed, or for a party that has reviewed.
result<void> check_review(const engagement_state& s, const user& actor, std::int64_t now_ms, std::int64_t period_ms);

// Folding committed events (engagement_apply.cpp): a `review` takes its
// party's place; the `reviews` reveal marks them revealed.
void apply_review(engagement_state& s, const event& ev);
void apply_reveal(engagement_state& s, const event& ev);

// When the reveal is due: at once once both parties have reviewed, else at
// the end of the period; none before `closed` or once revealed.
std::optional<std::int64_t> next_reveal_due(const engagement_state& s, std::int64_t period_ms);
bool reveal_due(const engagement_state& s, std::int64_t period_ms, std::int64_t now_ms);

// The seqs (in eng:<id>) of the reviews stored so far, client's first.
std::vector<std::int64_t> review_seqs(const engagement_state& s);

// The reveal: `reviews {reviews: [{by, role, seq, ratings, text, salt}]}` from
// system in eng:<id>, cid "reviews:<eng>", with its record (topic `reviews`,
// terms the list, accepted_by ["system"]). `sealed` maps each review's seq to
// its sealed payload; one missing, malformed, or not matching its commitment
// is `internal` (nothing is revealed then).
struct reveal_plan {
  std::vector<event> events;
  record_draft record;
};
result<reveal_plan> plan_reveal(const engagement_state& s, const std::map<std::int64_t, std::string>& sealed);

// state.reviews (protocol §9.9): {due, submitted_by, revealed} once `closed`, else none.
std::optional<boost::json::object> reviews_state_json(const engagement_state& s, std::int64_t period_ms);

// GET /api/v1/engagements/<id>/reviews as `reader` sees it: {reviews, revealed, due}.
// Once revealed everyone reading the engagement sees every review opened;
// before, support sees every review opened, a party its own opened and the
// other's as {by, role, seq, sealed: true, commitment}, anyone else none.
boost::json::object reviews_for_reader(const engagement_state& s, const claims& reader,
                                       const std::map<std::int64_t, std::string>& sealed, std::int64_t period_ms);
// The seqs whose sealed payloads reviews_for_reader shows `reader` (before the
// reveal: support all, a party its own; after it: none, the reveal event holds them).
std::vector<std::int64_t> sealed_seqs_for(const engagement_state& s, const claims& reader);

}  // namespace parley
