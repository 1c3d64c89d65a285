#include "protocol/channel.hpp"

namespace parley {
namespace {

constexpr std::string_view eng_prefix = "eng:";
constexpr std::string_view mediation_suffix = ":mediation";
constexpr std::size_t max_engagement_id = 64;

}  // namespace

std::string channel::main(std::string_view eng) { return std::string(eng_prefix) + std::string(eng); }

std::string channel::mediation(std::string_view eng) { return main(eng) + std::string(mediation_suffix); }

std::string channel::name() const {
  switch (type) {
    case channel_type::engagement: return main(eng);
    case channel_type::mediation: return mediation(eng);
    case channel_type::support: return "support";
  }
  return "support";
}

bool valid_engagement_id(std::string_view id) {
  if (id.empty() || id.size() > max_engagement_id) return false;
  for (char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<channel> parse_channel(std::string_view name) {
  if (name == "support") return channel{channel_type::support, {}};
  if (!name.starts_with(eng_prefix)) return std::nullopt;
  std::string_view rest = name.substr(eng_prefix.size());
  channel_type type = channel_type::engagement;
  // ':' is not an id character, so the suffix cannot be confused with an id.
  if (rest.ends_with(mediation_suffix)) {
    rest.remove_suffix(mediation_suffix.size());
    type = channel_type::mediation;
  }
  if (!valid_engagement_id(rest)) return std::nullopt;
  return channel{type, std::string(rest)};
}

}  // namespace parley
