#include "protocol/channel.hpp"

#include <catch2/catch.hpp>

using namespace parley;

namespace {

claims token(user_role role, std::vector<std::string> eng) {
  return claims{user{"u1", "U", role}, std::move(eng), 0};
}

channel ch(std::string_view name) {
  auto c = parse_channel(name);
  REQUIRE(c);
  return *c;
}

bool may_read(const claims& who, std::string_view name) { return !check_read(who, ch(name)); }
bool may_post(const claims& who, std::string_view name, std::string_view kind) {
  return !check_post(who, ch(name), kind);
}

}  // namespace

TEST_CASE("channel names parse exactly", "[protocol]") {
  CHECK(parse_channel("eng:42") == channel{channel_type::engagement, "42"});
  CHECK(parse_channel("eng:a-B_9:mediation") == channel{channel_type::mediation, "a-B_9"});
  CHECK(parse_channel("support") == channel{channel_type::support, ""});
  CHECK(parse_channel("eng:" + std::string(64, 'x')));

  for (std::string_view bad : {"", "eng:", "eng", "eng:42:", "eng::mediation", "eng:42:mediation:x", "eng:42:other",
                               "ENG:42", "Support", "support ", " eng:42", "eng:4 2", "eng:a.b", "eng:a/b",
                               "eng:\xC3\xA9", "eng:42:Mediation", "mediation"}) {
    INFO(bad);
    CHECK_FALSE(parse_channel(bad));
  }
  CHECK_FALSE(parse_channel("eng:" + std::string(65, 'x')));
}

TEST_CASE("channel names round-trip", "[protocol]") {
  for (std::string_view name : {"eng:42", "eng:42:mediation", "support"}) {
    CHECK(ch(name).name() == name);
  }
}

TEST_CASE("engagement ids are 1 to 64 characters of letters, digits, _ and -", "[protocol]") {
  CHECK(valid_engagement_id("a"));
  CHECK(valid_engagement_id("Az09_-"));
  CHECK_FALSE(valid_engagement_id(""));
  CHECK_FALSE(valid_engagement_id("*"));
  CHECK_FALSE(valid_engagement_id("a:b"));
  CHECK(valid_engagement_id(std::string(64, 'a')));
  CHECK_FALSE(valid_engagement_id(std::string(65, 'a')));
}

TEST_CASE("the main channel is read by parties, bots, support and service with access", "[protocol]") {
  for (auto role : {user_role::client, user_role::expert, user_role::bot, user_role::support, user_role::service}) {
    INFO(role_name(role));
    CHECK(may_read(token(role, {"42"}), "eng:42"));
    CHECK_FALSE(may_read(token(role, {"43"}), "eng:42"));
  }
  auto err = check_read(token(user_role::client, {"43"}), ch("eng:42"));
  REQUIRE(err);
  CHECK(err->code == errc::forbidden);
  CHECK(err->message == "not a member of eng:42");
  CHECK(may_read(token(user_role::support, {"*"}), "eng:42"));
}

TEST_CASE("the mediation channel is read by parties, support and service, never bots", "[protocol]") {
  CHECK(may_read(token(user_role::client, {"42"}), "eng:42:mediation"));
  CHECK(may_read(token(user_role::expert, {"42"}), "eng:42:mediation"));
  CHECK(may_read(token(user_role::support, {"*"}), "eng:42:mediation"));
  CHECK(may_read(token(user_role::service, {"*"}), "eng:42:mediation"));
  CHECK_FALSE(may_read(token(user_role::client, {"7"}), "eng:42:mediation"));
  auto err = check_read(token(user_role::bot, {"42"}), ch("eng:42:mediation"));
  REQUIRE(err);
  CHECK(err->code == errc::forbidden);
  CHECK(err->message == "role bot may not read eng:42:mediation");
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

  auto err = check_post(token(user_role::bot, {"42"}), ch("eng:42"), "message");
  REQUIRE(err);
  CHECK(err->code == errc::forbidden);
  CHECK(err->message == "role bot may not post message");
}

TEST_CASE("status is posted by parties, bots and service in the main channel only", "[protocol]") {
  for (auto role : {user_role::client, user_role::expert, user_role::bot, user_role::service}) {
    INFO(role_name(role));
    CHECK(may_post(token(role, {"42"}), "eng:42", "status"));
  }
  CHECK_FALSE(may_post(token(user_role::support, {"*"}), "eng:42", "status"));
  auto err = check_post(token(user_role::client, {"42"}), ch("eng:42:mediation"), "status");
  REQUIRE(err);
  CHECK(err->code == errc::forbidden);
  CHECK(err->message == "role client may not post status in eng:42:mediation");
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
  auto err = check_post(token(user_role::client, {"7"}), ch("eng:42"), "message");
  REQUIRE(err);
  CHECK(err->code == errc::forbidden);
  CHECK(err->message == "not a member of eng:42");
  CHECK_FALSE(may_post(token(user_role::support, {"7"}), "eng:42:mediation", "proposal"));
}

TEST_CASE("posting an unknown or server-made kind is a bad request", "[protocol]") {
  for (auto kind : {"poll", "phase", "sla", "notice", "mediation", ""}) {
    INFO(kind);
    auto err = check_post(token(user_role::client, {"42"}), ch("eng:42"), kind);
    REQUIRE(err);
    CHECK(err->code == errc::bad_request);
  }
}
