// The delivery order of a watched channel in cluster mode, without Redis:
// every event once, in seq order, without gaps, whatever order the live
// messages and the gap-filling reads arrive in.
#include "storage/delivery_order.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace parley;

namespace {

published msg(std::int64_t seq, std::string epoch = "e1") {
  return published{seq, 1000 + seq, std::move(epoch), std::make_shared<const std::string>("event " + std::to_string(seq)),
                   nullptr};
}

std::vector<published> msgs(std::int64_t from, std::int64_t to, std::string epoch = "e1") {
  std::vector<published> out;
  for (auto s = from; s <= to; ++s) out.push_back(msg(s, epoch));
  return out;
}

std::vector<std::int64_t> seqs(const delivery_order::step& step) {
  std::vector<std::int64_t> out;
  for (const auto& p : step.deliver) out.push_back(p.seq);
  return out;
}

using seq_list = std::vector<std::int64_t>;

}  // namespace

TEST_CASE("before the first read nothing is delivered, the read starts at the head and releases what follows it",
          "[redis][order]") {
  delivery_order order;
  CHECK(seqs(order.on_message(msg(5), false)).empty());
  CHECK(seqs(order.on_message(msg(7), false)).empty());
  CHECK(seqs(order.on_message(msg(6), false)).empty());
  auto step = order.on_read("e1", 5, {});
  CHECK(order.synced());
  // 5 was committed before the start (its head): only what follows is delivered.
  CHECK(seqs(step) == seq_list{6, 7});
  CHECK_FALSE(step.read_needed);
  CHECK(order.last() == 7);
}

TEST_CASE("messages in order are delivered one by one and repeats are dropped", "[redis][order]") {
  delivery_order order;
  order.on_read("e1", 0, {});
  CHECK(seqs(order.on_message(msg(1), false)) == seq_list{1});
  CHECK(seqs(order.on_message(msg(2), false)) == seq_list{2});
  auto again = order.on_message(msg(2), false);
  CHECK(again.deliver.empty());
  CHECK_FALSE(again.read_needed);
  CHECK(seqs(order.on_message(msg(1), false)).empty());
  CHECK(order.last() == 2);
}

TEST_CASE("a gap holds what comes after it and asks for a read that fills it", "[redis][order]") {
  delivery_order order;
  order.on_read("e1", 3, {});
  auto past_gap = order.on_message(msg(6), false);
  CHECK(past_gap.deliver.empty());
  CHECK(past_gap.read_needed);
  CHECK(order.waiting());
  auto filled = order.on_read("e1", 6, msgs(4, 6));
  CHECK(seqs(filled) == seq_list{4, 5, 6});
  CHECK_FALSE(filled.read_needed);
  CHECK_FALSE(order.waiting());
}

TEST_CASE("a read that stops short of the head asks for another", "[redis][order]") {
  delivery_order order;
  order.on_read("e1", 0, {});
  auto partial = order.on_read("e1", 10, msgs(1, 4));
  CHECK(seqs(partial) == seq_list{1, 2, 3, 4});
  CHECK(partial.read_needed);
  auto rest = order.on_read("e1", 10, msgs(5, 10));
  CHECK(seqs(rest) == seq_list{5, 6, 7, 8, 9, 10});
  CHECK_FALSE(rest.read_needed);
}

TEST_CASE("while a read is under way even the next message waits for it", "[redis][order]") {
  delivery_order order;
  order.on_read("e1", 1, {});
  CHECK(seqs(order.on_message(msg(2), true)).empty());
  CHECK(seqs(order.on_message(msg(3), true)).empty());
  // The read saw 2 only; 3 arrived live meanwhile: both are delivered, once each.
  auto step = order.on_read("e1", 2, msgs(2, 2));
  CHECK(seqs(step) == seq_list{2, 3});
  CHECK_FALSE(step.read_needed);
}

TEST_CASE("a new epoch starts the channel again at seq 1 of the new log", "[redis][order]") {
  delivery_order order;
  order.on_read("e1", 0, {});
  order.on_message(msg(1), false);
  order.on_message(msg(2), false);
  // Redis restarted empty: a message of the new log arrives.
  auto unknown = order.on_message(msg(1, "e2"), false);
  CHECK(unknown.deliver.empty());
  CHECK(unknown.read_needed);
  auto restart = order.on_read("e2", 1, msgs(1, 1, "e2"));
  CHECK(restart.deliver.empty());
  CHECK(restart.read_needed);
  CHECK(order.epoch() == "e2");
  CHECK(order.last() == 0);
  auto from_one = order.on_read("e2", 2, msgs(1, 2, "e2"));
  CHECK(seqs(from_one) == seq_list{1, 2});
  CHECK(order.last() == 2);
  // A late message of the old log is of no use any more.
  CHECK(seqs(order.on_message(msg(3, "e1"), false)).empty());
}

TEST_CASE("whatever order messages arrive in, each seq is delivered once and in order", "[redis][order]") {
  delivery_order order;
  order.on_read("e1", 0, {});
  std::vector<std::int64_t> arrival{3, 1, 2, 2, 6, 5, 4, 9, 7, 8, 8, 10};
  seq_list delivered;
  for (auto seq : arrival) {
    auto step = order.on_message(msg(seq), false);
    for (const auto& p : step.deliver) delivered.push_back(p.seq);
  }
  CHECK(delivered == seq_list{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
}

TEST_CASE("the buffer of messages past a gap is bounded, dropping it only asks for more reads", "[redis][order]") {
  delivery_order order(100);
  order.on_read("e1", 10, {});
  // Seq 11 is missing; 12.. arrive live, far more than the buffer holds.
  bool read_asked = false;
  for (std::int64_t s = 12; s <= 1000; ++s) read_asked = order.on_message(msg(s), false).read_needed || read_asked;
  CHECK(read_asked);
  // The reads deliver everything from the stream, in order, without gaps.
  seq_list got;
  std::int64_t next = 11;
  for (int reads = 0; reads < 100 && next <= 1000; ++reads) {
    auto step = order.on_read("e1", 1000, msgs(next, std::min<std::int64_t>(next + 99, 1000)));
    for (auto s : seqs(step)) got.push_back(s);
    next = order.last() + 1;
    if (!step.read_needed) break;
  }
  CHECK(got.size() == 990);
  CHECK(got.front() == 11);
  CHECK(got.back() == 1000);
  for (std::size_t i = 1; i < got.size(); ++i) CHECK(got[i] == got[i - 1] + 1);
  CHECK_FALSE(order.waiting());
}

TEST_CASE("messages dropped before the first read are read from the stream after it", "[redis][order]") {
  delivery_order order(10);
  for (std::int64_t s = 6; s <= 40; ++s) order.on_message(msg(s), false);
  // The first read saw head 5 before those were published.
  auto step = order.on_read("e1", 5, {});
  CHECK(step.read_needed);
  step = order.on_read("e1", 40, msgs(6, 40));
  CHECK(seqs(step).size() == 35);
  CHECK_FALSE(step.read_needed);
}
