#pragma once
// Who may read which channel and post which kind there (protocol §2 and the
// kinds table of §3): one table, asked by the token checks below, by the
// engagement rules (engagement.hpp) and by `can`. Decided from the token and
// the channel name alone, before any storage access (DESIGN §3.3).
#include "protocol/channel.hpp"
#include "protocol/result.hpp"
#include "protocol/token.hpp"
#include "protocol/user.hpp"

#include <array>
#include <string_view>

namespace parley {

// The kinds a client may post (protocol §3 "Kinds a client may post", §9.2 acknowledgement, §9.6 deliveries,
// §9.7 review).
inline constexpr std::array<std::string_view, 10> client_kinds = {
    "message",         "status",   "flag",     "flag_update",     "proposal", "decision",
    "acknowledgement", "delivery", "revision_request", "review"};
bool is_client_kind(std::string_view kind);

// The table: may role `r` read channels of type `where`, post `kind` there?
// Engagement-state rules (whose turn, which flag types a bot may raise, which
// topic belongs in mediation) are the engagement rules' (engagement.hpp).
bool role_may_read(user_role r, channel_type where);
bool role_may_post(user_role r, channel_type where, std::string_view kind);

// May this token join / read `ch`? (join, history, HTTP GET). `forbidden` with a reason otherwise.
result<void> check_read(const claims& who, const channel& ch);
// May this token post `kind` to `ch`? Unknown kinds are `bad_request`.
result<void> check_post(const claims& who, const channel& ch, std::string_view kind);

// An engagement comes into being on first use by a party (protocol §1): the
// client, expert or bot sides its token lists. Support and the platform read
// every engagement, so their use of an id proves nothing about it: it opens none.
bool opens_engagements(const claims& who);

}  // namespace parley
