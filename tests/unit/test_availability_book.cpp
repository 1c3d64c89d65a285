#include "server/availability_book.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace parley;

namespace {
user_record away_record(const std::string& id, std::int64_t set_at) {
  return {id, R"({"status":"away","until":1900000000000})", set_at, set_at};
}
}  // namespace

TEST_CASE("an availability known long ago is still used, and is the one to read again", "[server]") {
  availability_book book(100, 60'000);
  const std::int64_t t0 = 1'800'000'000'000;
  book.remember("bob", away_record("bob", t0), t0);

  // Within the age: known, nothing to read again.
  CHECK(book.unknown_of({"bob"}, t0 + 60'000).empty());
  // Older: still known (an old value is a better guess than none; an owed
  // reply's due and presence entries keep it), and listed to be read again.
  auto k = book.known("bob");
  REQUIRE(k);
  REQUIRE(k->value);
  CHECK(k->value->status == availability_status::away);
  CHECK(book.unknown_of({"bob", "carol"}, t0 + 60'001) == std::vector<std::string>{"bob", "carol"});
  // Read again: fresh once more, with what storage says now.
  book.remember("bob", std::nullopt, t0 + 60'001);
  CHECK(book.unknown_of({"bob"}, t0 + 60'002).empty());
  REQUIRE(book.known("bob"));
  CHECK_FALSE(book.known("bob")->value);
}

TEST_CASE("the availability book holds at most its bound of users", "[server]") {
  availability_book book(3, 60'000);
  for (int i = 0; i < 10; ++i) book.remember("u" + std::to_string(i), std::nullopt, 0);
  CHECK(book.size() <= 3);
  CHECK(book.known("u9"));
}

TEST_CASE("last_seen moves forward only, and the last connection's close is told once", "[server]") {
  availability_book book;
  book.remember("bob", away_record("bob", 100), 100);
  book.seen("bob", 500);
  book.seen("bob", 300);
  CHECK(book.known("bob")->last_seen == 500);

  book.connected("bob");
  book.connected("bob");
  CHECK_FALSE(book.disconnected("bob"));
  CHECK(book.disconnected("bob"));
  CHECK_FALSE(book.disconnected("bob"));
}
