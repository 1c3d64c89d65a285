#include "storage/redis_presence.hpp"

#include "storage/clock.hpp"
#include "storage/error_counts.hpp"
#include "storage/redis_keys.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <optional>
#include <set>
#include <string_view>
#include <utility>

namespace parley {
namespace {

// Entries live this long unless their instance writes them again, which it
// does every presence_refresh: a crashed instance's members are gone within
// presence_ttl.
constexpr std::chrono::milliseconds presence_ttl{15000};
constexpr std::chrono::milliseconds presence_refresh{5000};

std::string presence_field(std::string_view instance, std::string_view user_id) {
  return std::string(instance) + "\n" + std::string(user_id);
}

// A presence value: "<expiry ms> <user json>".
std::string presence_value(const user& who) {
  auto expiry = now_ms() + presence_ttl.count();
  return std::to_string(expiry) + " " + boost::json::serialize(user_json(who));
}

struct presence_entry {
  std::int64_t expiry = 0;
  user who;
};

std::optional<presence_entry> parse_presence(std::string_view value) {
  auto space = value.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  auto expiry = decimal_int64(value.substr(0, space));
  boost::system::error_code ec;
  auto v = boost::json::parse(value.substr(space + 1), ec);
  if (!expiry || ec || !v.is_object()) return std::nullopt;
  const auto& o = v.get_object();
  auto str = [&](const char* k) -> std::string {
    const auto* f = o.if_contains(k);
    return f && f->is_string() ? std::string(f->get_string()) : std::string();
  };
  auto role = parse_role(str("role"));
  if (!role) return std::nullopt;
  return presence_entry{*expiry, user{str("id"), str("name"), *role}};
}

}  // namespace

redis_presence::redis_presence(redis_router& cmd, std::string instance,
                               std::function<void(const std::string& ch, const user& who)> left)
    : cmd_(cmd), instance_(std::move(instance)), left_(std::move(left)) {}

void redis_presence::update(const std::string& ch, const user& who, bool present) {
  if (present) {
    present_[ch][who.id] = who;
    return write(ch, who);
  }
  if (auto it = present_.find(ch); it != present_.end()) {
    it->second.erase(who.id);
    if (it->second.empty()) present_.erase(it);
  }
  if (cmd_.connected())
    cmd_.command({"HDEL", channel_key(ch, "presence"), presence_field(instance_, who.id)}, [](result<redis_value>) {});
}

void redis_presence::write(const std::string& ch, const user& who) {
  if (!cmd_.connected()) return;  // written again by the next refresh
  cmd_.command({"HSET", channel_key(ch, "presence"), presence_field(instance_, who.id), presence_value(who)},
               [](result<redis_value>) {});
}

// Re-writes this instance's entries before they expire, and clears the
// expired entries of the channels it has members in.
void redis_presence::tick(std::chrono::steady_clock::time_point now) {
  if (!cmd_.connected() || now - refreshed_ < presence_refresh) return;
  refreshed_ = now;
  for (const auto& [ch, users] : present_) {
    for (const auto& [id, who] : users) write(ch, who);
    sweep(ch);
  }
}

// Removes expired entries (their instance stopped reporting). The instance
// whose HDEL removes one tells every member that the user left, unless the
// user is still present through another instance.
void redis_presence::sweep(const std::string& ch) {
  auto key = channel_key(ch, "presence");
  cmd_.command({"HGETALL", key}, [this, ch, key](result<redis_value> r) {
    if (stopping_ || !r || !r->is_array()) return;
    auto now = now_ms();
    std::set<std::string> live;
    std::vector<std::pair<std::string, user>> expired;
    for (std::size_t i = 0; i + 1 < r->elements.size(); i += 2) {
      auto entry = parse_presence(r->elements[i + 1].str);
      if (entry && entry->expiry > now) {
        live.insert(entry->who.id);
      } else {
        expired.emplace_back(r->elements[i].str, entry ? entry->who : user{});
      }
    }
    for (auto& [field, who] : expired) {
      bool announce = !who.id.empty() && !live.count(who.id);
      cmd_.command({"HDEL", key, field}, [this, ch, who, announce](result<redis_value> d) {
        if (stopping_ || !announce || !d || d->integer != 1) return;
        left_(ch, who);
      });
    }
  });
}

void redis_presence::members(const std::string& ch, std::function<void(result<std::vector<user>>)> handler) {
  cmd_.command({"HGETALL", channel_key(ch, "presence")}, [handler](result<redis_value> r) {
    if (!r) return handler(r.err());
    if (!r->is_array()) return handler(storage_fault("unexpected presence reply"));
    auto now = now_ms();
    std::map<std::string, user> members;
    for (std::size_t i = 1; i < r->elements.size(); i += 2) {
      auto entry = parse_presence(r->elements[i].str);
      if (entry && entry->expiry > now) members.emplace(entry->who.id, entry->who);
    }
    std::vector<user> out;
    for (auto& [id, who] : members) out.push_back(std::move(who));
    handler(std::move(out));
  });
}

}  // namespace parley
