// The fan-out (server/fanout): events reach only the workers that have members
// of the channel, and a state push reaches each member of the engagement's
// channels once, after the event, and not before a join's window is read.
#include "server/fanout.hpp"

#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

using namespace parley;

namespace {

// A member that records what reaches it.
class recorder : public member {
 public:
  explicit recorder(std::string user_id) { claims_.who.id = std::move(user_id); }

  void deliver(const std::string& ch, std::int64_t seq, const std::shared_ptr<const std::string>&) override {
    got.push_back("event " + ch + " " + std::to_string(seq));
  }
  void push(std::shared_ptr<const std::string> frame) override {
    got.push_back(*frame);
    frames.push_back(std::move(frame));
  }
  bool live_on(const std::string& ch) const override { return live.count(ch) > 0; }
  const claims& reader() const override { return claims_; }
  void revoked(const revocation&) override {}
  void going_away() override {}
  void sweep(std::chrono::steady_clock::time_point, std::int64_t) override { ++sweeps; }
  void flush() override {
    if (flushes) flushes->push_back(claims_.who.id);
  }

  std::vector<std::string> got;
  std::vector<std::shared_ptr<const std::string>> frames;  // the pushed frames themselves
  std::set<std::string> live;
  int sweeps = 0;
  std::vector<std::string>* flushes = nullptr;  // where flush() says who it is

 private:
  claims claims_;
};

// Runs what was posted to `w`; the number of handlers run.
std::size_t run(worker& w) {
  w.ioc.restart();
  return w.ioc.poll();
}

committed_event event_of(std::string ch, std::int64_t seq) {
  return committed_event{std::move(ch), seq, 0, std::make_shared<const std::string>("{}")};
}

// A push whose `can` is the reader's id: each member gets its own frame.
state_push push_for(std::string eng) {
  return state_push{eng, [](const claims& reader) { return std::vector<std::string>{reader.who.id}; },
                    [eng](const std::vector<std::string>& can) {
                      return std::make_shared<const std::string>("state " + eng + " for " + can.at(0));
                    }};
}

}  // namespace

TEST_CASE("an event is posted only to workers with members of its channel", "[server][fanout]") {
  fanout f(2);
  auto& w0 = *f.workers()[0];
  auto& w1 = *f.workers()[1];
  auto a = std::make_shared<recorder>("a");
  f.add(w0, "eng:1", a);
  f.deliver(event_of("eng:1", 1), std::nullopt);
  CHECK(run(w0) == 1);
  CHECK(run(w1) == 0);
  CHECK(a->got == std::vector<std::string>{"event eng:1 1"});

  f.remove(w0, "eng:1", *a);
  f.deliver(event_of("eng:1", 2), std::nullopt);
  CHECK(run(w0) == 0);
  CHECK(a->got.size() == 1);
}

TEST_CASE("a state push reaches each member of the engagement once, after the event", "[server][fanout]") {
  fanout f(2);
  auto& w0 = *f.workers()[0];
  auto& w1 = *f.workers()[1];
  auto both = std::make_shared<recorder>("both");  // joined to main and mediation
  both->live = {"eng:7", "eng:7:mediation"};
  f.add(w0, "eng:7", both);
  f.add(w0, "eng:7:mediation", both);
  auto main_only = std::make_shared<recorder>("main");
  main_only->live = {"eng:7"};
  f.add(w1, "eng:7", main_only);

  f.deliver(event_of("eng:7:mediation", 3), push_for("7"));
  run(w0);
  run(w1);
  CHECK(both->got == std::vector<std::string>{"event eng:7:mediation 3", "state 7 for both"});
  CHECK(main_only->got == std::vector<std::string>{"state 7 for main"});
}

TEST_CASE("a member whose join of the event's channel is still reading gets no state push", "[server][fanout]") {
  fanout f(1);
  auto& w = *f.workers()[0];
  auto joining = std::make_shared<recorder>("joining");
  joining->live = {"eng:8:mediation"};  // main still reading its window
  f.add(w, "eng:8", joining);
  f.add(w, "eng:8:mediation", joining);
  f.deliver(event_of("eng:8", 4), push_for("8"));
  run(w);
  CHECK(joining->got == std::vector<std::string>{"event eng:8 4"});
}

TEST_CASE("members whose can is the same share one state frame, built once per worker", "[server][fanout]") {
  fanout f(1);
  auto& w = *f.workers()[0];
  std::vector<std::shared_ptr<recorder>> members;
  for (const auto* id : {"client-a", "client-b", "expert"}) {
    members.push_back(std::make_shared<recorder>(id));
    members.back()->live = {"eng:9"};
    f.add(w, "eng:9", members.back());
  }
  int built = 0;
  // The two clients may do the same; the expert something else.
  state_push push{"9",
                  [](const claims& reader) {
                    return std::vector<std::string>{reader.who.id == "expert" ? "propose:phase" : "message"};
                  },
                  [&built](const std::vector<std::string>& can) {
                    ++built;
                    return std::make_shared<const std::string>("state with " + can.at(0));
                  }};
  f.deliver(event_of("eng:9", 5), push);
  run(w);
  CHECK(built == 2);
  REQUIRE(members[0]->frames.size() == 1);
  REQUIRE(members[1]->frames.size() == 1);
  REQUIRE(members[2]->frames.size() == 1);
  CHECK(members[0]->frames[0] == members[1]->frames[0]);
  CHECK(*members[0]->frames[0] == "state with message");
  CHECK(*members[2]->frames[0] == "state with propose:phase");
}

TEST_CASE("the sweep visits every connection of each worker once a period, joined or not", "[server][fanout]") {
  fanout f(2);
  auto& w0 = *f.workers()[0];
  auto& w1 = *f.workers()[1];
  auto joined = std::make_shared<recorder>("a");
  auto idle = std::make_shared<recorder>("b");
  auto other = std::make_shared<recorder>("c");
  w0.members.emplace(joined.get(), joined);
  w0.members.emplace(idle.get(), idle);
  w1.members.emplace(other.get(), other);
  f.add(w0, "eng:1", joined);
  const auto period = std::chrono::milliseconds(20);
  const auto started = std::chrono::steady_clock::now();
  f.start_sweeps(period);
  auto swept = [&](int n) { return joined->sweeps >= n && idle->sweeps >= n && other->sweeps >= n; };
  while (!swept(3) && std::chrono::steady_clock::now() - started < std::chrono::seconds(10)) {
    w0.ioc.run_one_for(std::chrono::milliseconds(5));
    w1.ioc.run_one_for(std::chrono::milliseconds(5));
  }
  REQUIRE(swept(3));
  // Never more often than the period: three sweeps take three periods at least.
  CHECK(std::chrono::steady_clock::now() - started >= 3 * period);

  // A connection that is gone is not swept any more.
  w0.members.erase(idle.get());
  const int before = idle->sweeps;
  while (joined->sweeps < before + 2 && std::chrono::steady_clock::now() - started < std::chrono::seconds(20))
    w0.ioc.run_one_for(std::chrono::milliseconds(5));
  CHECK(joined->sweeps >= before + 2);
  CHECK(idle->sweeps == before);
}

TEST_CASE("a member that closes during the sweep leaves it, and the others are still swept", "[server][fanout]") {
  // Closes at its first sweep: it leaves its worker's members then and there.
  class closing_at_sweep : public recorder {
   public:
    closing_at_sweep(worker& w) : recorder("closing"), w_(w) {}
    void sweep(std::chrono::steady_clock::time_point t, std::int64_t ms) override {
      recorder::sweep(t, ms);
      w_.members.erase(this);
    }

   private:
    worker& w_;
  };
  fanout f(1);
  auto& w = *f.workers()[0];
  std::vector<std::shared_ptr<recorder>> all;
  for (int i = 0; i < 8; ++i) {
    all.push_back(i % 2 ? std::make_shared<recorder>("r" + std::to_string(i))
                        : std::static_pointer_cast<recorder>(std::make_shared<closing_at_sweep>(w)));
    w.members.emplace(all.back().get(), all.back());
  }
  f.start_sweeps(std::chrono::milliseconds(10));
  const auto started = std::chrono::steady_clock::now();
  auto every_swept = [&] {
    for (auto& m : all)
      if (m->sweeps == 0) return false;
    return true;
  };
  while (!every_swept() && std::chrono::steady_clock::now() - started < std::chrono::seconds(10))
    w.ioc.run_one_for(std::chrono::milliseconds(5));
  REQUIRE(every_swept());
  REQUIRE(w.members.size() == 4);
}

TEST_CASE("flushes run once the round's handlers have, replies first", "[server][fanout]") {
  worker w;
  std::vector<std::string> flushed;
  auto a = std::make_shared<recorder>("a");
  auto b = std::make_shared<recorder>("b");
  auto c = std::make_shared<recorder>("c");
  for (auto* m : {a.get(), b.get(), c.get()}) m->flushes = &flushed;
  // A handler already queued (the rest of a fan-out) runs before the flushes.
  boost::asio::post(w.ioc, [&] { flushed.push_back("handler"); });
  w.flush_later(a);
  w.flush_later(b, true);
  w.flush_later(c);
  REQUIRE(run(w) == 2);
  REQUIRE(flushed == std::vector<std::string>{"handler", "b", "a", "c"});
  // A flush asked for during the flushes goes to the next round.
  flushed.clear();
  a->flushes = nullptr;
  w.flush_later(a);
  boost::asio::post(w.ioc, [&] { w.flush_later(b); });
  REQUIRE(run(w) == 3);
  REQUIRE(flushed == std::vector<std::string>{"b"});
}
