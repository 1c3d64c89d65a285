#include "protocol/engagement_list.hpp"

#include <catch2/catch.hpp>

#include <boost/json.hpp>

using namespace parley;

namespace {

result<engagement_list_query> parse(std::string_view target) {
  auto t = split_target(target);
  REQUIRE(t);
  return parse_engagement_list_query(*t);
}

}  // namespace

TEST_CASE("the engagement list's query: defaults, bounds and the phase filter", "[protocol]") {
  auto plain = parse("/api/v1/engagements");
  REQUIRE(plain);
  CHECK(plain->limit == 50);
  CHECK(plain->after.empty());
  CHECK_FALSE(plain->phase);

  auto full = parse("/api/v1/engagements?phase=active&after=ab_1-2&limit=1000");
  REQUIRE(full);
  CHECK(full->limit == 1000);
  CHECK(full->after == "ab_1-2");
  CHECK(full->phase == engagement_phase::active);

  auto empty = parse("/api/v1/engagements?phase=&after=&limit=");
  REQUIRE(empty);
  CHECK(empty->limit == 50);
  CHECK(empty->after.empty());
  CHECK_FALSE(empty->phase);
}

TEST_CASE("the engagement list's query refuses what no page can answer", "[protocol]") {
  for (std::string_view bad : {"?limit=0", "?limit=1001", "?limit=-5", "?limit=ten", "?limit=5x", "?phase=open",
                               "?phase=Active", "?phase=active%00", "?after=eng%3A1", "?after=a%20b", "?after=%2A",
                               "?after=%C3%A9", "?after=a:mediation"}) {
    INFO(bad);
    auto q = parse("/api/v1/engagements" + std::string(bad));
    REQUIRE_FALSE(q);
    CHECK(q.err().code == errc::bad_request);
  }
  CHECK_FALSE(parse("/api/v1/engagements?after=" + std::string(65, 'a')));
  CHECK(parse("/api/v1/engagements?after=" + std::string(64, 'a')));
}

TEST_CASE("an engagement list item takes its fields from the state", "[protocol]") {
  auto state = boost::json::parse(R"({"phase":"active","phase_since":1,"phase_due":99,"agreement":null,
    "open_flags":[{"seq":4,"type":"risk","state":"open","text":"late","by":{"id":"c"}}],"open_proposals":[],
    "owed_reply":{"side":"expert","since_seq":3,"since_ts":7},"last_status_ts":null,"can":["message"]})")
                   .as_object();
  auto item = engagement_list_item("42", state);
  CHECK(item.size() == 6);
  CHECK(item.at("id") == "42");
  CHECK(item.at("title").is_null());
  CHECK(item.at("phase") == "active");
  CHECK(item.at("phase_due") == 99);
  CHECK(item.at("open_flags") == state.at("open_flags"));
  CHECK(item.at("owed_reply") == state.at("owed_reply"));

  state["title"] = "Market entry";
  CHECK(engagement_list_item("42", state).at("title") == "Market entry");
  auto bare = engagement_list_item("7", boost::json::object{});
  CHECK(bare.at("open_flags").as_array().empty());
  CHECK(bare.at("owed_reply").is_null());
}
