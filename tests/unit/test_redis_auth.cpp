// Cluster mode that cannot be talked into losing data: credentials, the
// durability settings checked at connect, and scripts that stay in one hash slot.
#include "engine_contract.hpp"
#include "redis_fixture.hpp"
#include "storage/redis_engine.hpp"
#include "storage/redis_slot.hpp"

#include <catch2/catch.hpp>

#include <hiredis/hiredis.h>

#include <atomic>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

using namespace parley;
using namespace parley::testing;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<engine> start_engine(const std::string& url) {
  redis_engine_options options;
  options.url = url;
  options.instance = "auth-test";
  options.command_timeout = 2000ms;
  options.probe_interval = 200ms;
  return make_redis_engine(options);
}

bool becomes_ready(engine& e, std::chrono::milliseconds within = 15000ms) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (e.ready()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return e.ready();
}

// What the process logs to stderr while it lives.
struct captured_stderr {
  std::ostringstream text;
  std::streambuf* old;
  captured_stderr() : old(std::cerr.rdbuf(text.rdbuf())) {}
  ~captured_stderr() { std::cerr.rdbuf(old); }
  std::string str() { return text.str(); }
};

}  // namespace

TEST_CASE("redis: with --requirepass the engine authenticates on every connection and works", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis(true, {"--requirepass", "pw with spaces"}, {"AUTH", "pw with spaces"});
  auto e = start_engine("redis://:pw%20with%20spaces@127.0.0.1:" + std::to_string(redis.port()));
  REQUIRE(becomes_ready(*e));
  auto out = append_sync(*e, one(make_event("eng:auth", "u1", "hello")));
  REQUIRE(out);
  // The subscribe connection authenticated too: events come back through it.
  std::promise<result<void>> watched;
  e->watch("eng:auth", [&](result<void> r) { watched.set_value(std::move(r)); });
  CHECK(watched.get_future().get());
  // After a reconnect it authenticates again.
  CHECK(redis.command({"CLIENT", "KILL", "TYPE", "normal"}) != "0");
  bool stored = false;
  for (int i = 0; i < 500 && !stored; ++i) {
    stored = append_sync(*e, one(make_event("eng:auth", "u1", "again"))).ok();
    if (!stored) std::this_thread::sleep_for(20ms);
  }
  CHECK(stored);
}

TEST_CASE("redis: an ACL user and password are sent as AUTH user password", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  // Each word of an ACL rule is its own argument; the default user is switched off.
  redis_server redis(true, {"--user", "default", "off", "--user", "app", "on", ">apppw", "~parley:*", "&*", "+@all"},
                     {"AUTH", "app", "apppw"});
  auto e = start_engine("redis://app:apppw@127.0.0.1:" + std::to_string(redis.port()));
  REQUIRE(becomes_ready(*e));
  CHECK(append_sync(*e, one(make_event("eng:acl", "u1", "hello"))));
}

TEST_CASE("redis: a wrong password leaves the engine not ready, with a clear log line that holds no password",
          "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis(true, {"--requirepass", "right"}, {"AUTH", "right"});
  captured_stderr log;
  {
    auto e = start_engine("redis://:wrong-and-secret@127.0.0.1:" + std::to_string(redis.port()));
    CHECK_FALSE(becomes_ready(*e, 1000ms));
    auto out = append_sync(*e, one(make_event("eng:x", "u1", "hello")));
    REQUIRE_FALSE(out);
    CHECK(out.err().code == errc::unavailable);
  }
  auto text = log.str();
  CHECK(text.find("event=redis_handshake_failed") != std::string::npos);
  CHECK(text.find("WRONGPASS") != std::string::npos);
  CHECK(text.find("wrong-and-secret") == std::string::npos);
}

TEST_CASE("redis: without appendonly the engine is not ready and appends are unavailable", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis(false);
  captured_stderr log;
  {
    auto e = start_engine(redis.url());
    CHECK_FALSE(becomes_ready(*e, 1000ms));
    auto out = append_sync(*e, one(make_event("eng:x", "u1", "hello")));
    REQUIRE_FALSE(out);
    CHECK(out.err().code == errc::unavailable);
  }
  CHECK(log.str().find("event=redis_not_durable") != std::string::npos);
  CHECK(log.str().find("appendonly is no") != std::string::npos);
  CHECK(redis.command({"EXISTS", "parley:{eng:x}:events:eng:x"}) == "0");
}

TEST_CASE("redis: appendfsync everysec or an evicting policy is not durable enough", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  redis.command({"CONFIG", "SET", "appendfsync", "everysec"});
  {
    auto e = start_engine(redis.url());
    CHECK_FALSE(becomes_ready(*e, 1000ms));
  }
  redis.command({"CONFIG", "SET", "appendfsync", "always"});
  redis.command({"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"});
  {
    auto e = start_engine(redis.url());
    CHECK_FALSE(becomes_ready(*e, 1000ms));
  }
  redis.command({"CONFIG", "SET", "maxmemory-policy", "noeviction"});
  auto e = start_engine(redis.url());
  CHECK(becomes_ready(*e));
}

TEST_CASE("redis: a user that may not read the configuration leaves the engine not ready", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis(true, {"--user", "app", "on", ">apppw", "~*", "&*", "+@all", "-config"}, {});
  captured_stderr log;
  {
    auto e = start_engine("redis://app:apppw@127.0.0.1:" + std::to_string(redis.port()));
    CHECK_FALSE(becomes_ready(*e, 1000ms));
  }
  CHECK(log.str().find("CONFIG GET refused") != std::string::npos);
}

TEST_CASE("the hash slot of a key follows Redis Cluster's CRC16 and hash tags", "[redis]") {
  CHECK(redis_key_slot("123456789") == 0x31C3 % 16384);
  CHECK(redis_key_slot("foo") == 12182);
  CHECK(redis_key_slot("{user1000}.following") == redis_key_slot("{user1000}.followers"));
  CHECK(redis_key_slot("foo{}{bar}") == redis_key_slot("foo{}{bar}"));
  CHECK(redis_key_slot("foo{}{bar}") != redis_key_slot("bar"));  // an empty tag: the whole key
  CHECK(redis_key_slot("parley:{eng:42}:meta:eng:42") == redis_key_slot("parley:{eng:42}:log"));
}

namespace {

// Reads MONITOR lines and takes the quoted arguments of each.
std::vector<std::string> monitor_args(const std::string& line) {
  std::vector<std::string> out;
  std::size_t i = line.find('"');
  while (i != std::string::npos && i < line.size()) {
    std::string arg;
    std::size_t j = i + 1;
    for (; j < line.size() && line[j] != '"'; ++j) {
      if (line[j] == '\\' && j + 1 < line.size()) {
        ++j;
        if (line[j] == 'x' && j + 2 < line.size()) j += 2;
      }
      arg += line[j];
    }
    out.push_back(arg);
    i = line.find('"', j + 1);
  }
  return out;
}

}  // namespace

TEST_CASE("redis: every script call keeps its keys in one hash slot", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  timeval timeout{5, 0};
  redisContext* mon = redisConnectWithTimeout("127.0.0.1", redis.port(), timeout);
  REQUIRE((mon && !mon->err));
  redisSetTimeout(mon, timeout);
  freeReplyObject(redisCommand(mon, "MONITOR"));

  {
    auto e = start_engine(redis.url());
    REQUIRE(becomes_ready(*e));
    std::promise<result<void>> watched;
    e->watch("eng:s", [&](result<void> r) { watched.set_value(std::move(r)); });
    REQUIRE(watched.get_future().get());
    REQUIRE(append_sync(*e, one(make_event("eng:s", "u1", "m", "c1"))));
    REQUIRE(append_sync(*e, one(make_event("eng:s", "u1", "m", "c1"))));  // duplicate
    append_request both;
    both.events.push_back(make_event("eng:s", "u1", "main"));
    both.events.push_back(make_event("eng:s:mediation", "u1", "mediation"));
    both.expect_heads = {{"eng:s", 1}};
    REQUIRE(append_sync(*e, std::move(both)));
    auto with_record = one(make_event("eng:s", "u2", "decision"));
    with_record.record = record_draft{{{"eng", "s"}, {"topic", "phase"}}, 0};
    REQUIRE(append_sync(*e, std::move(with_record)));
    REQUIRE(append_sync(*e, one(make_event("support", "s1", "note"))));
    REQUIRE(read_window(*e, "eng:s", 0, std::nullopt, 10));
    REQUIRE(records_sync(*e, "s"));
    std::promise<void> found;
    e->find_by_cid("eng:s", "u1", "c1", [&](auto) { found.set_value(); });
    found.get_future().wait();
    e->set_read_marker("u1", "eng:s", 3);
    REQUIRE(head_of(*e, "eng:s"));  // ordered after the marker on the one connection
  }
  redis.command({"ECHO", "parley-monitor-end"});

  int scripts = 0;
  bool listed = false;
  for (;;) {
    void* raw = nullptr;
    if (redisGetReply(mon, &raw) != REDIS_OK || !raw) break;
    auto* reply = static_cast<redisReply*>(raw);
    std::string line(reply->str ? reply->str : "", reply->str ? reply->len : 0);
    freeReplyObject(reply);
    if (line.find("parley-monitor-end") != std::string::npos) break;
    auto args = monitor_args(line);
    if (args.size() >= 2 && args[0] == "SADD" && args[1] == "parley:engagements") listed = true;
    if (args.size() < 3 || (args[0] != "EVALSHA" && args[0] != "EVAL")) continue;
    ++scripts;
    int numkeys = std::stoi(args[2]);
    REQUIRE(static_cast<int>(args.size()) >= 3 + numkeys);
    INFO(line.substr(0, 300));
    for (int k = 1; k < numkeys; ++k) CHECK(redis_key_slot(args[3 + k]) == redis_key_slot(args[3]));
  }
  redisFree(mon);
  CHECK(scripts >= 8);
  CHECK(listed);  // the untagged set is written by a command of its own
}

TEST_CASE("redis: operations past the in-flight cap are answered unavailable at once", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  redis_engine_options options;
  options.url = redis.url();
  options.instance = "cap-test";
  options.command_timeout = 5000ms;
  options.max_in_flight = 5;
  auto e = make_redis_engine(options);
  REQUIRE(becomes_ready(*e));
  // Redis holds every client's commands for a while: what the engine sent stays in flight.
  REQUIRE(redis.command({"CLIENT", "PAUSE", "1500", "ALL"}) == "OK");
  std::atomic<int> ok{0}, busy{0}, answered{0};
  std::vector<std::chrono::steady_clock::time_point> busy_at;
  std::mutex m;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i)
    e->append(one(make_event("eng:cap", "u1", "m" + std::to_string(i))), [&](result<appended> out) {
      if (out) {
        ++ok;
      } else if (out.err().code == errc::unavailable) {
        ++busy;
        std::lock_guard lock(m);
        busy_at.push_back(std::chrono::steady_clock::now());
      }
      ++answered;
    });
  for (int i = 0; i < 500 && answered < 20; ++i) std::this_thread::sleep_for(10ms);
  CHECK(answered == 20);
  CHECK(ok == 5);
  CHECK(busy == 15);
  // The refusals did not wait for Redis.
  std::lock_guard lock(m);
  for (auto t : busy_at) CHECK(t - start < 1000ms);
}

TEST_CASE("redis: frames published by others are parsed and written again, malformed ones never reach the sinks",
          "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  auto e = start_engine(redis.url());
  REQUIRE(becomes_ready(*e));
  std::mutex m;
  std::vector<std::string> events, pushes;
  e->set_sink([&](const committed_event& ev) {
    std::lock_guard lock(m);
    events.push_back(*ev.json);
  });
  e->set_ephemeral_sink([&](const std::string&, std::shared_ptr<const std::string> frame) {
    std::lock_guard lock(m);
    pushes.push_back(*frame);
  });
  std::promise<result<void>> watched;
  e->watch("eng:m", [&](result<void> r) { watched.set_value(std::move(r)); });
  REQUIRE(watched.get_future().get());
  const std::string pub = "parley:{eng:m}:pub:eng:m";
  const std::string epoch = head_of(*e, "eng:m")->epoch;

  // Seq 1 claimed by a frame that is not an event, and by one of another channel.
  redis.command({"PUBLISH", pub, "1 1000 " + epoch + " {not json"});
  redis.command({"PUBLISH", pub,
                 "1 1000 " + epoch +
                     R"( {"ev":"event","ch":"eng:other","seq":1,"kind":"message","from":{"id":"x","name":"","role":"client"},"ts":1000,"body":{"text":"forged"}})"});
  redis.command({"PUBLISH", pub, "e someone {\"ev\":\"typing\",\"ch\":\"eng:m\"}"});
  redis.command({"PUBLISH", pub,
                 R"(e someone {"ev":"typing","ch":"eng:m","user":{"id":"u9","name":"N","role":"client"},"x":"<b>"})"});
  auto out = append_sync(*e, one(make_event("eng:m", "u1", "real")));
  REQUIRE(out);
  for (int i = 0; i < 300; ++i) {
    {
      std::lock_guard lock(m);
      if (!events.empty() && !pushes.empty()) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  {
    std::lock_guard lock(m);
    REQUIRE(events.size() == 1);
    CHECK(events[0] == *out->committed[0].json);
    REQUIRE(pushes.size() == 1);
    CHECK(pushes[0] == R"({"ev":"typing","ch":"eng:m","user":{"id":"u9","name":"N","role":"client"}})");
  }
  // An event of another instance arrives through pub/sub, re-serialised to the same bytes.
  auto other = start_engine(redis.url());
  REQUIRE(becomes_ready(*other));
  auto theirs = append_sync(*other, one(make_event("eng:m", "u2", "from elsewhere \"quoted\" ü")));
  REQUIRE(theirs);
  for (int i = 0; i < 300; ++i) {
    {
      std::lock_guard lock(m);
      if (events.size() >= 2) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  std::lock_guard lock(m);
  REQUIRE(events.size() == 2);
  CHECK(events[1] == *theirs->committed[0].json);
}

TEST_CASE("redis: settings changed while connected are noticed, and the engine is ready again once they are back",
          "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  redis_server redis;
  redis_engine_options options;
  options.url = redis.url();
  options.instance = "recheck-test";
  options.probe_interval = 50ms;
  options.durability_recheck = 100ms;
  auto e = make_redis_engine(options);
  REQUIRE(becomes_ready(*e));
  REQUIRE(redis.command({"CONFIG", "SET", "appendonly", "no"}) == "OK");
  bool went_unready = false;
  for (int i = 0; i < 300 && !went_unready; ++i) {
    went_unready = !e->ready();
    std::this_thread::sleep_for(10ms);
  }
  CHECK(went_unready);
  auto refused = append_sync(*e, one(make_event("eng:re", "u1", "not now")));
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::unavailable);
  REQUIRE(redis.command({"CONFIG", "SET", "appendonly", "yes"}) == "OK");
  CHECK(becomes_ready(*e));
  CHECK(append_sync(*e, one(make_event("eng:re", "u1", "now"))));
}
