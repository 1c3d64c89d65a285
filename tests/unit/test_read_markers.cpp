#include "server/read_markers.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <tuple>
#include <vector>

using namespace parley;

namespace {
struct recorder {
  std::vector<std::tuple<std::string, std::string, std::int64_t>> stored;
  read_markers::store_fn fn() {
    return [this](const std::string& u, const std::string& ch, std::int64_t seq) { stored.emplace_back(u, ch, seq); };
  }
};
}  // namespace

TEST_CASE("a read marker that moves forward is pushed, a repeated or lower one is not", "[server]") {
  recorder r;
  read_markers m(r.fn());
  CHECK(m.update("u1", "eng:1", 5));
  CHECK_FALSE(m.update("u1", "eng:1", 5));
  CHECK_FALSE(m.update("u1", "eng:1", 3));
  CHECK(m.update("u1", "eng:1", 6));
  CHECK(m.update("u2", "eng:1", 1));  // another user
  CHECK(m.update("u1", "eng:2", 1));  // another channel
}

TEST_CASE("read markers are stored in batches holding each pair's latest seq", "[server]") {
  recorder r;
  read_markers m(r.fn());
  for (int seq = 1; seq <= 10'000; ++seq) m.update("u1", "eng:1", seq);
  CHECK(r.stored.empty());  // nothing written before the flush
  CHECK(m.pending() == 1);
  m.flush();
  REQUIRE(r.stored.size() == 1);
  CHECK(r.stored[0] == std::make_tuple(std::string("u1"), std::string("eng:1"), std::int64_t{10'000}));
  m.flush();
  CHECK(r.stored.size() == 1);  // nothing new: nothing written
}

TEST_CASE("read markers are flushed at once when the batch is full", "[server]") {
  recorder r;
  read_markers m(r.fn(), 4);
  for (int i = 0; i < 3; ++i) m.update("u" + std::to_string(i), "eng:1", 1);
  CHECK(r.stored.empty());
  m.update("u3", "eng:1", 1);
  CHECK(r.stored.size() == 4);
  CHECK(m.pending() == 0);
}

TEST_CASE("read markers remember a bounded number of pairs", "[server]") {
  recorder r;
  read_markers m(r.fn(), 256, 1000);
  for (int i = 0; i < 10'000; ++i) m.update("user-" + std::to_string(i), "eng:1", 1);
  CHECK(m.known() <= 1000);
  CHECK(m.pending() < 256);
  m.flush();
  CHECK(r.stored.size() == 10'000);  // every marker still reached storage
}

TEST_CASE("a join's read markers are the stored ones raised by those not yet written", "[server]") {
  recorder r;
  read_markers m(r.fn());
  m.update("u1", "eng:1", 7);
  m.update("u2", "eng:1", 3);
  m.update("u1", "eng:10", 99);  // a channel whose name extends eng:1's
  auto known = m.known_on("eng:1");
  REQUIRE(known.size() == 2);

  std::vector<read_marker> stored{{"u1", 5}, {"u3", 4}, {"u2", 6}};
  auto merged = merge_read_markers(stored, known, 10);
  REQUIRE(merged.size() == 3);
  CHECK(merged[0].user_id == "u1");
  CHECK(merged[0].seq == 7);  // newer than storage
  CHECK(merged[1].user_id == "u2");
  CHECK(merged[1].seq == 6);  // storage is ahead of an older marker known here
  CHECK(merged[2].user_id == "u3");

  CHECK(merge_read_markers(stored, known, 2).size() == 2);
  CHECK(m.known_on("eng:2").empty());
}
