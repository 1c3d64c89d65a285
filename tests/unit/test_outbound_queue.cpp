// The outbound queue (server/outbound_queue): each frame counts its bytes and a
// newline separator, a write is one buffer of at most 512 frames and 64 KiB
// (a larger frame alone), and what is written or dropped leaves the byte count exact.
#include "server/outbound_queue.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <string>

using parley::outbound_queue;

namespace {

std::shared_ptr<const std::string> frame(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

// The bytes a write would put on the wire.
std::string joined(boost::asio::const_buffer b) { return std::string(static_cast<const char*>(b.data()), b.size()); }

}  // namespace

TEST_CASE("each frame counts its bytes and its separator", "[server][outbound_queue]") {
  outbound_queue q(100);
  REQUIRE(q.empty());
  REQUIRE_FALSE(q.push(frame("hello")));
  REQUIRE_FALSE(q.push(frame("hi")));
  REQUIRE(q.bytes() == 6 + 3);
  REQUIRE(q.frames() == 2);
}

TEST_CASE("a push past the limit says so, at the limit it does not", "[server][outbound_queue]") {
  outbound_queue q(10);
  REQUIRE_FALSE(q.push(frame("123456789")));  // 10 bytes with its separator: at the limit
  REQUIRE_FALSE(q.over_limit());
  REQUIRE(q.push(frame("")));  // 11
  REQUIRE(q.over_limit());
}

TEST_CASE("the room left never lets one more frame pass the limit", "[server][outbound_queue]") {
  outbound_queue q(10);
  REQUIRE(q.room() == 9);  // 9 bytes and a separator
  q.push(frame("1234"));   // 5
  REQUIRE(q.room() == 4);
  q.push(frame("123"));  // 9
  REQUIRE(q.room() == 0);
  q.push(frame("1"));  // 11: past the limit
  REQUIRE(q.room() == 0);
  outbound_queue full(1);
  REQUIRE(full.room() == 0);
}

TEST_CASE("a write carries the queued frames newline-separated, written frames leave", "[server][outbound_queue]") {
  outbound_queue q(1000);
  q.push(frame("{\"a\":1}"));
  q.push(frame("{\"b\":2}"));
  REQUIRE(joined(q.next_write()) == "{\"a\":1}\n{\"b\":2}");
  REQUIRE(q.in_flight() == 2);
  q.push(frame("{\"c\":3}"));  // while writing: waits for the next write
  q.written();
  REQUIRE(q.frames() == 1);
  REQUIRE(q.bytes() == 8);
  REQUIRE(q.in_flight() == 0);
  REQUIRE(joined(q.next_write()) == "{\"c\":3}");
  q.written();
  REQUIRE(q.empty());
  REQUIRE(q.bytes() == 0);
}

TEST_CASE("a write gathers at most 512 frames", "[server][outbound_queue]") {
  outbound_queue q(1 << 20);
  for (int i = 0; i < 600; ++i) q.push(frame(std::to_string(i)));
  auto text = joined(q.next_write());
  REQUIRE(q.in_flight() == 512);
  REQUIRE(text.rfind("0\n1\n", 0) == 0);
  REQUIRE(text.substr(text.size() - 4) == "\n511");
  q.written();
  REQUIRE(q.frames() == 88);
  REQUIRE(joined(q.next_write()).rfind("512\n", 0) == 0);
}

TEST_CASE("dropping what is unsent keeps the frames being written", "[server][outbound_queue]") {
  outbound_queue q(1000);
  q.push(frame("aa"));
  q.push(frame("bbb"));
  q.next_write();
  q.push(frame("cccc"));
  q.push(frame("ddddd"));
  q.drop_unsent();
  REQUIRE(q.frames() == 2);
  REQUIRE(q.bytes() == 3 + 4);
  q.written();
  REQUIRE(q.empty());
  REQUIRE(q.bytes() == 0);
}

TEST_CASE("with no write under way, dropping unsent drops everything", "[server][outbound_queue]") {
  outbound_queue q(1000);
  q.push(frame("aa"));
  q.push(frame("bbb"));
  q.drop_unsent();
  REQUIRE(q.empty());
  REQUIRE(q.bytes() == 0);
  q.push(frame("x"));
  q.next_write();
  q.clear();
  REQUIRE(q.empty());
  REQUIRE(q.bytes() == 0);
  REQUIRE(q.in_flight() == 0);
}

TEST_CASE("a write is filled to 64 KiB, a larger frame goes alone, uncopied", "[server][outbound_queue]") {
  outbound_queue q(1 << 22);
  const std::string kib(1023, 'k');  // 1 KiB with its separator
  for (int i = 0; i < 100; ++i) q.push(frame(kib));
  auto first = q.next_write();
  REQUIRE(q.in_flight() == 64);
  REQUIRE(first.size() == 64 * 1024 - 1);
  q.written();
  REQUIRE(q.frames() == 36);

  outbound_queue big(1 << 22);
  auto huge = frame(std::string(200 * 1024, 'h'));
  big.push(huge);
  big.push(frame("after"));
  auto alone = big.next_write();
  REQUIRE(big.in_flight() == 1);
  REQUIRE(alone.data() == huge->data());  // the shared string itself
  REQUIRE(alone.size() == huge->size());
  big.written();
  REQUIRE(joined(big.next_write()) == "after");
}

TEST_CASE("an empty queue writes nothing", "[server][outbound_queue]") {
  outbound_queue q(100);
  REQUIRE(q.next_write().size() == 0);
  REQUIRE(q.in_flight() == 0);
}
