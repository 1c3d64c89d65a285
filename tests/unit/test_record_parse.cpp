// Reading a stored or exported decision-log record back must give the values
// its hash was computed over (protocol §5), numbers included.
#include "protocol/decision_log.hpp"

#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

using namespace parley;

TEST_CASE("a record whose terms hold a double keeps its hash through storage and export", "[protocol]") {
  // The correctly rounded double of 1.3630026935653133E-4: Boost.JSON 1.81's own
  // parser reads this shortest form as a neighbouring double.
  const double amount = 0.00013630026935653133;
  boost::json::object rec{{"n", 1},
                          {"terms", {{"rate", amount}, {"big", 9007199254740993.0}, {"u", 18446744073709551615ull}}},
                          {"prev", genesis_prev}};
  rec["hash"] = record_hash(rec);
  auto text = boost::json::serialize(rec);
  auto back = parse_record(text);
  REQUIRE(back);
  CHECK(back->at("terms").at("rate").as_double() == amount);
  CHECK(record_hash(*back) == rec.at("hash").as_string());
  CHECK(verify_chain({*back}));
}

TEST_CASE("parse_record accepts only one JSON object", "[protocol]") {
  CHECK(parse_record(R"({"n":1})"));
  CHECK_FALSE(parse_record("[1]"));
  CHECK_FALSE(parse_record(R"({"n":1} {"n":2})"));
  CHECK_FALSE(parse_record(R"({"n":1,"n":2})"));
  CHECK_FALSE(parse_record("{\"n\":\"\xff\"}"));
  CHECK_FALSE(parse_record(""));
}
