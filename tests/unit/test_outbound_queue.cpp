// The outbound queue (server/outbound_queue): each frame counts its bytes and a
// newline separator, a write gathers at most 512 frames, and what is written or
// dropped leaves the byte count exact.
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
std::string joined(const std::vector<boost::asio::const_buffer>& buffers) {
  std::string out;
  for (const auto& b : buffers) out.append(static_cast<const char*>(b.data()), b.size());
  return out;
}

}  // namespace

TEST_CASE("each frame counts its bytes and its separator", "[server][outbound_queue]") {
  outbound_queue q(100);
  REQUIRE(q.empty());
  REQUIRE_FALSE(q.push(frame("hello")));
  REQUIRE_FALSE(q.push(frame("hi")));
  REQUIRE(q.bytes() == 6 + 3);
  REQUIRE(q.frames() == 2);
}

TEST_CASE("a push past the limit says so; at the limit it does not", "[server][outbound_queue]") {
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

TEST_CASE("a write carries the queued frames newline-separated; written frames leave", "[server][outbound_queue]") {
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
  const auto& buffers = q.next_write();
  REQUIRE(buffers.size() == 2 * outbound_queue::max_batch - 1);
  REQUIRE(q.in_flight() == 512);
  auto text = joined(buffers);
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
