#include "protocol/channel.hpp"

#include <catch2/catch.hpp>

using namespace parley;

namespace {

channel ch(std::string_view name) {
  auto c = parse_channel(name);
  REQUIRE(c);
  return *c;
}

}  // namespace

TEST_CASE("channel names parse exactly", "[protocol]") {
  CHECK(parse_channel("eng:42") == channel{channel_type::engagement, "42"});
  CHECK(parse_channel("eng:a-B_9:mediation") == channel{channel_type::mediation, "a-B_9"});
  CHECK(parse_channel("support") == channel{channel_type::support, ""});
  CHECK(parse_channel(channel::main(std::string(64, 'x'))));

  for (std::string_view bad : {"", "eng:", "eng", "eng:42:", "eng::mediation", "eng:42:mediation:x", "eng:42:other",
                               "ENG:42", "Support", "support ", " eng:42", "eng:4 2", "eng:a.b", "eng:a/b",
                               "eng:\xC3\xA9", "eng:42:Mediation", "mediation"}) {
    INFO(bad);
    CHECK_FALSE(parse_channel(bad));
  }
  CHECK_FALSE(parse_channel(channel::main(std::string(65, 'x'))));
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

TEST_CASE("an engagement's channel names are built in one place", "[protocol]") {
  CHECK(channel::main("42") == "eng:42");
  CHECK(channel::mediation("42") == "eng:42:mediation");
  CHECK(channel{channel_type::engagement, "42"}.name() == channel::main("42"));
  CHECK(channel{channel_type::mediation, "42"}.name() == channel::mediation("42"));
  CHECK(parse_channel(channel::mediation("a-B_9")) == channel{channel_type::mediation, "a-B_9"});
}
