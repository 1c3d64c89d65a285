#include "channel.hpp"

#include "json_input.hpp"

namespace parley {
namespace {

constexpr std::string_view eng_prefix = "eng:";
constexpr std::string_view mediation_suffix = ":mediation";
constexpr std::size_t max_engagement_id = 64;

error forbidden(std::string message) { return make_error(errc::forbidden, std::move(message)); }

bool is_party_or(user_role r, user_role other) { return is_party(r) || r == other; }

// Which roles may post a kind, by channel type (protocol §2 and the kinds table of §3).
// Engagement-state rules (whose turn, which flag types a bot may raise, which
// topic belongs in mediation) are decided by the engagement rules afterwards.
bool role_may_post(user_role r, channel_type where, std::string_view kind) {
  const bool party = is_party(r);
  switch (where) {
    case channel_type::engagement:
      if (kind == "message") return is_party_or(r, user_role::support);
      if (kind == "status") return party || r == user_role::bot || r == user_role::service;
      if (kind == "flag") return party || r == user_role::support || r == user_role::bot;
      if (kind == "flag_update") return is_party_or(r, user_role::support);
      if (kind == "proposal") return party;
      if (kind == "decision") return party;
      return false;
    case channel_type::mediation:
      if (kind == "message") return is_party_or(r, user_role::support);
      // Support proposes the resolution of a dispute here; the parties decide it.
      if (kind == "proposal") return r == user_role::support;
      if (kind == "decision") return party;
      return false;
    case channel_type::support:
      return kind == "message" && r == user_role::support;
  }
  return false;
}

bool role_may_post_anywhere(user_role r, std::string_view kind) {
  for (auto where : {channel_type::engagement, channel_type::mediation, channel_type::support}) {
    if (role_may_post(r, where, kind)) return true;
  }
  return false;
}

bool client_kind(std::string_view kind) {
  for (std::string_view k : {"message", "status", "flag", "flag_update", "proposal", "decision"}) {
    if (k == kind) return true;
  }
  return false;
}

std::optional<error> check_engagement_access(const claims& who, const channel& ch) {
  if (ch.type == channel_type::support) return std::nullopt;
  if (!who.may_access(ch.eng)) return forbidden("not a member of " + ch.name());
  return std::nullopt;
}

}  // namespace

std::string channel::name() const {
  switch (type) {
    case channel_type::engagement: return std::string(eng_prefix) + eng;
    case channel_type::mediation: return std::string(eng_prefix) + eng + std::string(mediation_suffix);
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

std::optional<error> check_read(const claims& who, const channel& ch) {
  const user_role r = who.who.role;
  bool allowed = false;
  switch (ch.type) {
    case channel_type::engagement:
      allowed = is_party(r) || r == user_role::bot || r == user_role::support || r == user_role::service;
      break;
    case channel_type::mediation:
      // The service reads every channel (protocol §2); bots stay out of disputes.
      allowed = is_party(r) || r == user_role::support || r == user_role::service;
      break;
    case channel_type::support:
      allowed = r == user_role::support || r == user_role::service;
      break;
  }
  if (!allowed) return forbidden("role " + std::string(role_name(r)) + " may not read " + ch.name());
  return check_engagement_access(who, ch);
}

std::optional<error> check_post(const claims& who, const channel& ch, std::string_view kind) {
  if (!client_kind(kind)) {
    return make_error(errc::bad_request, "kind " + detail::display_name(kind) + " may not be posted");
  }
  const user_role r = who.who.role;
  if (!role_may_post_anywhere(r, kind)) {
    return forbidden("role " + std::string(role_name(r)) + " may not post " + std::string(kind));
  }
  if (auto err = check_engagement_access(who, ch)) return err;
  if (!role_may_post(r, ch.type, kind)) {
    return forbidden("role " + std::string(role_name(r)) + " may not post " + std::string(kind) + " in " + ch.name());
  }
  return std::nullopt;
}

}  // namespace parley
