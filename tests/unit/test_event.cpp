#include "protocol/event.hpp"

#include <catch2/catch.hpp>

#include <boost/json.hpp>

using namespace parley;
namespace json = boost::json;

namespace {

event sample() {
  event ev;
  ev.ch = "eng:42";
  ev.seq = 26;
  ev.kind = "message";
  ev.from = user{"u1", "Alice", user_role::client};
  ev.ts = 1764122400123;
  ev.cid = "c-9f2";
  ev.body = json::object{{"text", "Draft attached."}};
  return ev;
}

}  // namespace

TEST_CASE("an event serialises exactly as the protocol's example", "[protocol]") {
  CHECK(serialize_event(sample()) ==
        R"({"ev":"event","ch":"eng:42","seq":26,"kind":"message",)"
        R"("from":{"id":"u1","name":"Alice","role":"client"},"ts":1764122400123,"cid":"c-9f2",)"
        R"("body":{"text":"Draft attached."}})");
}

TEST_CASE("an event without cid omits it", "[protocol]") {
  auto ev = sample();
  ev.cid.clear();
  ev.from = system_user();
  ev.kind = "phase";
  ev.body = json::object{{"from", "discovery"}, {"to", "agreement"}};
  CHECK(serialize_event(ev) ==
        R"({"ev":"event","ch":"eng:42","seq":26,"kind":"phase",)"
        R"("from":{"id":"system","name":"Parley","role":"system"},"ts":1764122400123,)"
        R"("body":{"from":"discovery","to":"agreement"}})");
}

TEST_CASE("serialised events escape quotes, backslashes and control characters", "[protocol]") {
  auto ev = sample();
  constexpr char raw[] = "say \"hi\"\\ \n line\r\t\x01 end\0!";
  ev.body = json::object{{"text", std::string(raw, sizeof raw - 1)}};
  ev.from.name = "A\"l\ni";
  const std::string out = serialize_event(ev);
  CHECK(out.find('\n') == std::string::npos);
  CHECK(out.find('\r') == std::string::npos);
  CHECK(out.find('\x01') == std::string::npos);
  CHECK(out.find('\0') == std::string::npos);
  CHECK_THAT(out, Catch::Contains(R"("text":"say \"hi\"\\ \n line\r\t\u0001 end\u0000!")"));
  CHECK_THAT(out, Catch::Contains(R"("name":"A\"l\ni")"));
  // And it is still valid JSON that reads back the same text.
  CHECK(json::parse(out).at("body").at("text").as_string() == ev.body.at("text").as_string());
}

TEST_CASE("non-ASCII text is kept as UTF-8, not escaped", "[protocol]") {
  auto ev = sample();
  ev.body = json::object{{"text", "Grüße, 東京 🎉"}};
  CHECK_THAT(serialize_event(ev), Catch::Contains(R"("text":"Grüße, 東京 🎉")"));
}

TEST_CASE("a user without a name is shown by id", "[protocol]") {
  CHECK(json::serialize(user_json(user{"u9", "", user_role::expert})) == R"({"id":"u9","name":"u9","role":"expert"})");
  CHECK(json::serialize(user_json(user{"u9", "Bo", user_role::bot})) == R"({"id":"u9","name":"Bo","role":"bot"})");
}

TEST_CASE("role names parse for token roles only", "[protocol]") {
  for (auto role : {user_role::client, user_role::expert, user_role::support, user_role::bot, user_role::service}) {
    CHECK(parse_role(role_name(role)) == role);
  }
  CHECK(role_name(user_role::system) == "system");
  CHECK_FALSE(parse_role("system"));
  CHECK_FALSE(parse_role("Client"));
  CHECK(is_party(user_role::client));
  CHECK(is_party(user_role::expert));
  CHECK_FALSE(is_party(user_role::support));
}

TEST_CASE("parse_event reads back what serialize_event wrote", "[protocol]") {
  auto ev = sample();
  ev.body = json::object{{"text", "a\nb"}, {"n", 3}, {"x", 2.5}, {"nested", json::object{{"k", json::array{1, 2}}}}};
  auto r = parse_event(serialize_event(ev));
  REQUIRE(r);
  CHECK(r->ch == ev.ch);
  CHECK(r->seq == ev.seq);
  CHECK(r->kind == ev.kind);
  CHECK(r->from.id == "u1");
  CHECK(r->from.name == "Alice");
  CHECK(r->from.role == user_role::client);
  CHECK(r->ts == ev.ts);
  CHECK(r->cid == ev.cid);
  CHECK(r->body == ev.body);
  CHECK(serialize_event(*r) == serialize_event(ev));

  auto sys = sample();
  sys.from = system_user();
  sys.cid.clear();
  auto s = parse_event(serialize_event(sys));
  REQUIRE(s);
  CHECK(s->from.role == user_role::system);
  CHECK(s->cid.empty());
}

TEST_CASE("parse_event refuses anything that is not a stored event", "[protocol]") {
  for (std::string_view bad : {
           "", "[]", "{", R"({"ev":"typing","ch":"eng:1"})",
           R"({"ev":"event","ch":"eng:1","seq":"1","kind":"m","from":{"id":"a","name":"a","role":"client"},"ts":1,"body":{}})",
           R"({"ev":"event","ch":"eng:1","seq":1,"kind":"m","from":{"id":"a","name":"a","role":"root"},"ts":1,"body":{}})",
           R"({"ev":"event","ch":"eng:1","seq":1,"kind":"m","from":{"id":"a","name":"a","role":"client"},"ts":1})",
           R"({"ev":"event","ch":"eng:1","seq":1,"kind":"m","from":{"id":"a","role":"client"},"ts":1,"body":{}})",
       }) {
    INFO(bad);
    auto r = parse_event(bad);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::internal);
  }
}

TEST_CASE("ephemeral pushes have the protocol's shapes", "[protocol]") {
  user alice{"u1", "Alice", user_role::client};
  user bob{"u2", "", user_role::expert};
  CHECK(presence_frame("eng:42", {alice}, {bob}) ==
        R"({"ev":"presence","ch":"eng:42","joined":[{"id":"u1","name":"Alice","role":"client"}],)"
        R"("left":[{"id":"u2","name":"u2","role":"expert"}]})");
  CHECK(presence_frame("eng:42", {}, {}) == R"({"ev":"presence","ch":"eng:42","joined":[],"left":[]})");
  CHECK(typing_frame("eng:42", alice) ==
        R"({"ev":"typing","ch":"eng:42","user":{"id":"u1","name":"Alice","role":"client"}})");
  CHECK(read_frame("eng:42", alice, 17) ==
        R"({"ev":"read","ch":"eng:42","user":{"id":"u1","name":"Alice","role":"client"},"seq":17})");
}
