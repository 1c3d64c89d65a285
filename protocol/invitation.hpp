#pragma once
// Engagements created by the platform (protocol §9.1): the body of
// `PUT /api/v1/engagements/<id>`, checked strictly and put in one canonical
// form, and the events that store the creation. Pure: no I/O, no clock.
#include "protocol/event.hpp"
#include "protocol/result.hpp"

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

// Bounds of an invitation's fields (protocol/README.md "Invitations").
constexpr std::size_t max_invitation_title_chars = 200;
constexpr std::size_t max_invitation_details_chars = 16384;
constexpr std::size_t max_invitation_requirements = 20;
constexpr std::int64_t max_settings_revisions = 10;
constexpr std::int64_t max_settings_review_days = 30;

// The normalised invitation: {title, details, client: {id, name?}, expert:
// {id, name?}, terms, requirements: [{key, title, by}], settings: {revisions,
// review_days}} with every optional field filled in, so that two bodies that
// mean the same compare equal by canonical_json. `bad_request` (or
// `too_large` for an oversized field) names the first fault.
result<boost::json::object> parse_invitation(std::string_view body_text);
result<boost::json::object> validate_invitation(const boost::json::value& body);

// The creation of engagement `eng`, appended in one atomic step: its opening
// `phase` event {from: null, to: "invited", invitation} (the same fixed cid as
// a first use's opening, so that a creation and a first use race for one
// slot and exactly one wins), then the system `proposal` of topic
// `invitation` (text = title, terms = {details, terms}).
std::vector<event> invitation_events(std::string_view eng, const boost::json::object& invitation,
                                     std::int64_t now_ms);

// What a stored opening event says about a creation with `invitation`:
// `same` (it is this creation: the PUT is repeated), or `other` (another
// creation, or a first use, holds the id: 409).
enum class opening_match { same, other };
opening_match match_opening(const event& opening, const boost::json::object& invitation);

}  // namespace parley
