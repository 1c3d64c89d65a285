// The checks behind `parley verify-log` (protocol §5, §9.11).
#include "protocol/channel.hpp"
#include "protocol/decision_log.hpp"
#include "protocol/log_verifier.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace parley;

namespace {

ed25519_key test_key(char fill) {
  auto key = ed25519_key::from_seed(std::string(32, fill));
  REQUIRE(key);
  return *key;
}

// JSONL lines of `count` signed records of engagement `eng`, as an export holds them.
std::vector<std::string> signed_export(int count, const ed25519_key& key, std::string eng = "42") {
  std::vector<std::string> lines;
  std::string prev = genesis_prev;
  for (int n = 1; n <= count; ++n) {
    boost::json::object rec{{"n", n},
                            {"eng", eng},
                            {"ch", channel::main(eng)},
                            {"topic", "timeline"},
                            {"terms", {{"weeks", n}}},
                            {"text", "Plan " + std::to_string(n)},
                            {"proposed_by", "e1"},
                            {"accepted_by", {"c1"}},
                            {"proposal_seq", 10 * n},
                            {"decision_seq", 10 * n + 1},
                            {"ts", 1764122400000 + n},
                            {"prev", prev}};
    prev = seal_record(rec, &key);
    lines.push_back(boost::json::serialize(rec));
  }
  return lines;
}

log_check_options with(const key_set* keys, std::optional<std::string> head = std::nullopt, std::int64_t min = 0) {
  log_check_options o;
  o.keys = keys;
  o.head = std::move(head);
  o.min_records = min;
  return o;
}

// Feeds every line, then finishes: the first error, or success.
result<void> run(const std::vector<std::string>& lines, log_check_options options) {
  log_verifier v(std::move(options));
  for (const auto& l : lines) {
    if (auto added = v.add_line(l); !added) return added;
  }
  return v.finish();
}

// Re-seals record `index` after `change`, keeping its hash and signature valid.
void edit(std::vector<std::string>& lines, std::size_t index, const ed25519_key& key,
          const std::function<void(boost::json::object&)>& change) {
  auto rec = boost::json::parse(lines[index]).as_object();
  change(rec);
  seal_record(rec, &key);
  lines[index] = boost::json::serialize(rec);
}

}  // namespace

TEST_CASE("verify-log accepts a signed export, with and without keys", "[protocol][verify_log]") {
  auto key = test_key('\x01');
  key_set keys;
  keys.add(key);
  auto lines = signed_export(5, key);
  CHECK(run(lines, with(&keys)));
  CHECK(run(lines, {}));
  CHECK(run({}, {}));

  log_verifier v(with(&keys, std::nullopt, 5));
  for (const auto& l : lines) REQUIRE(v.add_line(l));
  REQUIRE(v.add_line(""));  // blank lines (a final newline) are skipped
  REQUIRE(v.finish());
  CHECK(v.records() == 5);
  CHECK(v.head() == std::string(boost::json::parse(lines[4]).at("hash").as_string()));
}

TEST_CASE("verify-log names the first bad record", "[protocol][verify_log]") {
  auto key = test_key('\x01');
  auto stranger = test_key('\x02');
  key_set keys;
  keys.add(key);
  auto good = signed_export(4, key);
  auto head = std::string(boost::json::parse(good.back()).at("hash").as_string());

  struct bad_case {
    const char* name;
    std::function<void(std::vector<std::string>&)> spoil;
    log_check_options options;
    std::string expected;
  };
  const std::vector<bad_case> cases = {
      {"a tampered sig",
       [&](auto& l) {
         auto rec = boost::json::parse(l[2]).as_object();
         std::string sig(rec.at("sig").as_string());
         sig[0] = sig[0] == 'A' ? 'B' : 'A';
         rec["sig"] = sig;
         l[2] = boost::json::serialize(rec);
       },
       with(&keys), "line 3 (record 3): bad signature"},
      {"an unknown kid", [&](auto& l) { l = signed_export(4, stranger); }, with(&keys),
       "line 1 (record 1): unknown kid " + stranger.kid()},
      {"a record without sig when keys are given",
       [&](auto& l) {
         auto rec = boost::json::parse(l[1]).as_object();
         rec.erase("sig");
         l[1] = boost::json::serialize(rec);
       },
       with(&keys), "line 2 (record 2): no sig"},
      {"a changed text", [&](auto& l) {
         auto rec = boost::json::parse(l[1]).as_object();
         rec["text"] = "Start whenever.";
         l[1] = boost::json::serialize(rec);
       }, {}, "line 2 (record 2): hash mismatch"},
      {"another eng mid-file", [&](auto& l) { edit(l, 2, key, [](auto& r) { r["eng"] = "43"; }); }, with(&keys),
       "line 3 (record 3): eng differs from the first record's"},
      {"n starting at 2", [&](auto& l) { l.erase(l.begin()); }, {},
       "line 1 (record 1): n is 2, expected 1"},
      {"a duplicate key",
       [&](auto& l) { l[1].insert(1, R"("text":"shadow",)"); },
       {}, "line 2 (record 2): duplicate key text"},
      {"an integer beyond 2^53",
       [&](auto& l) { edit(l, 3, key, [](auto& r) { r["terms"] = {{"amount", 9007199254740993LL}}; }); }, with(&keys),
       "line 4 (record 4): integers must lie within ±9007199254740991 (I-JSON, RFC 7493)"},
      {"a number beyond a double", [&](auto& l) { l[0].insert(1, R"("x":1e400,)"); }, {},
       "line 1 (record 1): a number is malformed or out of range"},
      {"a line that is not JSON", [&](auto& l) { l[1] = "{"; }, {}, "line 2 (record 2): invalid JSON"},
      {"a head that is not the last hash", [](auto&) {}, with(&keys, std::string(64, 'a')),
       "record 4: hash " + head + " is not the expected head"},
      {"fewer records than --min-records", [](auto& l) { l.pop_back(); }, with(&keys, std::nullopt, 4),
       "only 3 records, expected at least 4 (truncated?)"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      auto lines = good;
      c.spoil(lines);
      auto checked = run(lines, c.options);
      REQUIRE_FALSE(checked);
      CHECK(checked.err().message == c.expected);
    }
  }
}

TEST_CASE("verify-log keeps its first error", "[protocol][verify_log]") {
  auto key = test_key('\x01');
  auto lines = signed_export(3, key);
  log_verifier v({});
  REQUIRE(v.add_line(lines[0]));
  auto first = v.add_line("garbage");
  REQUIRE_FALSE(first);
  auto again = v.add_line(lines[1]);
  REQUIRE_FALSE(again);
  CHECK(again.err().message == first.err().message);
  CHECK(v.finish().err().message == first.err().message);
}
