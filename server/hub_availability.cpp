// The hub's availability operations (protocol §9.3): set and read a user's
// availability, know it for presence entries, push its changes.
#include "server/hub.hpp"

#include "protocol/service_levels.hpp"
#include "storage/clock.hpp"

#include <boost/json/serialize.hpp>

namespace parley {
namespace {

boost::json::object stored_json(const std::optional<known_availability>& k) {
  boost::json::object o;
  if (k && k->value) {
    o["availability"] = availability_json(*k->value);
    o["set_at"] = k->set_at;
  } else {
    o["availability"] = nullptr;
    o["set_at"] = nullptr;
  }
  if (k && k->last_seen > 0) {
    o["last_seen"] = k->last_seen;
  } else {
    o["last_seen"] = nullptr;
  }
  return o;
}

}  // namespace

// A service token acts for the platform, not for a person who can be away.
void hub::set_availability(const claims& who, const boost::json::object& body,
                           std::function<void(result<boost::json::object>)> done) {
  if (who.who.role == user_role::service) return done(make_error(errc::forbidden, "service tokens have no availability"));
  const auto now = now_ms();
  auto a = parse_availability_request(body, now);
  if (!a) return done(a.err());
  auto text = boost::json::serialize(availability_json(*a));
  storage_.set_availability(who.who.id, text, now,
                            [this, id = who.who.id, text, now, done = std::move(done)](result<void> stored) {
                              if (!stored) return done(stored.err());
                              user_record r{id, text, now, now};
                              availability_.remember(id, r, now_ms());
                              // Every instance (this one at once) pushes it to its members.
                              storage_.publish_user_change(id);
                              done(stored_json(availability_book::from_record(r)));
                            });
}

void hub::availability_of(const claims& who, std::function<void(result<boost::json::object>)> done) {
  storage_.user_records({who.who.id}, [this, id = who.who.id, done = std::move(done)](
                                          result<std::vector<user_record>> found) {
    if (!found) return done(found.err());
    std::optional<user_record> r;
    if (!found->empty()) r = found->front();
    availability_.remember(id, r, now_ms());
    done(stored_json(r ? std::optional(availability_book::from_record(*r)) : std::nullopt));
  });
}

void hub::learn_availability(std::vector<std::string> user_ids, std::function<void()> done) {
  auto unknown = availability_.unknown_of(user_ids, now_ms());
  if (unknown.empty()) return done();
  storage_.user_records(unknown, [this, unknown, done = std::move(done)](result<std::vector<user_record>> found) {
    if (!found) return done();
    const auto now = now_ms();
    std::unordered_map<std::string, const user_record*> by_id;
    for (const auto& r : *found) by_id[r.user_id] = &r;
    for (const auto& id : unknown) {
      auto it = by_id.find(id);
      availability_.remember(id, it == by_id.end() ? std::nullopt : std::optional(*it->second), now);
    }
    done();
  });
}

boost::json::object hub::presence_entry(const user& who, bool present) const {
  const auto now = now_ms();
  return presence_entry_json(who, availability_.known(who.id), present ? std::optional(now) : std::nullopt);
}

boost::json::object hub::absent_entry(const std::string& user_id) const {
  auto k = availability_.known(user_id);
  auto o = stored_json(k);
  o.erase("set_at");
  o["user"] = boost::json::object{{"id", user_id}};
  return o;
}

void hub::user_connected(const std::string& user_id) { availability_.connected(user_id); }

void hub::user_disconnected(const std::string& user_id) {
  if (!availability_.disconnected(user_id)) return;
  const auto now = now_ms();
  storage_.set_last_seen(user_id, now);
  availability_.seen(user_id, now);
}

// The due of the owed reply, moved by the owing user's away period as this
// instance knows it (refreshed on every change; at most 60 s stale when a
// change's announcement was lost). The watcher reads it fresh before posting.
std::optional<std::int64_t> hub::owed_reply_due(const engagement_state& s) const {
  std::optional<owing_availability> owing;
  if (auto who = owing_user(s)) {
    if (auto k = availability_.known(*who)) owing = owing_availability{k->value, k->set_at};
  }
  return reply_due(s, cfg_.sla, owing);
}

// The engagement's state as `reader` sees it, for a join's reply and
// GET /api/v1/engagements/<id>; the state push builds the same (state_push_after).
boost::json::object hub::state_for(const engagement_state& s, const claims& reader) const {
  return state_json(s, cfg_.sla.phases, reader, cfg_.open_limits, owed_reply_due(s));
}

// Any instance changed `user_id`'s availability: read it again, and push it
// to the members of every channel the user is present on here. An instance
// where the user is not present pushes nothing: its members hear it from the
// instances where the user is, through the channel's ephemeral pushes.
void hub::on_user_changed(const std::string& user_id) {
  storage_.user_records({user_id}, [this, user_id](result<std::vector<user_record>> found) {
    if (found) {
      std::optional<user_record> r;
      if (!found->empty()) r = found->front();
      availability_.remember(user_id, r, now_ms());
    }
    for (const auto& [ch, who] : membership_.channels_of(user_id)) {
      boost::json::array updated;
      updated.emplace_back(presence_entry(who, true));
      broadcast(ch, std::make_shared<const std::string>(presence_push(ch, {}, {}, std::move(updated))), nullptr);
    }
  });
}

}  // namespace parley
