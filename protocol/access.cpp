#include "protocol/access.hpp"

#include "protocol/json_input.hpp"

#include <algorithm>
#include <cstdint>

namespace parley {
using detail::forbidden;

namespace {

// A set of roles, one bit per user_role.
using role_set = std::uint32_t;
constexpr role_set bit(user_role r) { return role_set{1} << static_cast<unsigned>(r); }
constexpr role_set parties = bit(user_role::client) | bit(user_role::expert);
constexpr role_set support = bit(user_role::support);
constexpr role_set bot = bit(user_role::bot);
constexpr role_set service = bit(user_role::service);

struct read_rule {
  channel_type where;
  role_set who;
};

// Protocol §2 and §3 "join": the service reads every channel; bots stay out of disputes.
constexpr std::array<read_rule, 3> read_rules = {{
    {channel_type::engagement, parties | bot | support | service},
    {channel_type::mediation, parties | support | service},
    {channel_type::support, support | service},
}};

struct post_rule {
  channel_type where;
  std::string_view kind;
  role_set who;
};

// The kinds table of protocol §3, by channel type. A kind absent for a channel
// type is posted there by nobody: flags, status and acknowledgements belong in eng:<id>; in
// mediation support proposes the resolution of a dispute and the parties decide it.
constexpr std::array<post_rule, 14> post_rules = {{
    {channel_type::engagement, "message", parties | support},
    {channel_type::engagement, "status", parties | bot | service},
    {channel_type::engagement, "flag", parties | support | bot},
    {channel_type::engagement, "flag_update", parties | support},
    {channel_type::engagement, "proposal", parties},
    {channel_type::engagement, "decision", parties},
    {channel_type::engagement, "acknowledgement", parties},
    {channel_type::engagement, "delivery", bit(user_role::expert)},
    {channel_type::engagement, "revision_request", bit(user_role::client)},
    {channel_type::engagement, "review", parties},
    {channel_type::mediation, "message", parties | support},
    {channel_type::mediation, "proposal", support},
    {channel_type::mediation, "decision", parties},
    {channel_type::support, "message", support},
}};

bool role_may_post_anywhere(user_role r, std::string_view kind) {
  return std::any_of(post_rules.begin(), post_rules.end(),
                     [&](const post_rule& rule) { return rule.kind == kind && (rule.who & bit(r)); });
}

result<void> check_engagement_access(const claims& who, const channel& ch) {
  if (ch.type == channel_type::support) return {};
  if (!who.may_access(ch.eng)) return forbidden("not a member of " + ch.name());
  return {};
}

}  // namespace

bool is_client_kind(std::string_view kind) {
  return std::find(client_kinds.begin(), client_kinds.end(), kind) != client_kinds.end();
}

bool role_may_read(user_role r, channel_type where) {
  return std::any_of(read_rules.begin(), read_rules.end(),
                     [&](const read_rule& rule) { return rule.where == where && (rule.who & bit(r)); });
}

bool role_may_post(user_role r, channel_type where, std::string_view kind) {
  return std::any_of(post_rules.begin(), post_rules.end(), [&](const post_rule& rule) {
    return rule.where == where && rule.kind == kind && (rule.who & bit(r));
  });
}

result<void> check_read(const claims& who, const channel& ch) {
  const user_role r = who.who.role;
  if (!role_may_read(r, ch.type)) return forbidden("role " + std::string(role_name(r)) + " may not read " + ch.name());
  return check_engagement_access(who, ch);
}

result<void> check_post(const claims& who, const channel& ch, std::string_view kind) {
  if (!is_client_kind(kind)) {
    return make_error(errc::bad_request, "kind " + detail::display_name(kind) + " may not be posted");
  }
  const user_role r = who.who.role;
  if (!role_may_post_anywhere(r, kind)) {
    return forbidden("role " + std::string(role_name(r)) + " may not post " + std::string(kind));
  }
  if (auto access = check_engagement_access(who, ch); !access) return access;
  if (!role_may_post(r, ch.type, kind)) {
    return forbidden("role " + std::string(role_name(r)) + " may not post " + std::string(kind) + " in " + ch.name());
  }
  return {};
}

bool opens_engagements(const claims& who) {
  const user_role r = who.who.role;
  return is_party(r) || r == user_role::bot;
}

}  // namespace parley
