// An engagement's index of uploaded files (protocol §9.6) on both engines: an
// add is new once, the running total counts distinct files, the quota refuses
// a file past it, and a hash is found only for the engagement it was added to.
#include "redis_fixture.hpp"
#include "storage/local_engine.hpp"
#include "storage/redis_engine.hpp"
#include "storage/redis_keys.hpp"
#include "storage/redis_slot.hpp"

#include <catch2/catch.hpp>

#include "test_processes.hpp"

#include <filesystem>
#include <future>
#include <thread>

using namespace parley;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

result<file_added> add_sync(engine& e, const std::string& eng, file_entry f, std::uint64_t max_total) {
  std::promise<result<file_added>> p;
  auto fut = p.get_future();
  e.add_file(eng, std::move(f), max_total, [&p](result<file_added> r) { p.set_value(std::move(r)); });
  return fut.get();
}

result<file_lookup> find_sync(engine& e, const std::string& eng, std::vector<std::string> hashes) {
  std::promise<result<file_lookup>> p;
  auto fut = p.get_future();
  e.find_files(eng, std::move(hashes), [&p](result<file_lookup> r) { p.set_value(std::move(r)); });
  return fut.get();
}

file_entry entry(char digit, std::uint64_t size, std::string name = "report.pdf") {
  return file_entry{std::string(64, digit), std::move(name), size, "application/pdf", "alice", 1700000000000};
}

void check_file_index(engine& e) {
  auto first = add_sync(e, "a", entry('1', 100), 1000);
  REQUIRE(first);
  CHECK(first->added);
  CHECK(first->total == 100);

  // The same bytes again (under another name): nothing added, the first entry answers.
  auto again = add_sync(e, "a", entry('1', 100, "copy.pdf"), 1000);
  REQUIRE(again);
  CHECK_FALSE(again->added);
  CHECK(again->entry.name == "report.pdf");
  CHECK(again->total == 100);

  REQUIRE(add_sync(e, "a", entry('2', 900), 1000));
  auto over = add_sync(e, "a", entry('3', 1), 1000);
  REQUIRE_FALSE(over);
  CHECK(over.err().code == errc::too_large);

  auto found = find_sync(e, "a", {std::string(64, '1'), std::string(64, '3'), std::string(64, '2')});
  REQUIRE(found);
  CHECK(found->total == 1000);
  REQUIRE(found->found.size() == 2);
  for (const auto& f : found->found) {
    CHECK(f.type == "application/pdf");
    CHECK(f.by == "alice");
    CHECK(f.ts == 1700000000000);
    CHECK((f.sha256 == std::string(64, '1') ? f.size == 100 : f.size == 900));
  }

  // Engagement b never had these files.
  auto other = find_sync(e, "b", {std::string(64, '1')});
  REQUIRE(other);
  CHECK(other->found.empty());
  CHECK(other->total == 0);
  auto in_b = add_sync(e, "b", entry('1', 100), 0);
  REQUIRE(in_b);
  CHECK(in_b->added);
  CHECK(in_b->total == 100);
}

// Each test's own directory.
struct temp_dir : parley::testing::temp_dir {
  temp_dir() : parley::testing::temp_dir("parley-files-") {}
};

}  // namespace

TEST_CASE("the embedded engine indexes an engagement's files with a running total and a quota", "[storage]") {
  temp_dir dir;
  {
    local_engine_options options;
    options.db_path = dir.path / "parley.db";
    auto e = make_local_engine(options);
    check_file_index(*e);
    e->stop();
  }
  // Durable: a reopened database still has them.
  local_engine_options options;
  options.db_path = dir.path / "parley.db";
  auto e = make_local_engine(options);
  auto found = find_sync(*e, "a", {std::string(64, '2')});
  REQUIRE(found);
  CHECK(found->found.size() == 1);
  CHECK(found->total == 1000);
  e->stop();
}

TEST_CASE("redis: the engine indexes an engagement's files with a running total and a quota", "[redis]") {
  PARLEY_REQUIRE_REDIS_SERVER();
  parley::testing::redis_server redis;
  redis_engine_options options;
  options.url = redis.url();
  options.instance = "test";
  auto e = make_redis_engine(options);
  for (int i = 0; i < 500 && !e->ready(); ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(e->ready());
  check_file_index(*e);
  e->stop();
}

TEST_CASE("redis: an engagement's files key shares the slot of its channels (Cluster)", "[storage]") {
  CHECK(files_key("42") == "parley:{eng:42}:files");
  CHECK(redis_key_slot(files_key("42")) == redis_key_slot(channel_key("eng:42", "meta")));
  CHECK(redis_key_slot(files_key("42")) == redis_key_slot(log_key("42")));
}
