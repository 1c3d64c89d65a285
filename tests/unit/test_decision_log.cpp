// Canonical JSON (RFC 8785), record hashing and chain verification (protocol §5).
#include "protocol/decision_log.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <bit>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

using namespace parley;

namespace {

double from_bits(std::uint64_t bits) { return std::bit_cast<double>(bits); }

// A chain of `count` records hashed the way the engines write them.
std::vector<boost::json::object> make_chain(int count) {
  std::vector<boost::json::object> chain;
  std::string prev = genesis_prev;
  for (int n = 1; n <= count; ++n) {
    boost::json::object rec{{"n", n},
                            {"eng", "42"},
                            {"ch", "eng:42"},
                            {"topic", "timeline"},
                            {"terms", {{"weeks", n}}},
                            {"text", "Plan " + std::to_string(n)},
                            {"proposed_by", "e1"},
                            {"accepted_by", {"c1"}},
                            {"proposal_seq", 10 * n},
                            {"decision_seq", 10 * n + 1},
                            {"ts", 1764122400000 + n},
                            {"prev", prev}};
    rec["hash"] = record_hash(rec);
    prev = std::string(rec["hash"].get_string());
    chain.push_back(std::move(rec));
  }
  return chain;
}

}  // namespace

TEST_CASE("canonical JSON reproduces the RFC 8785 sample", "[decision_log]") {
  // The numbers are C++ literals: Boost.JSON 1.81's parser does not always round
  // to the nearest double (333333333.33333329 comes out one ulp low), while the
  // compiler and simdjson, which parses Parley's input, do.
  auto v = boost::json::parse(R"({
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  })");
  v.as_object()["numbers"] = {333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001};
  CHECK(canonical_json(v) ==
        "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
        "\"string\":\"\xE2\x82\xAC$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

TEST_CASE("canonical JSON sorts keys by UTF-16 code units, not code points", "[decision_log]") {
  // RFC 8785 §3.2.3: the emoji (surrogate pair D83D DE00) sorts before U+FB33.
  auto v = boost::json::parse(R"({
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\ud83d\ude00": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis"
  })");
  CHECK(canonical_json(v) ==
        "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xC2\x80\":\"Control\","
        "\"\xC3\xB6\":\"Latin Small Letter O With Diaeresis\",\"\xE2\x82\xAC\":\"Euro Sign\","
        "\"\xF0\x9F\x98\x80\":\"Emoji: Grinning Face\",\"\xEF\xAC\xB3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

TEST_CASE("canonical JSON sorts nested objects and keeps array order", "[decision_log]") {
  auto v = boost::json::parse(R"({"b": [3, {"z": 1, "a": 2}, 1], "a": {"d": null, "c": "x"}})");
  CHECK(canonical_json(v) == R"({"a":{"c":"x","d":null},"b":[3,{"a":2,"z":1},1]})");
}

TEST_CASE("canonical JSON escapes only what RFC 8785 escapes", "[decision_log]") {
  struct row {
    std::string in;
    std::string out;
  };
  auto r = GENERATE(values<row>({
      {"plain", "\"plain\""},
      {"quote \" and backslash \\", "\"quote \\\" and backslash \\\\\""},
      {"\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\""},
      {std::string("\x00\x01\x1f", 3), "\"\\u0000\\u0001\\u001f\""},
      {"\x7f", "\"\x7f\""},               // DEL is not a control character for JSON
      {"/", "\"/\""},                     // no escaped solidus
      {"\xE2\x80\xA8", "\"\xE2\x80\xA8\""},  // U+2028 stays literal
      {"caf\xC3\xA9 \xF0\x9F\x98\x80", "\"caf\xC3\xA9 \xF0\x9F\x98\x80\""},
  }));
  CHECK(canonical_json(boost::json::value(r.in)) == r.out);
}

TEST_CASE("canonical JSON writes doubles in ECMAScript form", "[decision_log]") {
  struct row {
    double in;
    std::string out;
  };
  // From RFC 8785 appendix B, plus the boundaries of the plain form.
  auto r = GENERATE(values<row>({
      {0.0, "0"},
      {-0.0, "0"},
      {from_bits(0x0000000000000001), "5e-324"},
      {from_bits(0x8000000000000001), "-5e-324"},
      {from_bits(0x7fefffffffffffff), "1.7976931348623157e+308"},
      {from_bits(0xffefffffffffffff), "-1.7976931348623157e+308"},
      {from_bits(0x4340000000000000), "9007199254740992"},
      {from_bits(0xc340000000000000), "-9007199254740992"},
      {from_bits(0x4430000000000000), "295147905179352830000"},
      {from_bits(0x44b52d02c7e14af5), "9.999999999999997e+22"},
      {from_bits(0x44b52d02c7e14af6), "1e+23"},
      {from_bits(0x44b52d02c7e14af7), "1.0000000000000001e+23"},
      {from_bits(0x444b1ae4d6e2ef4e), "999999999999999700000"},
      {from_bits(0x444b1ae4d6e2ef4f), "999999999999999900000"},
      {from_bits(0x444b1ae4d6e2ef50), "1e+21"},
      {from_bits(0x3eb0c6f7a0b5ed8c), "9.999999999999997e-7"},
      {from_bits(0x3eb0c6f7a0b5ed8d), "0.000001"},
      {from_bits(0x3eb0c6f7a0b5ed8e), "0.0000010000000000000002"},
      {from_bits(0x41b3de4355555553), "333333333.3333332"},
      {from_bits(0x41b3de4355555554), "333333333.33333325"},
      {from_bits(0x41b3de4355555555), "333333333.3333333"},
      {from_bits(0x41b3de4355555556), "333333333.3333334"},
      {from_bits(0x41b3de4355555557), "333333333.33333343"},
      {from_bits(0xbecbf647612f3696), "-0.0000033333333333333333"},
      {from_bits(0x43143ff3c1cb0959), "1424953923781206.2"},
      {0.1, "0.1"},
      {1e-7, "1e-7"},
      {1.5e-7, "1.5e-7"},
      {1e21, "1e+21"},
      {1e20, "100000000000000000000"},
      {123e20, "1.23e+22"},
      {1500.5, "1500.5"},
      {-2.0, "-2"},
      {100.0, "100"},
  }));
  CAPTURE(r.out);
  CHECK(canonical_json(boost::json::value(r.in)) == r.out);
}

TEST_CASE("canonical JSON writes non-finite doubles as null, like JSON.stringify", "[decision_log]") {
  CHECK(canonical_json(boost::json::value(std::numeric_limits<double>::quiet_NaN())) == "null");
  CHECK(canonical_json(boost::json::value(std::numeric_limits<double>::infinity())) == "null");
}

TEST_CASE("canonical JSON writes integers exactly up to 2^53 and as doubles beyond", "[decision_log]") {
  struct row {
    boost::json::value in;
    std::string out;
  };
  auto r = GENERATE(values<row>({
      {boost::json::value(std::int64_t{0}), "0"},
      {boost::json::value(std::int64_t{-17}), "-17"},
      {boost::json::value(std::int64_t{1764122400123}), "1764122400123"},
      {boost::json::value(std::int64_t{9007199254740992}), "9007199254740992"},
      {boost::json::value(std::int64_t{-9007199254740992}), "-9007199254740992"},
      // Beyond 2^53 an integer is the double it parses to (RFC 8785 §3.2.2.3).
      {boost::json::value(std::int64_t{9007199254740993}), "9007199254740992"},
      {boost::json::value(std::numeric_limits<std::int64_t>::min()), "-9223372036854776000"},
      {boost::json::value(std::numeric_limits<std::uint64_t>::max()), "18446744073709552000"},
      {boost::json::value(std::uint64_t{42}), "42"},
  }));
  CHECK(canonical_json(r.in) == r.out);
}

TEST_CASE("record_hash is the SHA-256 of the canonical record without its hash", "[decision_log]") {
  // Expected digests computed independently (Python hashlib over the canonical text).
  CHECK(record_hash(boost::json::object{{"a", 1}}) ==
        "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862");
  boost::json::object rec{{"n", 1},
                          {"eng", "42"},
                          {"ch", "eng:42"},
                          {"topic", "agreement"},
                          {"terms", {{"scope", "caf\xC3\xA9"}, {"price", 1500.5}}},
                          {"text", "Fixed price"},
                          {"proposed_by", "e1"},
                          {"accepted_by", {"c1"}},
                          {"proposal_seq", 7},
                          {"decision_seq", 8},
                          {"ts", 1764122400123},
                          {"prev", genesis_prev}};
  const std::string expected = "4a8ec0dc3a6277d43955fea77cf60e52eacd6e049902a28712fae55a7a068e39";
  CHECK(record_hash(rec) == expected);
  rec["hash"] = "anything";
  CHECK(record_hash(rec) == expected);
}

TEST_CASE("verify_chain accepts a well-formed chain and an empty one", "[decision_log]") {
  CHECK(verify_chain({}));
  CHECK(verify_chain(make_chain(1)));
  CHECK(verify_chain(make_chain(5)));
}

TEST_CASE("verify_chain names the first bad record", "[decision_log]") {
  struct row {
    std::string what;
    void (*damage)(std::vector<boost::json::object>&);
    std::string message;
  };
  auto r = GENERATE(values<row>({
      {"tampered terms", [](auto& c) { c[1]["terms"] = {{"weeks", 99}}; }, "record 2: hash mismatch"},
      {"tampered hash", [](auto& c) { c[2]["hash"] = std::string(64, 'a'); }, "record 3: hash mismatch"},
      {"reordered", [](auto& c) { std::swap(c[1], c[2]); }, "record 2: out of order (n is 3)"},
      {"record missing", [](auto& c) { c.erase(c.begin() + 1); }, "record 2: out of order (n is 3)"},
      {"broken prev, rehashed",
       [](auto& c) {
         c[2]["prev"] = std::string(64, 'f');
         c[2]["hash"] = record_hash(c[2]);
       },
       "record 3: prev does not match the previous record's hash"},
      {"first prev not genesis",
       [](auto& c) {
         c[0]["prev"] = std::string(64, '1');
         c[0]["hash"] = record_hash(c[0]);
       },
       "record 1: prev does not match the previous record's hash"},
      {"no hash", [](auto& c) { c[3].erase("hash"); }, "record 4: no hash"},
      {"no n", [](auto& c) { c[0].erase("n"); }, "record 1: no n"},
  }));
  CAPTURE(r.what);
  auto chain = make_chain(4);
  r.damage(chain);
  auto checked = verify_chain(chain);
  REQUIRE_FALSE(checked);
  CHECK(checked.err().message == r.message);
}
