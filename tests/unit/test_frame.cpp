#include "protocol/frame.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace parley;

namespace {

client_frame parse_ok(std::string_view text) {
  auto r = parse_client_frame(text);
  if (auto* e = std::get_if<frame_error>(&r)) {
    FAIL("expected a frame, got error: " << e->err.message << " for " << text);
  }
  return std::get<client_frame>(r);
}

frame_error parse_fail(std::string_view text) {
  auto r = parse_client_frame(text);
  if (std::holds_alternative<client_frame>(r)) FAIL("expected an error for " << text);
  return std::get<frame_error>(r);
}

std::string nested_arrays(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

}  // namespace

TEST_CASE("a hello frame yields its id and token", "[protocol]") {
  auto f = parse_ok(R"({"id":1,"op":"hello","token":"abc.def.ghi"})");
  CHECK(f.op == op::hello);
  CHECK(f.id == 1);
  CHECK(f.token == "abc.def.ghi");
}

TEST_CASE("a join frame reads since, epoch and limit", "[protocol]") {
  auto f = parse_ok(R"({"op":"join","id":2,"ch":"eng:42","since":0,"epoch":"e1","limit":500})");
  CHECK(f.op == op::join);
  CHECK(f.ch == "eng:42");
  CHECK(f.since == 0);
  CHECK(f.epoch == "e1");
  CHECK(f.limit == 500);

  auto plain = parse_ok(R"({"op":"join","id":2,"ch":"eng:42"})");
  CHECK_FALSE(plain.since.has_value());
  CHECK_FALSE(plain.limit.has_value());
}

TEST_CASE("a post frame converts its body to Boost.JSON preserving number types", "[protocol]") {
  auto f = parse_ok(
      R"({"id":3,"op":"post","ch":"eng:42","kind":"message","cid":"c-1",)"
      R"("body":{"text":"hi","n":-5,"big":9223372036854775807,"x":1.5,"e":2e3,"ok":true,"nil":null,"list":[1,"a"]}})");
  CHECK(f.op == op::post);
  CHECK(f.kind == "message");
  CHECK(f.cid == "c-1");
  REQUIRE(f.body.size() == 8);
  CHECK(f.body.at("text").as_string() == "hi");
  CHECK(f.body.at("n").is_int64());
  CHECK(f.body.at("n").as_int64() == -5);
  CHECK(f.body.at("big").as_int64() == INT64_MAX);
  CHECK(f.body.at("x").is_double());
  CHECK(f.body.at("x").as_double() == 1.5);
  CHECK(f.body.at("e").is_double());
  CHECK(f.body.at("ok").as_bool());
  CHECK(f.body.at("nil").is_null());
  CHECK(f.body.at("list").as_array().size() == 2);
}

TEST_CASE("typing needs no id but other ops do", "[protocol]") {
  auto f = parse_ok(R"({"op":"typing","ch":"eng:42"})");
  CHECK(f.op == op::typing);
  CHECK_FALSE(f.id.has_value());

  auto e = parse_fail(R"({"op":"leave","ch":"eng:42"})");
  CHECK(e.err.code == errc::bad_request);
  CHECK(e.err.message == "missing id");
  CHECK_FALSE(e.garbage);
}

TEST_CASE("history, read, leave and decisions frames parse", "[protocol]") {
  auto h = parse_ok(R"({"id":4,"op":"history","ch":"eng:42","before":10,"limit":20})");
  CHECK(h.before == 10);
  CHECK_FALSE(h.after.has_value());
  CHECK(h.limit == 20);

  auto a = parse_ok(R"({"id":4,"op":"history","ch":"eng:42","after":0})");
  CHECK(a.after == 0);

  auto r = parse_ok(R"({"id":5,"op":"read","ch":"eng:42","seq":17})");
  CHECK(r.seq == 17);

  auto l = parse_ok(R"({"id":6,"op":"leave","ch":"support"})");
  CHECK(l.op == op::leave);

  auto d = parse_ok(R"({"id":7,"op":"decisions","eng":"42"})");
  CHECK(d.op == op::decisions);
  CHECK(d.eng == "42");
}

TEST_CASE("decisions pages with after and a limit of up to 1000", "[protocol]") {
  auto d = parse_ok(R"({"id":7,"op":"decisions","eng":"42","after":20,"limit":1000})");
  CHECK(d.after == 20);
  CHECK(d.limit == 1000);
  CHECK(parse_fail(R"({"id":7,"op":"decisions","eng":"42","limit":1001})").err.code == errc::bad_request);
  CHECK(parse_fail(R"({"id":7,"op":"decisions","eng":"42","limit":0})").err.code == errc::bad_request);
  CHECK(parse_fail(R"({"id":7,"op":"decisions","eng":"42","after":-1})").err.code == errc::bad_request);
  CHECK(parse_fail(R"({"id":7,"op":"decisions","eng":"42","before":3})").err.message == "unknown field before");
  // history keeps its own cap.
  CHECK(parse_fail(R"({"id":7,"op":"history","ch":"eng:42","limit":1000})").err.code == errc::bad_request);
}

TEST_CASE("whitespace around the object is accepted", "[protocol]") {
  auto f = parse_ok(" \n\t{\"id\":1,\"op\":\"leave\",\"ch\":\"support\"}\r\n ");
  CHECK(f.op == op::leave);
}

TEST_CASE("an explicit null stands for an absent optional field", "[protocol]") {
  auto f = parse_ok(R"({"id":2,"op":"join","ch":"eng:42","since":null,"epoch":null})");
  CHECK_FALSE(f.since.has_value());
  CHECK(f.epoch.empty());

  auto e = parse_fail(R"({"id":2,"op":"join","ch":null})");
  CHECK(e.err.message == "missing field ch");
}

TEST_CASE("input that is not JSON is garbage", "[protocol]") {
  for (std::string_view text : {R"({"id":1,"op":"hello")", R"({"id":1,"op":"hel)", "", "   ", "{", "hello",
                                 R"({'id':1})", R"({"id":1,})", "{\"id\":1,\"op\":\"x\xff\"}"}) {
    INFO(text);
    auto e = parse_fail(text);
    CHECK(e.garbage);
    CHECK(e.err.code == errc::bad_request);
  }
}

TEST_CASE("trailing content after the object is refused", "[protocol]") {
  for (std::string_view text : {"{}{}", "{} x", R"({"id":1,"op":"leave","ch":"support"} {})",
                                R"({"id":1,"op":"leave","ch":"support"},)", "{}]"}) {
    INFO(text);
    auto e = parse_fail(text);
    CHECK(e.garbage);
  }
  auto with_nul = parse_fail(std::string_view("{}\0", 3));
  CHECK(with_nul.garbage);
}

TEST_CASE("a JSON value that is not an object is garbage", "[protocol]") {
  for (std::string_view text : {"[]", "[1,2]", "\"hello\"", "42", "null", "true"}) {
    INFO(text);
    auto e = parse_fail(text);
    CHECK(e.garbage);
    CHECK(e.err.code == errc::bad_request);
  }
}

TEST_CASE("nesting deeper than max_frame_depth is a bad request that keeps the id", "[protocol]") {
  // The frame object is level 1 and body level 2, so body may hold six more levels.
  std::string ok = R"({"id":9,"op":"post","ch":"eng:1","kind":"message","body":{"x":)" + nested_arrays(6) + "}}";
  CHECK(parse_ok(ok).body.at("x").is_array());

  std::string deep = R"({"id":9,"op":"post","ch":"eng:1","kind":"message","body":{"x":)" + nested_arrays(7) + "}}";
  auto e = parse_fail(deep);
  CHECK(e.err.code == errc::bad_request);
  CHECK_FALSE(e.garbage);
  CHECK(e.id == 9);
  CHECK_THAT(e.err.message, Catch::Contains("nesting"));

  // Far beyond any limit: still a clear bad request, never a crash.
  auto very_deep = parse_fail(R"({"id":9,"body":)" + nested_arrays(5000) + "}");
  CHECK(very_deep.err.code == errc::bad_request);
  CHECK_FALSE(very_deep.garbage);
}

TEST_CASE("duplicate keys are refused at any level", "[protocol]") {
  auto top = parse_fail(R"({"id":1,"op":"leave","ch":"a","ch":"b"})");
  CHECK(top.err.code == errc::bad_request);
  CHECK(top.err.message == "duplicate key ch");
  CHECK(top.id == 1);
  CHECK_FALSE(top.garbage);

  auto nested = parse_fail(R"({"id":2,"op":"post","ch":"eng:1","kind":"message","body":{"text":"a","text":"b"}})");
  CHECK(nested.err.message == "duplicate key text");
  CHECK(nested.id == 2);

  auto in_array = parse_fail(R"({"id":3,"op":"post","ch":"eng:1","kind":"m","body":{"l":[{"a":1,"a":1}]}})");
  CHECK(in_array.err.message == "duplicate key a");

  auto two_ids = parse_fail(R"({"id":1,"id":2,"op":"leave","ch":"a"})");
  CHECK_FALSE(two_ids.id.has_value());
}

TEST_CASE("unknown fields are refused by name", "[protocol]") {
  auto e = parse_fail(R"({"id":1,"op":"leave","ch":"support","since":3})");
  CHECK(e.err.code == errc::bad_request);
  CHECK(e.err.message == "unknown field since");
  CHECK(e.id == 1);

  auto other = parse_fail(R"({"id":1,"op":"hello","token":"t","x":1})");
  CHECK(other.err.message == "unknown field x");
}

TEST_CASE("an unknown or missing op is a bad request", "[protocol]") {
  auto unknown = parse_fail(R"({"id":1,"op":"subscribe","ch":"eng:1"})");
  CHECK(unknown.err.code == errc::bad_request);
  CHECK_THAT(unknown.err.message, Catch::StartsWith("unknown op"));
  CHECK(unknown.id == 1);
  CHECK_FALSE(unknown.garbage);

  CHECK(parse_fail(R"({"id":1})").err.message == "missing op");
  CHECK(parse_fail(R"({"id":1,"op":3})").err.message == "op must be a string");
}

TEST_CASE("id must be a 64-bit integer", "[protocol]") {
  for (std::string_view text : {R"({"id":"7","op":"leave","ch":"a"})", R"({"id":7.0,"op":"leave","ch":"a"})",
                                R"({"id":true,"op":"leave","ch":"a"})",
                                R"({"id":18446744073709551615,"op":"leave","ch":"a"})"}) {
    INFO(text);
    auto e = parse_fail(text);
    CHECK(e.err.code == errc::bad_request);
    CHECK_FALSE(e.id.has_value());
    CHECK_THAT(e.err.message, Catch::Contains("id"));
  }
  CHECK(parse_ok(R"({"id":-3,"op":"leave","ch":"a"})").id == -3);
}

TEST_CASE("an error after the id still carries the id", "[protocol]") {
  auto e = parse_fail(R"({"op":"join","ch":"eng:1","since":"x","id":77})");
  CHECK(e.id == 77);
  CHECK(e.err.message == "since must be a non-negative integer");
}

TEST_CASE("numeric fields are range-checked", "[protocol]") {
  struct bad_case {
    std::string_view text;
    std::string_view message;
  };
  for (auto c : {
           bad_case{R"({"id":1,"op":"join","ch":"a","since":-1})", "since must be a non-negative integer"},
           bad_case{R"({"id":1,"op":"join","ch":"a","since":1.5})", "since must be a non-negative integer"},
           bad_case{R"({"id":1,"op":"join","ch":"a","limit":0})", "limit must be an integer from 1 to 500"},
           bad_case{R"({"id":1,"op":"join","ch":"a","limit":501})", "limit must be an integer from 1 to 500"},
           bad_case{R"({"id":1,"op":"history","ch":"a","limit":"5"})", "limit must be an integer from 1 to 500"},
           bad_case{R"({"id":1,"op":"history","ch":"a","before":0})", "before must be a positive integer"},
           bad_case{R"({"id":1,"op":"history","ch":"a","after":-2})", "after must be a non-negative integer"},
           bad_case{R"({"id":1,"op":"read","ch":"a","seq":"3"})", "seq must be a non-negative integer"},
       }) {
    INFO(c.text);
    auto e = parse_fail(c.text);
    CHECK(e.err.code == errc::bad_request);
    CHECK(e.err.message == c.message);
    CHECK(e.id == 1);
  }
}

TEST_CASE("required fields are checked per op", "[protocol]") {
  CHECK(parse_fail(R"({"id":1,"op":"read","ch":"a"})").err.message == "missing field seq");
  CHECK(parse_fail(R"({"id":1,"op":"hello"})").err.message == "missing field token");
  CHECK(parse_fail(R"({"id":1,"op":"post","ch":"a","body":{}})").err.message == "missing field kind");
  CHECK(parse_fail(R"({"id":1,"op":"post","ch":"a","kind":"message"})").err.message == "missing field body");
  CHECK(parse_fail(R"({"id":1,"op":"decisions"})").err.message == "missing field eng");
  CHECK(parse_fail(R"({"op":"typing"})").err.message == "missing field ch");
}

TEST_CASE("string fields refuse other types", "[protocol]") {
  CHECK(parse_fail(R"({"id":1,"op":"hello","token":5})").err.message == "token must be a string");
  CHECK(parse_fail(R"({"id":1,"op":"leave","ch":["a"]})").err.message == "ch must be a string");
  CHECK(parse_fail(R"({"id":1,"op":"post","ch":"a","kind":1,"body":{}})").err.message == "kind must be a string");
  CHECK(parse_fail(R"({"id":1,"op":"post","ch":"a","kind":"","body":{}})").err.message == "kind must not be empty");
}

TEST_CASE("history refuses before and after together", "[protocol]") {
  auto e = parse_fail(R"({"id":1,"op":"history","ch":"a","before":5,"after":1})");
  CHECK(e.err.code == errc::bad_request);
  CHECK_THAT(e.err.message, Catch::Contains("not both"));
}

TEST_CASE("a post body must be an object", "[protocol]") {
  for (std::string_view body : {R"("text")", "[]", "1", "true"}) {
    auto e = parse_fail(std::string(R"({"id":1,"op":"post","ch":"a","kind":"message","body":)") + std::string(body) + "}");
    CHECK(e.err.message == "body must be an object");
  }
}

TEST_CASE("cid holds 1 to 128 characters", "[protocol]") {
  const std::string head = R"({"id":1,"op":"post","ch":"a","kind":"message","body":{},"cid":)";
  CHECK(parse_ok(head + "\"" + std::string(128, 'c') + "\"}").cid.size() == 128);

  // Counted in characters: 128 two-byte characters fit.
  std::string accented;
  for (int i = 0; i < 128; ++i) accented += "\xC3\xA9";
  CHECK(parse_ok(head + "\"" + accented + "\"}").cid == accented);

  auto empty = parse_fail(head + "\"\"}");
  CHECK(empty.err.code == errc::bad_request);

  auto long_cid = parse_fail(head + "\"" + std::string(129, 'c') + "\"}");
  CHECK(long_cid.err.code == errc::too_large);

  CHECK(parse_fail(head + "12}").err.message == "cid must be a string");
}

TEST_CASE("strings in a frame are unescaped", "[protocol]") {
  auto f = parse_ok(R"({"id":1,"op":"post","ch":"eng:1","kind":"message","body":{"text":"a\"b\\c\nd\u00e9\u0000"}})");
  constexpr char expected[] = "a\"b\\c\nd\xC3\xA9\0";
  CHECK(f.body.at("text").as_string() == std::string(expected, sizeof expected - 1));
}

TEST_CASE("op names round-trip", "[protocol]") {
  CHECK(op_name(op::hello) == "hello");
  CHECK(op_name(op::decisions) == "decisions");
  CHECK(op_name(op::typing) == "typing");
}

TEST_CASE("an HTTP post body parses with the same strictness", "[protocol]") {
  auto ok = parse_http_post(R"({"kind":"message","body":{"text":"hi"},"cid":"c1"})");
  REQUIRE(ok);
  CHECK(ok->kind == "message");
  CHECK(ok->body.at("text").as_string() == "hi");
  CHECK(ok->cid == "c1");

  auto no_cid = parse_http_post(R"({"kind":"message","body":{}})");
  REQUIRE(no_cid);
  CHECK(no_cid->cid.empty());

  struct bad_case {
    std::string_view text;
    std::string_view message;
  };
  for (auto c : {
           bad_case{R"({"kind":"message","body":{},"op":"post"})", "unknown field op"},
           bad_case{R"({"kind":"message"})", "missing field body"},
           bad_case{R"({"body":{}})", "missing field kind"},
           bad_case{R"({"kind":"message","body":"x"})", "body must be an object"},
           bad_case{R"({"kind":"message","body":{},"kind":"status"})", "duplicate key kind"},
           bad_case{R"({"kind":"message","body":{}} {})", "invalid JSON"},
           bad_case{R"([1])", "the request body must be a JSON object"},
       }) {
    INFO(c.text);
    auto r = parse_http_post(c.text);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::bad_request);
    CHECK(r.err().message == c.message);
  }
  auto long_cid = parse_http_post(R"({"kind":"message","body":{},"cid":")" + std::string(200, 'x') + "\"}");
  REQUIRE_FALSE(long_cid);
  CHECK(long_cid.err().code == errc::too_large);
}

TEST_CASE("a number beyond a double or beyond 64 bits is a bad request that keeps the id", "[protocol]") {
  for (std::string_view text : {
           R"({"id":9,"op":"post","ch":"eng:1","kind":"proposal","body":{"terms":{"x":1e400}}})",
           R"({"op":"post","id":9,"ch":"eng:1","kind":"proposal","body":{"terms":{"x":-1e999}}})",
           R"({"id":9,"op":"post","ch":"eng:1","kind":"proposal","body":{"terms":{"x":99999999999999999999999}}})",
           R"({"op":"post","ch":"eng:1","kind":"proposal","body":{"terms":{"x":[1e400,{"id":3}]}},"id":9})",
       }) {
    INFO(text);
    auto e = parse_fail(text);
    CHECK(e.err.code == errc::bad_request);
    CHECK(e.err.message == "a number is malformed or out of range");
    CHECK(e.id == 9);
    CHECK_FALSE(e.garbage);
  }
  auto http = parse_http_post(R"({"kind":"proposal","body":{"terms":{"x":1e400}}})");
  REQUIRE_FALSE(http);
  CHECK(http.err().code == errc::bad_request);
}
