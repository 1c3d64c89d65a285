// The pieces under the Redis engine: the reconnect policy, the event loop and
// its timers, and hiredis driven by Asio, including a server that never answers.
#include "event_loop_sync.hpp"
#include "redis_fixture.hpp"
#include "storage/backoff.hpp"
#include "storage/redis_connection.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <set>

using namespace parley;
using parley::testing::on_loop;
using namespace std::chrono_literals;

namespace {

// A loopback socket that listens but never accepts: the kernel completes the
// handshake, and nothing ever answers.
struct silent_listener {
  int fd = -1;
  int port = 0;
  silent_listener() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd, 16);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ~silent_listener() { ::close(fd); }
};

result<redis_value> command_sync(event_loop& loop, redis_connection& c, std::vector<std::string> args) {
  std::promise<result<redis_value>> p;
  auto f = p.get_future();
  loop.post([&] { c.command(args, [&p](result<redis_value> r) { p.set_value(std::move(r)); }); });
  return f.get();
}

}  // namespace

TEST_CASE("the backoff grows by its multiplier from the initial delay up to the cap", "[redis]") {
  backoff b(backoff_policy{100ms, 1000ms, 2.0, 0.0}, 1);
  std::vector<std::int64_t> delays;
  for (int i = 0; i < 7; ++i) delays.push_back(b.next().count());
  CHECK(delays == std::vector<std::int64_t>{100, 200, 400, 800, 1000, 1000, 1000});
  CHECK(b.attempts() == 7);
}

TEST_CASE("backoff delays stay within the jitter below the base and are not all equal", "[redis]") {
  const backoff_policy policy{100ms, 800ms, 2.0, 0.5};
  std::set<std::int64_t> seen;
  for (std::uint64_t seed = 0; seed < 50; ++seed) {
    backoff b(policy, seed);
    for (int attempt = 0; attempt < 6; ++attempt) {
      double base = b.base_ms();
      auto d = b.next().count();
      CHECK(d >= static_cast<std::int64_t>(base * 0.5) - 1);
      CHECK(d <= static_cast<std::int64_t>(base));
      if (attempt == 0) seen.insert(d);
    }
  }
  // Fifty instances failing together do not retry in lockstep.
  CHECK(seen.size() > 10);
}

TEST_CASE("a reset backoff starts from the initial delay again", "[redis]") {
  backoff b(backoff_policy{10ms, 10000ms, 3.0, 0.0}, 7);
  for (int i = 0; i < 5; ++i) b.next();
  CHECK(b.base_ms() == Approx(2430));
  b.reset();
  CHECK(b.attempts() == 0);
  CHECK(b.next().count() == 10);
  CHECK(b.next().count() == 30);
}

TEST_CASE("a nonsensical backoff policy is made sane", "[redis]") {
  backoff b(backoff_policy{0ms, -5ms, 0.5, 7.0}, 3);
  CHECK(b.policy().initial.count() >= 1);
  CHECK(b.policy().max >= b.policy().initial);
  CHECK(b.policy().multiplier >= 1.0);
  CHECK(b.policy().jitter <= 1.0);
  for (int i = 0; i < 10; ++i) CHECK(b.next().count() >= 1);
}

TEST_CASE("loop timers run on the loop thread, and a cancelled or replaced one does not run", "[redis]") {
  event_loop loop;
  std::atomic<int> fired{0};
  std::atomic<bool> on_thread{false};
  std::promise<void> last;
  {
    loop_timer cancelled(loop), replaced(loop), kept(loop);
    on_loop(loop, [&] {
      cancelled.start(20ms, [&] { fired += 100; });
      cancelled.cancel();
      replaced.start(10ms, [&] { fired += 10; });
      replaced.start(30ms, [&] { fired += 1; });
      kept.start(60ms, [&] {
        on_thread = loop.in_loop_thread();
        last.set_value();
      });
    });
    REQUIRE(last.get_future().wait_for(5s) == std::future_status::ready);
    CHECK(fired == 1);
    CHECK(on_thread);
    CHECK_FALSE(loop.in_loop_thread());
    on_loop(loop, [] {});  // the timers are destroyed while the loop runs nothing of theirs
  }
  loop.join();
}

TEST_CASE("a command to a port where nothing listens fails as unavailable at once", "[redis]") {
  event_loop loop;
  int port = testing::free_loopback_port();
  {
    redis_connection c(loop, redis_endpoint{"127.0.0.1", port, 0}, 2000ms, backoff_policy{}, "test");
    on_loop(loop, [&] { c.start(); });
    auto started = std::chrono::steady_clock::now();
    auto r = command_sync(loop, c, {"PING"});
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::unavailable);
    CHECK(std::chrono::steady_clock::now() - started < 1500ms);
    on_loop(loop, [&] {
      CHECK_FALSE(c.connected());
      c.close();
    });
  }
  loop.join();
}

TEST_CASE("a command that gets no reply fails as unavailable after the timeout", "[redis]") {
  silent_listener server;
  event_loop loop;
  {
    redis_connection c(loop, redis_endpoint{"127.0.0.1", server.port, 0}, 300ms, backoff_policy{}, "test");
    on_loop(loop, [&] { c.start(); });
    auto started = std::chrono::steady_clock::now();
    auto r = command_sync(loop, c, {"PING"});
    auto waited = std::chrono::steady_clock::now() - started;
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::unavailable);
    CHECK(waited >= 250ms);
    CHECK(waited < 2000ms);
    on_loop(loop, [&] { c.close(); });
  }
  loop.join();
}

TEST_CASE("a connection answers commands in order and comes back by itself after Redis restarts", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  testing::redis_server redis;
  event_loop loop;
  std::atomic<int> ups{0}, downs{0};
  {
    redis_connection c(loop, redis_endpoint{"127.0.0.1", redis.port(), 0}, 2000ms,
                       backoff_policy{20ms, 200ms, 2.0, 0.2}, "test");
    on_loop(loop, [&] {
      c.on_state([&](bool up) { ++(up ? ups : downs); });
      c.start();
    });

    // Many commands in flight at once: every reply goes to its own command.
    constexpr int count = 500;
    std::vector<std::promise<result<redis_value>>> replies(count);
    on_loop(loop, [&] {
      for (int i = 0; i < count; ++i)
        c.command({"ECHO", std::string(i * 37 % 5000, 'x') + std::to_string(i)},
                  [&replies, i](result<redis_value> r) { replies[i].set_value(std::move(r)); });
    });
    for (int i = 0; i < count; ++i) {
      auto r = replies[i].get_future().get();
      REQUIRE(r);
      CHECK(r->str == std::string(i * 37 % 5000, 'x') + std::to_string(i));
    }
    auto arr = command_sync(loop, c, {"EVAL", "return {1, 'two', {3}}", "0"});
    REQUIRE(arr);
    REQUIRE(arr->is_array());
    CHECK(arr->elements.at(0).integer == 1);
    CHECK(arr->elements.at(1).str == "two");
    CHECK(arr->elements.at(2).elements.at(0).integer == 3);
    auto err = command_sync(loop, c, {"NOSUCHCOMMAND"});
    REQUIRE(err);
    CHECK(err->is_error());

    redis.kill();
    auto down = command_sync(loop, c, {"PING"});
    REQUIRE_FALSE(down);
    CHECK(down.err().code == errc::unavailable);
    redis.start();
    bool back = false;
    for (int i = 0; i < 200 && !back; ++i) {
      auto r = command_sync(loop, c, {"PING"});
      back = r && r->str == "PONG";
      if (!back) std::this_thread::sleep_for(20ms);
    }
    CHECK(back);
    CHECK(ups >= 2);
    CHECK(downs >= 1);
    on_loop(loop, [&] { c.close(); });
  }
  loop.join();
}

TEST_CASE("a connection selects the database of its endpoint", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  testing::redis_server redis;
  event_loop loop;
  {
    redis_connection c(loop, redis_endpoint{"127.0.0.1", redis.port(), 3}, 2000ms, backoff_policy{}, "test");
    on_loop(loop, [&] { c.start(); });
    REQUIRE(command_sync(loop, c, {"SET", "where", "db3"}));
    CHECK(redis.command({"GET", "where"}) == "(nil)");
    CHECK(command_sync(loop, c, {"GET", "where"})->str == "db3");
    on_loop(loop, [&] { c.close(); });
  }
  loop.join();
}

TEST_CASE("script hashes are the SHA-1 Redis computes", "[redis]") {
  CHECK(script_sha1("return 1") == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}
