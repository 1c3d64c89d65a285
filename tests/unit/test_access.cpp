// The access table (protocol §2 and the kinds table of §3): who reads which
// channel and posts which kind there, from the token alone.
#include "protocol/access.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <tuple>

using namespace parley;

namespace {

claims token(user_role role, std::vector<std::string> eng) {
  return claims{user{"u1", "U", role}, std::move(eng), 0, std::nullopt};
}

channel ch(std::string_view name) {
  auto c = parse_channel(name);
  REQUIRE(c);
  return *c;
}

bool may_read(const claims& who, std::string_view name) { return check_read(who, ch(name)).ok(); }
bool may_post(const claims& who, std::string_view name, std::string_view kind) {
  return check_post(who, ch(name), kind).ok();
}

constexpr user_role all_roles[] = {user_role::client, user_role::expert, user_role::support,
                                   user_role::bot,    user_role::service, user_role::system};
constexpr channel_type all_types[] = {channel_type::engagement, channel_type::mediation, channel_type::support};

std::string_view type_name(channel_type t) {
  switch (t) {
    case channel_type::engagement: return "eng:<id>";
    case channel_type::mediation: return "eng:<id>:mediation";
    case channel_type::support: return "support";
  }
  return "?";
}

}  // namespace

// Every role × channel type × kind, against the tables of protocol §2 and §3
// written out here a second time, by hand.
TEST_CASE("the access table is protocol §2 and §3, cell by cell", "[protocol][access]") {
  using r = user_role;
  using t = channel_type;
  const std::set<std::pair<r, t>> readers = {
      {r::client, t::engagement},  {r::expert, t::engagement},  {r::bot, t::engagement},
      {r::support, t::engagement}, {r::service, t::engagement}, {r::client, t::mediation},
      {r::expert, t::mediation},   {r::support, t::mediation},  {r::service, t::mediation},
      {r::support, t::support},    {r::service, t::support},
  };
  const std::set<std::tuple<r, t, std::string_view>> posters = {
      {r::client, t::engagement, "message"},      {r::expert, t::engagement, "message"},
      {r::support, t::engagement, "message"},     {r::client, t::engagement, "status"},
      {r::expert, t::engagement, "status"},       {r::bot, t::engagement, "status"},
      {r::service, t::engagement, "status"},      {r::client, t::engagement, "flag"},
      {r::expert, t::engagement, "flag"},         {r::support, t::engagement, "flag"},
      {r::bot, t::engagement, "flag"},            {r::client, t::engagement, "flag_update"},
      {r::expert, t::engagement, "flag_update"},  {r::support, t::engagement, "flag_update"},
      {r::client, t::engagement, "proposal"},     {r::expert, t::engagement, "proposal"},
      {r::client, t::engagement, "decision"},     {r::expert, t::engagement, "decision"},
      {r::client, t::engagement, "acknowledgement"}, {r::expert, t::engagement, "acknowledgement"},
      {r::client, t::mediation, "message"},       {r::expert, t::mediation, "message"},
      {r::support, t::mediation, "message"},      {r::support, t::mediation, "proposal"},
      {r::client, t::mediation, "decision"},      {r::expert, t::mediation, "decision"},
      {r::support, t::support, "message"},
  };
  for (auto role : all_roles) {
    for (auto where : all_types) {
      INFO(role_name(role) << " in " << type_name(where));
      CHECK(role_may_read(role, where) == (readers.count({role, where}) > 0));
      for (auto kind : {"message", "status", "flag", "flag_update", "proposal", "decision", "acknowledgement",
                        "phase", "sla", "notice", "mediation", "poll"}) {
        INFO(kind);
        CHECK(role_may_post(role, where, kind) == (posters.count({role, where, kind}) > 0));
      }
    }
  }
}

TEST_CASE("check_read and check_post follow the table for a token with access", "[protocol][access]") {
  for (auto role : all_roles) {
    const auto who = token(role, {"*"});
    for (auto name : {"eng:42", "eng:42:mediation", "support"}) {
      const auto c = ch(name);
      INFO(role_name(role) << " in " << name);
      CHECK(check_read(who, c).ok() == role_may_read(role, c.type));
      for (auto kind : client_kinds) {
        INFO(kind);
        CHECK(check_post(who, c, kind).ok() == role_may_post(role, c.type, kind));
      }
    }
  }
}

TEST_CASE("engagements are opened by the parties and bots, not by support or the platform", "[protocol][access]") {
  CHECK(opens_engagements(token(user_role::client, {"42"})));
  CHECK(opens_engagements(token(user_role::expert, {"42"})));
  CHECK(opens_engagements(token(user_role::bot, {"42"})));
  CHECK_FALSE(opens_engagements(token(user_role::support, {"*"})));
  CHECK_FALSE(opens_engagements(token(user_role::service, {"*"})));
}

TEST_CASE("the main channel is read by parties, bots, support and service with access", "[protocol]") {
  for (auto role : {user_role::client, user_role::expert, user_role::bot, user_role::support, user_role::service}) {
    INFO(role_name(role));
    CHECK(may_read(token(role, {"42"}), "eng:42"));
    CHECK_FALSE(may_read(token(role, {"43"}), "eng:42"));
  }
  auto refused = check_read(token(user_role::client, {"43"}), ch("eng:42"));
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::forbidden);
  CHECK(refused.err().message == "not a member of eng:42");
  CHECK(may_read(token(user_role::support, {"*"}), "eng:42"));
}

TEST_CASE("the mediation channel is read by parties, support and service, never bots", "[protocol]") {
  CHECK(may_read(token(user_role::client, {"42"}), "eng:42:mediation"));
  CHECK(may_read(token(user_role::expert, {"42"}), "eng:42:mediation"));
  CHECK(may_read(token(user_role::support, {"*"}), "eng:42:mediation"));
  CHECK(may_read(token(user_role::service, {"*"}), "eng:42:mediation"));
  CHECK_FALSE(may_read(token(user_role::client, {"7"}), "eng:42:mediation"));
  auto refused = check_read(token(user_role::bot, {"42"}), ch("eng:42:mediation"));
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::forbidden);
  CHECK(refused.err().message == "role bot may not read eng:42:mediation");
}

TEST_CASE("the support channel is read by support and service only", "[protocol]") {
  CHECK(may_read(token(user_role::support, {}), "support"));
  CHECK(may_read(token(user_role::service, {"*"}), "support"));
  for (auto role : {user_role::client, user_role::expert, user_role::bot, user_role::system}) {
    INFO(role_name(role));
    CHECK_FALSE(may_read(token(role, {"42"}), "support"));
  }
}

TEST_CASE("messages are posted by parties and support", "[protocol]") {
  CHECK(may_post(token(user_role::client, {"42"}), "eng:42", "message"));
  CHECK(may_post(token(user_role::expert, {"42"}), "eng:42:mediation", "message"));
  CHECK(may_post(token(user_role::support, {"*"}), "eng:42", "message"));
  CHECK(may_post(token(user_role::support, {"*"}), "eng:42:mediation", "message"));
  CHECK(may_post(token(user_role::support, {}), "support", "message"));
  CHECK_FALSE(may_post(token(user_role::client, {"42"}), "support", "message"));
  CHECK_FALSE(may_post(token(user_role::service, {"*"}), "eng:42", "message"));

  auto refused = check_post(token(user_role::bot, {"42"}), ch("eng:42"), "message");
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::forbidden);
  CHECK(refused.err().message == "role bot may not post message");
}

TEST_CASE("status is posted by parties, bots and service in the main channel only", "[protocol]") {
  for (auto role : {user_role::client, user_role::expert, user_role::bot, user_role::service}) {
    INFO(role_name(role));
    CHECK(may_post(token(role, {"42"}), "eng:42", "status"));
  }
  CHECK_FALSE(may_post(token(user_role::support, {"*"}), "eng:42", "status"));
  auto refused = check_post(token(user_role::client, {"42"}), ch("eng:42:mediation"), "status");
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::forbidden);
  CHECK(refused.err().message == "role client may not post status in eng:42:mediation");
}

TEST_CASE("flags are raised by parties, support and bots in the main channel", "[protocol]") {
  for (auto role : {user_role::client, user_role::expert, user_role::support, user_role::bot}) {
    INFO(role_name(role));
    CHECK(may_post(token(role, {"42"}), "eng:42", "flag"));
    CHECK_FALSE(may_post(token(role, {"42"}), "eng:42:mediation", "flag"));
  }
  CHECK_FALSE(may_post(token(user_role::service, {"*"}), "eng:42", "flag"));
}

TEST_CASE("flag updates are posted by parties and support", "[protocol]") {
  CHECK(may_post(token(user_role::client, {"42"}), "eng:42", "flag_update"));
  CHECK(may_post(token(user_role::support, {"*"}), "eng:42", "flag_update"));
  CHECK_FALSE(may_post(token(user_role::bot, {"42"}), "eng:42", "flag_update"));
}

TEST_CASE("parties propose in the main channel, support in mediation", "[protocol]") {
  CHECK(may_post(token(user_role::client, {"42"}), "eng:42", "proposal"));
  CHECK(may_post(token(user_role::expert, {"42"}), "eng:42", "proposal"));
  CHECK(may_post(token(user_role::support, {"*"}), "eng:42:mediation", "proposal"));
  CHECK_FALSE(may_post(token(user_role::support, {"*"}), "eng:42", "proposal"));
  CHECK_FALSE(may_post(token(user_role::client, {"42"}), "eng:42:mediation", "proposal"));
  CHECK_FALSE(may_post(token(user_role::bot, {"42"}), "eng:42", "proposal"));
}

TEST_CASE("parties decide in the main and mediation channels", "[protocol]") {
  CHECK(may_post(token(user_role::client, {"42"}), "eng:42", "decision"));
  CHECK(may_post(token(user_role::expert, {"42"}), "eng:42:mediation", "decision"));
  CHECK_FALSE(may_post(token(user_role::support, {"*"}), "eng:42:mediation", "decision"));
  CHECK_FALSE(may_post(token(user_role::bot, {"42"}), "eng:42", "decision"));
  CHECK_FALSE(may_post(token(user_role::client, {"42"}), "support", "decision"));
}

TEST_CASE("posting needs access to the engagement", "[protocol]") {
  auto refused = check_post(token(user_role::client, {"7"}), ch("eng:42"), "message");
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::forbidden);
  CHECK(refused.err().message == "not a member of eng:42");
  CHECK_FALSE(may_post(token(user_role::support, {"7"}), "eng:42:mediation", "proposal"));
}

TEST_CASE("posting an unknown or server-made kind is a bad request", "[protocol]") {
  for (auto kind : {"poll", "phase", "sla", "notice", "mediation", ""}) {
    INFO(kind);
    auto refused = check_post(token(user_role::client, {"42"}), ch("eng:42"), kind);
    REQUIRE_FALSE(refused);
    CHECK(refused.err().code == errc::bad_request);
  }
}
