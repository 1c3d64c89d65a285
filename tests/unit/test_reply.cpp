#include "protocol/reply.hpp"

#include <catch2/catch.hpp>

#include <boost/json.hpp>

using namespace parley;
namespace json = boost::json;

namespace {

std::vector<std::shared_ptr<const std::string>> events(std::initializer_list<std::string_view> items) {
  std::vector<std::shared_ptr<const std::string>> out;
  for (auto i : items) out.push_back(std::make_shared<const std::string>(i));
  return out;
}

}  // namespace

TEST_CASE("an ok reply leads with id and ok, then the fields", "[protocol]") {
  CHECK(reply_ok(7) == R"({"id":7,"ok":true})");
  CHECK(reply_ok(7, json::object{{"seq", 26}, {"ts", 1764122400123}}) == R"({"id":7,"ok":true,"seq":26,"ts":1764122400123})");
  CHECK(reply_ok(std::nullopt) == R"({"id":null,"ok":true})");
}

TEST_CASE("an error reply carries code and message", "[protocol]") {
  CHECK(reply_error(7, make_error(errc::forbidden, "not a member of eng:42")) ==
        R"({"id":7,"ok":false,"error":{"code":"forbidden","message":"not a member of eng:42"}})");
  CHECK(reply_error(std::nullopt, make_error(errc::bad_request, "say \"what\"\n")) ==
        R"({"id":null,"ok":false,"error":{"code":"bad_request","message":"say \"what\"\n"}})");
}

TEST_CASE("events are spliced into a reply without reparsing", "[protocol]") {
  auto evs = events({R"({"ev":"event","seq":1})", R"({"ev":"event","seq":2})"});
  CHECK(reply_with_events(3, json::object{{"ch", "eng:42"}, {"head", 2}}, evs) ==
        R"({"id":3,"ok":true,"ch":"eng:42","head":2,"events":[{"ev":"event","seq":1},{"ev":"event","seq":2}]})");
  CHECK(reply_with_events(3, {}, {}) == R"({"id":3,"ok":true,"events":[]})");
  // The result is valid JSON.
  CHECK(json::parse(reply_with_events(3, {}, evs)).at("events").as_array().size() == 2);
}

TEST_CASE("events are spliced into an HTTP body", "[protocol]") {
  auto evs = events({R"({"seq":1})"});
  CHECK(object_with_events({}, evs) == R"({"events":[{"seq":1}]})");
  CHECK(object_with_events({}, {}) == R"({"events":[]})");
  CHECK(object_with_events(json::object{{"head", 1}}, evs) == R"({"head":1,"events":[{"seq":1}]})");
}

TEST_CASE("an HTTP error body names code and message", "[protocol]") {
  CHECK(http_error_body(make_error(errc::not_found, "no such channel")) ==
        R"({"error":{"code":"not_found","message":"no such channel"}})");
}

TEST_CASE("every error code has its wire name and HTTP status", "[protocol]") {
  struct row {
    errc code;
    std::string_view name;
    int status;
  };
  for (auto r : {row{errc::bad_request, "bad_request", 400}, row{errc::unauthorized, "unauthorized", 401},
                 row{errc::forbidden, "forbidden", 403}, row{errc::not_found, "not_found", 404},
                 row{errc::conflict, "conflict", 409}, row{errc::too_large, "too_large", 413},
                 row{errc::rate_limited, "rate_limited", 429}, row{errc::unavailable, "unavailable", 503},
                 row{errc::internal, "internal", 500}}) {
    CHECK(code_name(r.code) == r.name);
    CHECK(http_status(r.code) == r.status);
  }
}

TEST_CASE("the trimming rule counts whole items after the head", "[protocol]") {
  CHECK(items_that_fit(100, 10, {10, 10, 10}) == 3);
  CHECK(items_that_fit(32, 10, {10, 10, 10}) == 2);  // 10 + 11 + 11 = 32
  CHECK(items_that_fit(31, 10, {10, 10, 10}) == 1);
  CHECK(items_that_fit(10, 10, {1}) == 0);
  CHECK(items_that_fit(5, 10, {1}) == 0);
  CHECK(items_that_fit(100, 0, {}) == 0);
  // Order is kept: a large item stops the count, later small ones do not jump it.
  CHECK(items_that_fit(50, 0, {5, 60, 5}) == 1);
}

TEST_CASE("a reply over its byte bound holds the oldest events that fit and more: true", "[protocol]") {
  std::vector<std::shared_ptr<const std::string>> evs;
  for (int i = 1; i <= 10; ++i) {
    evs.push_back(std::make_shared<const std::string>(R"({"seq":)" + std::to_string(i) + R"(,"pad":")" +
                                                      std::string(90, 'x') + R"("})"));
  }
  json::object fields{{"ch", "eng:42"}, {"head", 10}, {"recovered", true}};
  auto whole = reply_with_events_within(3, fields, evs, 1 << 20);
  CHECK(whole.carried == 10);
  CHECK(whole.frame == reply_with_events(3, fields, evs));
  CHECK_FALSE(json::parse(whole.frame).as_object().contains("more"));

  auto part = reply_with_events_within(3, fields, evs, 500);
  CHECK(part.frame.size() <= 500);
  CHECK(part.carried > 0);
  CHECK(part.carried < 10);
  auto o = json::parse(part.frame).as_object();
  CHECK(o.at("more") == true);
  CHECK(o.at("recovered") == false);
  const auto& carried = o.at("events").as_array();
  REQUIRE(carried.size() == part.carried);
  for (std::size_t i = 0; i < carried.size(); ++i) CHECK(carried[i].at("seq") == static_cast<std::int64_t>(i + 1));

  auto none = reply_with_events_within(3, fields, evs, 10);
  CHECK(none.carried == 0);
  CHECK(json::parse(none.frame).at("events").as_array().empty());
}

TEST_CASE("a decisions page holds the records that fit, at least one, and the n to page on from", "[protocol]") {
  auto records = [](int from, int count) {
    std::vector<json::object> out;
    for (int n = from; n < from + count; ++n) out.push_back({{"n", n}, {"text", std::string(100, 'r')}});
    return out;
  };
  auto all = decisions_page(records(1, 5), 0, std::nullopt, 1 << 20);
  CHECK(all.at("records").as_array().size() == 5);
  CHECK(all.at("next").is_null());
  auto more = decisions_page(records(11, 5), 10, 15, 1 << 20);
  CHECK(more.at("next") == 15);
  auto trimmed = decisions_page(records(11, 5), 10, std::nullopt, 400);
  auto kept = trimmed.at("records").as_array().size();
  CHECK(kept >= 1);
  CHECK(kept < 5);
  CHECK(trimmed.at("next") == static_cast<std::int64_t>(10 + kept));
  CHECK(decisions_page(records(11, 5), 10, std::nullopt, 1).at("records").as_array().size() == 1);
}
