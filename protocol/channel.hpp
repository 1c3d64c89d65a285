#pragma once
// Channel names (protocol §1) and the authorisation rules that depend only on
// the token and the channel name (DESIGN §3.3: decided before any storage access).
#include "result.hpp"
#include "token.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace parley {

enum class channel_type { engagement, mediation, support };

struct channel {
  channel_type type = channel_type::engagement;
  std::string eng;  // engagement id; empty for `support`

  std::string name() const;  // "eng:<id>", "eng:<id>:mediation" or "support"
  bool operator==(const channel&) const = default;
};

// 1–64 characters of [A-Za-z0-9_-].
bool valid_engagement_id(std::string_view id);
std::optional<channel> parse_channel(std::string_view name);

// May this token join / read `ch`? (join, history, HTTP GET). `forbidden` with a reason otherwise.
std::optional<error> check_read(const claims& who, const channel& ch);
// May this token post `kind` to `ch`? Role rules of the kinds table in protocol §3.
// Unknown kinds are `bad_request`. Engagement-state rules are checked elsewhere.
std::optional<error> check_post(const claims& who, const channel& ch, std::string_view kind);

}  // namespace parley
