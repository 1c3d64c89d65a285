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
