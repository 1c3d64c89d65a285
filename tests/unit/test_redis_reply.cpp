// Decoding what Redis answers, without Redis: hostile or malformed replies
// give an error, never a crash or a wrong event.
#include "storage/redis_reply.hpp"
#include "redis_resp.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace parley;
using parley::test::resp;
using namespace std::literals;

namespace {

redis_value str(std::string s) {
  redis_value v;
  v.type = redis_value::kind::string;
  v.str = std::move(s);
  return v;
}

redis_value integer(long long i) {
  redis_value v;
  v.type = redis_value::kind::integer;
  v.integer = i;
  return v;
}

redis_value array(std::vector<redis_value> items) {
  redis_value v;
  v.type = redis_value::kind::array;
  v.elements = std::move(items);
  return v;
}

}  // namespace

TEST_CASE("a hiredis reply tree is copied with its types and binary-safe strings", "[redis]") {
  auto v = resp("*4\r\n$3\r\na\0b\r\n:42\r\n+OK\r\n*1\r\n-ERR no\r\n"sv);
  REQUIRE(v);
  REQUIRE(v->is_array());
  REQUIRE(v->elements.size() == 4);
  CHECK(v->elements[0].str == std::string("a\0b", 3));
  CHECK(v->elements[1].integer == 42);
  CHECK(v->elements[2].type == redis_value::kind::status);
  CHECK(v->elements[3].elements.at(0).is_error());
  auto nil = resp("$-1\r\n");
  REQUIRE(nil);
  CHECK(nil->type == redis_value::kind::nil);
  CHECK_FALSE(resp("*2\r\n:1\r\n"));  // incomplete: no reply yet
}

TEST_CASE("a published event payload splits into seq, ts, epoch and JSON", "[redis]") {
  auto p = parse_published("7 1700000000000 ep-1 {\"a\": \"b c\"}");
  REQUIRE(p);
  CHECK(p->seq == 7);
  CHECK(p->ts == 1700000000000);
  CHECK(p->epoch == "ep-1");
  CHECK(*p->json == "{\"a\": \"b c\"}");
  CHECK_FALSE(parse_published(""));
  CHECK_FALSE(parse_published("7 8 epoch"));
  CHECK_FALSE(parse_published("x 8 e {}"));
  CHECK_FALSE(parse_published("7 99999999999999999999 e {}"));
  CHECK_FALSE(parse_published("7  e {}"));
}

TEST_CASE("the read script's reply gives ascending events or an error for a malformed one", "[redis]") {
  auto ok = decode_read_reply(array({str("ep"), integer(3), integer(0), str("3-0"), str("{3}"), str("2-0"), str("{2}")}), true);
  REQUIRE(ok);
  CHECK(ok->epoch == "ep");
  CHECK(ok->head == 3);
  REQUIRE(ok->events.size() == 2);
  CHECK(ok->events[0].seq == 2);
  CHECK(*ok->events[1].json == "{3}");

  CHECK_FALSE(decode_read_reply(str("ep"), false));
  CHECK_FALSE(decode_read_reply(array({str("ep")}), false));
  CHECK_FALSE(decode_read_reply(array({str("ep"), integer(1)}), false));
  CHECK_FALSE(decode_read_reply(array({str("ep"), integer(1), integer(0), str("1-0")}), false));
  auto bad_id = decode_read_reply(array({str("ep"), integer(1), integer(0), str("x-0"), str("{}")}), false);
  CHECK_FALSE(bad_id);
}

TEST_CASE("a channel's read-marker hash gives the highest markers first, or an error for a malformed one", "[redis]") {
  auto ok = decode_read_markers(array({str("bob"), str("4"), str("alice"), str("9"), str("carol"), str("1")}));
  REQUIRE(ok);
  REQUIRE(ok->size() == 3);
  CHECK((*ok)[0].user_id == "alice");
  CHECK((*ok)[0].seq == 9);
  CHECK((*ok)[2].user_id == "carol");

  std::vector<redis_value> many;
  for (int i = 0; i < max_read_markers + 50; ++i) {
    many.push_back(str("u" + std::to_string(i)));
    many.push_back(str(std::to_string(i)));
  }
  auto capped = decode_read_markers(array(std::move(many)));
  REQUIRE(capped);
  REQUIRE(capped->size() == static_cast<std::size_t>(max_read_markers));
  CHECK(capped->front().seq == max_read_markers + 49);

  CHECK(decode_read_markers(array({}))->empty());
  CHECK_FALSE(decode_read_markers(str("x")));
  CHECK_FALSE(decode_read_markers(array({str("bob")})));
  CHECK_FALSE(decode_read_markers(array({str("bob"), str("four")})));
}
