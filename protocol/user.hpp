#pragma once
#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace parley {

// Roles of protocol §1; `system` is the server itself and never appears in a token.
enum class user_role { client, expert, support, bot, service, system };

std::optional<user_role> parse_role(std::string_view name);  // token roles only (not "system")
std::string_view role_name(user_role role);
// client and expert are the two parties of an engagement.
inline bool is_party(user_role r) { return r == user_role::client || r == user_role::expert; }

struct user {
  std::string id;
  std::string name;  // empty when the token has none
  user_role role = user_role::client;
};

// {"id":..,"name":..,"role":..}; name is always present (the id when the token had none).
boost::json::object user_json(const user& u);

// The server's own identity on events it makes (from.role = "system").
user system_user();

}  // namespace parley
