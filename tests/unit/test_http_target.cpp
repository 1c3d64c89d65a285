#include "protocol/http_target.hpp"

#include <catch2/catch.hpp>

using namespace parley;

TEST_CASE("percent-decoding turns %XX into bytes and refuses truncated or non-hex escapes", "[protocol]") {
  CHECK(percent_decode("eng%3A42") == std::optional<std::string>("eng:42"));
  CHECK(percent_decode("%41%62c") == std::optional<std::string>("Abc"));
  CHECK(percent_decode("%00") == std::optional<std::string>(std::string(1, '\0')));
  CHECK(percent_decode("") == std::optional<std::string>(""));
  CHECK_FALSE(percent_decode("%"));
  CHECK_FALSE(percent_decode("%4"));
  CHECK_FALSE(percent_decode("abc%4"));
  CHECK_FALSE(percent_decode("%zz"));
}

TEST_CASE("a request target splits into its path and decoded query", "[protocol]") {
  auto t = split_target("/api/v1/channels/eng%3A1/events?after=5&limit=%31%30&flag&after=7");
  REQUIRE(t);
  CHECK(t->path == "/api/v1/channels/eng%3A1/events");
  CHECK(t->query.at("after") == "7");
  CHECK(t->query.at("limit") == "10");
  CHECK(t->query.at("flag").empty());
  CHECK(split_target("/x?")->query.empty());
  CHECK(split_target("/x?&&")->query.size() == 1);
  CHECK_FALSE(split_target("/x?a=%G0"));
}

TEST_CASE("integer query parameters are checked against their range", "[protocol]") {
  auto t = split_target("/x?a=5&b=-1&c=99999999999999999999&d=5x&e=");
  REQUIRE(t);
  auto a = query_int(*t, "a", 0, 10);
  REQUIRE(a);
  CHECK(*a == std::optional<std::int64_t>(5));
  CHECK_FALSE(query_int(*t, "b", 0, 10));
  CHECK_FALSE(query_int(*t, "c", 0, INT64_MAX));
  CHECK_FALSE(query_int(*t, "d", 0, 10));
  CHECK(query_int(*t, "e", 0, 10)->has_value() == false);
  CHECK(query_int(*t, "missing", 0, 10)->has_value() == false);
}

TEST_CASE("a path parameter lies strictly between prefix and suffix, which never overlap", "[protocol]") {
  constexpr std::string_view prefix = "/api/v1/channels/", suffix = "/events";
  CHECK(path_middle("/api/v1/channels/eng:1/events", prefix, suffix) == std::optional<std::string_view>("eng:1"));
  CHECK(path_middle("/api/v1/channels//events", prefix, suffix) == std::optional<std::string_view>(""));
  // The prefix's last '/' is also the suffix's first: no middle, not a negative length.
  CHECK_FALSE(path_middle("/api/v1/channels/events", prefix, suffix));
  CHECK_FALSE(path_middle("/api/v1/channels/", prefix, suffix));
  CHECK_FALSE(path_middle("/api/v1/channel/x/events", prefix, suffix));
  CHECK_FALSE(path_middle("/api/v1/channels/x/event", prefix, suffix));
}
