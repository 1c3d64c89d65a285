#include "protocol/frame.hpp"

#include <catch2/catch.hpp>

#include <boost/json.hpp>
#include <limits>

using namespace parley;
namespace json = boost::json;

namespace {

json::object obj(std::string_view text) { return json::parse(text).as_object(); }

json::object valid(std::string_view kind, std::string_view body) {
  auto r = validate_body(kind, obj(body));
  if (!r) FAIL("expected a valid " << kind << " body, got: " << r.err().message);
  return *r;
}

error invalid(std::string_view kind, const json::object& body) {
  auto r = validate_body(kind, body);
  if (r) FAIL("expected " << json::serialize(body) << " to be refused for " << kind);
  return r.err();
}

error invalid(std::string_view kind, std::string_view body) { return invalid(kind, obj(body)); }

std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace

TEST_CASE("a message body keeps text and reply_to", "[protocol]") {
  auto b = valid("message", R"({"text":"hello","reply_to":3})");
  CHECK(json::serialize(b) == R"({"text":"hello","reply_to":3})");
  CHECK(json::serialize(valid("message", R"({"text":"x"})")) == R"({"text":"x"})");
}

TEST_CASE("a normalised body puts fields in a fixed order", "[protocol]") {
  auto b = valid("message", R"({"reply_to":3,"text":"hello"})");
  CHECK(json::serialize(b) == R"({"text":"hello","reply_to":3})");
}

TEST_CASE("message text must be 1 to 16384 characters", "[protocol]") {
  CHECK(invalid("message", R"({"text":""})").code == errc::bad_request);
  CHECK(invalid("message", R"({})").message == "missing field text");
  CHECK(invalid("message", R"({"text":5})").message == "text must be a string");

  // Characters, not bytes: 16384 two-byte characters are accepted.
  json::object max_body;
  max_body["text"] = repeat("\xC3\xA9", 16384);
  CHECK(validate_body("message", max_body));

  json::object over;
  over["text"] = std::string(16385, 'a');
  auto e = invalid("message", over);
  CHECK(e.code == errc::too_large);
  CHECK_THAT(e.message, Catch::Contains("16384"));
}

TEST_CASE("reply_to must be a positive integer", "[protocol]") {
  CHECK(invalid("message", R"({"text":"a","reply_to":0})").message == "reply_to must be a positive integer (a seq)");
  CHECK(invalid("message", R"({"text":"a","reply_to":"3"})").code == errc::bad_request);
  CHECK(invalid("message", R"({"text":"a","reply_to":2.5})").code == errc::bad_request);
}

TEST_CASE("unknown fields in a body are refused by name", "[protocol]") {
  auto e = invalid("message", R"({"text":"a","color":"red"})");
  CHECK(e.code == errc::bad_request);
  CHECK(e.message == "unknown field color in body");
}

TEST_CASE("a status body accepts progress from 0 to 100", "[protocol]") {
  CHECK(json::serialize(valid("status", R"({"text":"half way","progress":50})")) ==
        R"({"text":"half way","progress":50})");
  CHECK(validate_body("status", obj(R"({"text":"s","progress":0})")));
  CHECK(validate_body("status", obj(R"({"text":"s","progress":100})")));
  CHECK(invalid("status", R"({"text":"s","progress":101})").message == "progress must be an integer from 0 to 100");
  CHECK(invalid("status", R"({"text":"s","progress":-1})").code == errc::bad_request);
  CHECK(invalid("status", R"({"text":"s","progress":50.5})").code == errc::bad_request);
}

TEST_CASE("a flag names one of the five flag types", "[protocol]") {
  for (auto type : {"delay", "scope_change", "dispute", "risk", "blocker"}) {
    json::object b{{"type", type}, {"text", "why"}};
    CHECK(validate_body("flag", b));
  }
  auto e = invalid("flag", R"({"type":"panic","text":"why"})");
  CHECK(e.message == "type must be one of delay, scope_change, dispute, risk, blocker");
  CHECK(invalid("flag", R"({"text":"why"})").message == "missing field type");
  CHECK(invalid("flag", R"({"type":"risk"})").message == "missing field text");
}

TEST_CASE("a flag_update names a flag and a state, text optional", "[protocol]") {
  CHECK(json::serialize(valid("flag_update", R"({"flag":4,"state":"resolved","text":"done"})")) ==
        R"({"flag":4,"state":"resolved","text":"done"})");
  CHECK(json::serialize(valid("flag_update", R"({"flag":4,"state":"acknowledged"})")) ==
        R"({"flag":4,"state":"acknowledged"})");
  CHECK(validate_body("flag_update", obj(R"({"flag":4,"state":"acknowledged","text":""})")));
  CHECK(invalid("flag_update", R"({"flag":0,"state":"resolved"})").code == errc::bad_request);
  CHECK(invalid("flag_update", R"({"flag":4,"state":"closed"})").message ==
        "state must be one of acknowledged, resolved");
}

TEST_CASE("a proposal carries topic, text and an object of terms", "[protocol]") {
  auto b = valid("proposal", R"({"topic":"agreement","text":"deal","terms":{"price":100,"scope":["a"]}})");
  CHECK(json::serialize(b) == R"({"topic":"agreement","text":"deal","terms":{"price":100,"scope":["a"]}})");
  CHECK(validate_body("proposal", obj(R"({"topic":"timeline","text":"t","terms":{}})")));
  CHECK(invalid("proposal", R"({"topic":"agreement","text":"deal"})").message == "missing field terms");
  CHECK(invalid("proposal", R"({"topic":"agreement","text":"deal","terms":[1]})").message ==
        "terms must be an object");
  CHECK(invalid("proposal", R"({"topic":"bribe","text":"deal","terms":{}})").code == errc::bad_request);
}

TEST_CASE("a phase proposal's terms are exactly a target phase", "[protocol]") {
  CHECK(json::serialize(valid("proposal", R"({"topic":"phase","text":"go","terms":{"to":"active"}})")) ==
        R"({"topic":"phase","text":"go","terms":{"to":"active"}})");
  CHECK(invalid("proposal", R"({"topic":"phase","text":"go","terms":{"to":"party"}})").message ==
        "terms.to must be one of discovery, agreement, active, completion, closed");
  CHECK(invalid("proposal", R"({"topic":"phase","text":"go","terms":{}})").message == "missing field terms.to");
  CHECK(invalid("proposal", R"({"topic":"phase","text":"go","terms":{"to":"active","when":1}})").message ==
        "unknown field when in terms");
}

TEST_CASE("a resolution proposal names its dispute flag", "[protocol]") {
  auto b = valid("proposal", R"({"topic":"resolution","text":"split","terms":{"flag":7,"refund":50}})");
  CHECK(b.at("terms").at("flag").as_int64() == 7);
  CHECK(b.at("terms").at("refund").as_int64() == 50);
  CHECK(invalid("proposal", R"({"topic":"resolution","text":"split","terms":{"refund":50}})").message ==
        "missing field terms.flag");
  CHECK(invalid("proposal", R"({"topic":"resolution","text":"split","terms":{"flag":"7"}})").code ==
        errc::bad_request);
}

TEST_CASE("terms larger than 16384 bytes are too large", "[protocol]") {
  json::object b{{"topic", "agreement"}, {"text", "big"}, {"terms", json::object{{"blob", std::string(16400, 'x')}}}};
  CHECK(invalid("proposal", b).code == errc::too_large);

  json::object fits{{"topic", "agreement"}, {"text", "ok"}, {"terms", json::object{{"blob", std::string(16000, 'x')}}}};
  CHECK(validate_body("proposal", fits));
}

TEST_CASE("a decision names a proposal and a verdict", "[protocol]") {
  CHECK(json::serialize(valid("decision", R"({"proposal":9,"verdict":"accepted"})")) ==
        R"({"proposal":9,"verdict":"accepted"})");
  CHECK(json::serialize(valid("decision", R"({"text":"no","verdict":"rejected","proposal":9})")) ==
        R"({"proposal":9,"verdict":"rejected","text":"no"})");
  CHECK(invalid("decision", R"({"proposal":9,"verdict":"maybe"})").message ==
        "verdict must be one of accepted, rejected");
  CHECK(invalid("decision", R"({"verdict":"accepted"})").message == "missing field proposal");
  CHECK(invalid("decision", R"({"proposal":-1,"verdict":"accepted"})").code == errc::bad_request);
}

TEST_CASE("unknown kinds and server-made kinds are refused", "[protocol]") {
  auto unknown = invalid("poll", R"({"text":"a"})");
  CHECK(unknown.code == errc::bad_request);
  CHECK(unknown.message == "unknown kind poll");

  for (auto kind : {"phase", "mediation", "sla", "notice"}) {
    auto e = invalid(kind, R"({})");
    CHECK(e.code == errc::bad_request);
    CHECK_THAT(e.message, Catch::Contains("made by the server"));
  }
}

TEST_CASE("a body holding an integer beyond ±(2^53 - 1) is a bad request (I-JSON)", "[protocol]") {
  const std::string message = "integers must lie within ±9007199254740991 (I-JSON, RFC 7493)";
  for (std::string_view body : {
           R"({"topic":"compensation","text":"Pay","terms":{"amount":9007199254740993}})",
           R"({"topic":"compensation","text":"Pay","terms":{"amount":-9007199254740992}})",
           R"({"topic":"compensation","text":"Pay","terms":{"list":[1,{"deep":18446744073709551615}]}})",
       }) {
    INFO(body);
    auto err = invalid("proposal", body);
    CHECK(err.code == errc::bad_request);
    CHECK(err.message == message);
  }
  CHECK(invalid("message", R"({"text":"hi","reply_to":9007199254740992})").message == message);
  auto edge = valid("proposal", R"({"topic":"compensation","text":"Pay","terms":{"max":9007199254740991,"min":-9007199254740991,"f":1e300}})");
  CHECK(edge.at("terms").at("max").as_int64() == 9007199254740991);
}

TEST_CASE("a body holding a non-finite number is a bad request", "[protocol]") {
  json::object body = obj(R"({"topic":"compensation","text":"Pay","terms":{}})");
  body["terms"].as_object()["amount"] = std::numeric_limits<double>::infinity();
  CHECK(invalid("proposal", body).message == "numbers must be finite");
  body["terms"].as_object()["amount"] = std::numeric_limits<double>::quiet_NaN();
  CHECK(invalid("proposal", body).message == "numbers must be finite");
}
