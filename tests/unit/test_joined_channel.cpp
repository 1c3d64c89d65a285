// A connection's cursor on a joined channel (server/joined_channel): live
// events wait while the join reads, then pass in order after the read's head;
// what the read carried is skipped, and a gap is reported.
#include "server/joined_channel.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

using parley::joined_channel;
using delivery = joined_channel::delivery;

namespace {

std::shared_ptr<const std::string> event(std::int64_t seq) {
  return std::make_shared<const std::string>("{\"seq\":" + std::to_string(seq) + "}");
}

std::vector<std::int64_t> seqs(const std::vector<joined_channel::buffered_event>& events) {
  std::vector<std::int64_t> out;
  for (const auto& e : events) out.push_back(e.seq);
  return out;
}

}  // namespace

TEST_CASE("live events wait while the join reads and are released in order", "[server][joined_channel]") {
  joined_channel jc;
  jc.start_join(1);
  REQUIRE_FALSE(jc.ready());
  REQUIRE(jc.deliver(5, event(5)) == delivery::buffer);
  REQUIRE(jc.deliver(6, event(6)) == delivery::buffer);
  REQUIRE(jc.deliver(7, event(7)) == delivery::buffer);
  auto released = jc.read_done(5);
  REQUIRE(jc.ready());
  REQUIRE(seqs(released) == std::vector<std::int64_t>{5, 6, 7});
  REQUIRE(*released[1].json == "{\"seq\":6}");
  // Delivered again, as the session does: what the read carried is skipped.
  REQUIRE(jc.deliver(5, released[0].json) == delivery::skip);
  REQUIRE(jc.deliver(6, released[1].json) == delivery::queue);
  REQUIRE(jc.deliver(7, released[2].json) == delivery::queue);
  REQUIRE(jc.read_done(7).empty());
}

TEST_CASE("after the read, the next event passes, older ones are skipped, a gap is reported",
          "[server][joined_channel]") {
  joined_channel jc;
  jc.start_join(1);
  jc.read_done(10);
  REQUIRE(jc.deliver(9, event(9)) == delivery::skip);
  REQUIRE(jc.deliver(10, event(10)) == delivery::skip);
  REQUIRE(jc.deliver(11, event(11)) == delivery::queue);
  REQUIRE(jc.deliver(13, event(13)) == delivery::gap);
  // A gap moves nothing: the next one is still 12.
  REQUIRE(jc.deliver(12, event(12)) == delivery::queue);
}

TEST_CASE("joining again waits anew and drops what waited for the earlier join", "[server][joined_channel]") {
  joined_channel jc;
  jc.start_join(1);
  REQUIRE(jc.generation() == 1);
  jc.deliver(3, event(3));
  jc.start_join(2);
  REQUIRE(jc.generation() == 2);
  REQUIRE_FALSE(jc.ready());
  jc.deliver(4, event(4));
  REQUIRE(seqs(jc.read_done(3)) == std::vector<std::int64_t>{4});
}

TEST_CASE("a join again of a live channel buffers until its read", "[server][joined_channel]") {
  joined_channel jc;
  jc.start_join(1);
  jc.read_done(2);
  REQUIRE(jc.deliver(3, event(3)) == delivery::queue);
  jc.start_join(2);
  REQUIRE(jc.deliver(4, event(4)) == delivery::buffer);
  REQUIRE(seqs(jc.read_done(4)) == std::vector<std::int64_t>{4});
  REQUIRE(jc.deliver(4, event(4)) == delivery::skip);
  REQUIRE(jc.deliver(5, event(5)) == delivery::queue);
}
