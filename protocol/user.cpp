#include "protocol/user.hpp"

namespace parley {

std::optional<user_role> parse_role(std::string_view name) {
  if (name == "client") return user_role::client;
  if (name == "expert") return user_role::expert;
  if (name == "support") return user_role::support;
  if (name == "bot") return user_role::bot;
  if (name == "service") return user_role::service;
  // "system" is deliberately absent: no token may claim to be the server.
  return std::nullopt;
}

std::string_view role_name(user_role role) {
  switch (role) {
    case user_role::client: return "client";
    case user_role::expert: return "expert";
    case user_role::support: return "support";
    case user_role::bot: return "bot";
    case user_role::service: return "service";
    case user_role::system: return "system";
  }
  return "system";
}

boost::json::object user_json(const user& u) {
  boost::json::object o;
  o.reserve(3);
  o.emplace("id", u.id);
  // Clients always get a printable name, so they never have to special-case its absence.
  o.emplace("name", u.name.empty() ? u.id : u.name);
  o.emplace("role", role_name(u.role));
  return o;
}

user system_user() { return user{"system", "Parley", user_role::system}; }

}  // namespace parley
