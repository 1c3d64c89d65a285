#include "protocol/availability.hpp"

#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include <string>

using namespace parley;

namespace {
constexpr std::int64_t now = 1'800'000'000'000;
constexpr std::int64_t hour = 3600 * 1000;

std::string with_now(std::string text) {
  auto at = text.find("NOW+");
  if (at == std::string::npos) return text;
  auto end = text.find_first_not_of("0123456789", at + 4);
  auto plus = std::stoll(text.substr(at + 4, end - at - 4));
  return text.substr(0, at) + std::to_string(now + plus) + text.substr(end);
}
}  // namespace

TEST_CASE("availability requests that are accepted", "[protocol][availability]") {
  const char* accepted[] = {
      R"({"status":"available"})",
      R"({"status":"busy","note":"in workshops"})",
      R"({"status":"away","until":NOW+1})",
      R"({"status":"away","until":null,"note":null})",
      R"({"status":"available","reply_within_h":1})",
      R"({"status":"available","reply_within_h":168})",
      R"({"status":"available","hours":{"tz":"Europe/Berlin","days":[1,2,3,4,5],"from":"09:00","to":"17:30"}})",
      R"({"status":"available","hours":{"tz":"UTC","days":[7],"from":"22:00","to":"06:00"}})",
      R"({"status":"available","hours":{"tz":"America/Argentina/Buenos_Aires","days":[1],"from":"00:00","to":"23:59"}})",
      R"({"status":"available","hours":{"tz":"Etc/GMT+5","days":[6,7],"from":"10:00","to":"12:00"}})",
  };
  for (const char* text : accepted) {
    INFO(text);
    CHECK(parse_availability_request_text(with_now(text), now));
  }
}

TEST_CASE("availability requests that are bad_request", "[protocol][availability]") {
  const char* refused[] = {
      R"({})",
      R"([])",
      R"("away")",
      R"({"status":"gone"})",
      R"({"status":1})",
      R"({"status":"available","mood":"fine"})",
      R"({"status":"away","until":NOW+0})",
      R"({"status":"away","until":1})",
      R"({"status":"away","until":-5})",
      R"({"status":"away","until":1.5e12})",
      R"({"status":"away","until":"tomorrow"})",
      R"({"status":"away","until":NOW+40000000000})",
      R"({"status":"busy","note":5})",
      R"({"status":"available","reply_within_h":0})",
      R"({"status":"available","reply_within_h":169})",
      R"({"status":"available","reply_within_h":4.0})",
      R"({"status":"available","hours":"9-5"})",
      R"({"status":"available","hours":{"tz":"Europe/Berlin","days":[1],"from":"09:00"}})",
      R"({"status":"available","hours":{"tz":"Europe/Berlin","days":[],"from":"09:00","to":"17:00"}})",
      R"({"status":"available","hours":{"tz":"Europe/Berlin","days":[0],"from":"09:00","to":"17:00"}})",
      R"({"status":"available","hours":{"tz":"Europe/Berlin","days":[8],"from":"09:00","to":"17:00"}})",
      R"({"status":"available","hours":{"tz":"Europe/Berlin","days":[1,1],"from":"09:00","to":"17:00"}})",
      R"({"status":"available","hours":{"tz":"Europe/Berlin","days":["1"],"from":"09:00","to":"17:00"}})",
      R"({"status":"available","hours":{"tz":"Europe/Berlin","days":[1],"from":"9:00","to":"17:00"}})",
      R"({"status":"available","hours":{"tz":"Europe/Berlin","days":[1],"from":"24:00","to":"17:00"}})",
      R"({"status":"available","hours":{"tz":"Europe/Berlin","days":[1],"from":"09:60","to":"17:00"}})",
      R"({"status":"available","hours":{"tz":"Europe/Berlin","days":[1],"from":"09:00","to":"09:00"}})",
      R"({"status":"available","hours":{"tz":"Europe Berlin","days":[1],"from":"09:00","to":"17:00"}})",
      R"({"status":"available","hours":{"tz":"","days":[1],"from":"09:00","to":"17:00"}})",
      R"({"status":"available","hours":{"tz":"../etc/passwd","days":[1],"from":"09:00","to":"17:00"}})",
      R"({"status":"available","hours":{"tz":"Europe/Berlin","days":[1],"from":"09:00","to":"17:00","dst":true}})",
      R"({"status":"available","status":"busy"})",
      R"({"status":"available"} x)",
  };
  for (const char* text : refused) {
    INFO(text);
    auto a = parse_availability_request_text(with_now(text), now);
    REQUIRE_FALSE(a);
    CHECK(a.err().code == errc::bad_request);
  }
}

TEST_CASE("an availability note holds at most 200 characters", "[protocol][availability]") {
  std::string note(200, 'x');
  CHECK(parse_availability_text(R"({"status":"busy","note":")" + note + "\"}"));
  CHECK_FALSE(parse_availability_text(R"({"status":"busy","note":")" + note + "x\"}"));
  // Characters, not bytes: 200 two-byte characters fit.
  std::string umlauts;
  for (int i = 0; i < 200; ++i) umlauts += "\xc3\xa4";
  CHECK(parse_availability_text(R"({"status":"busy","note":")" + umlauts + "\"}"));
  std::string zone(65, 'A');
  CHECK_FALSE(parse_availability_text(R"({"status":"available","hours":{"tz":")" + zone +
                                      R"(","days":[1],"from":"09:00","to":"17:00"}})"));
}

TEST_CASE("a stored availability reads back whatever its until", "[protocol][availability]") {
  // Stored values and pushes from other instances are read without the clock.
  auto a = parse_availability_text(R"({"status":"away","until":5})");
  REQUIRE(a);
  CHECK(*a->until == 5);
}

TEST_CASE("availability JSON is canonical and reads back the same", "[protocol][availability]") {
  auto text = with_now(
      R"({"status":"away","until":NOW+3600000,"note":"holiday","hours":{"tz":"UTC","days":[1,2],"from":"08:00","to":"16:00"},"reply_within_h":4})");
  auto a = parse_availability_request_text(text, now);
  REQUIRE(a);
  auto json = boost::json::serialize(availability_json(*a));
  CHECK(json == text);
  CHECK(boost::json::serialize(availability_json(*parse_availability_text(json))) == json);
  CHECK(boost::json::serialize(availability_json(*parse_availability_text(R"({"status":"busy","note":null})"))) ==
        R"({"status":"busy"})");
}

TEST_CASE("a reply due inside an announced away period moves to its end", "[protocol][availability][sla]") {
  auto away_until = [](std::int64_t until) {
    availability a;
    a.status = availability_status::away;
    a.until = until;
    return std::optional<availability>(a);
  };
  const std::int64_t set_at = now;
  const std::int64_t due = now + 24 * hour;
  struct row {
    const char* what;
    std::optional<availability> owing;
    std::int64_t set_at;
    std::int64_t expected;
  };
  availability busy;
  busy.status = availability_status::busy;
  busy.until = due + 10 * hour;
  availability away_open;
  away_open.status = availability_status::away;
  const row rows[] = {
      {"never set", std::nullopt, set_at, due},
      {"away period covering the due", away_until(due + 10 * hour), set_at, due + 10 * hour},
      {"away period ending before the due", away_until(due - hour), set_at, due},
      {"away period ending exactly at the due", away_until(due), set_at, due},
      {"away without until", away_open, set_at, due},
      {"busy does not move", busy, set_at, due},
      {"away set after the due passed: a miss already due stays due", away_until(due + 10 * hour), due + hour, due},
      {"away set exactly at the due", away_until(due + 10 * hour), due, due},
  };
  for (const auto& r : rows) {
    INFO(r.what);
    CHECK(reply_due_for(due, r.owing, r.set_at) == r.expected);
  }
}
