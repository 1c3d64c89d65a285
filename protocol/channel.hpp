#pragma once
// Channel names (protocol §1): eng:<id>, eng:<id>:mediation and support. Who
// may read or post where is access.hpp's.
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

  // The names of an engagement's two channels: "eng:<id>" and "eng:<id>:mediation".
  static std::string main(std::string_view eng);
  static std::string mediation(std::string_view eng);
};

// 1–64 characters of [A-Za-z0-9_-].
bool valid_engagement_id(std::string_view id);
std::optional<channel> parse_channel(std::string_view name);

}  // namespace parley
