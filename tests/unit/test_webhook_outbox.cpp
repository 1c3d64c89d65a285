// The webhook outbox of the embedded engine (webhook_contract.hpp).
#include "webhook_contract.hpp"
#include "storage/local_engine.hpp"
#include "test_processes.hpp"

#include <catch2/catch.hpp>

#include <sqlite3.h>

using namespace parley;
using namespace parley::testing;

namespace {

std::unique_ptr<engine> open_outbox(const std::filesystem::path& db, bool webhooks = true) {
  local_engine_options options;
  options.db_path = db;
  options.webhooks = webhooks;
  return make_local_engine(options);
}

}  // namespace

TEST_CASE("an append stores the hooks it causes in its transaction, and a refused one none", "[webhooks]") {
  temp_dir dir("parley-webhooks-");
  auto e = open_outbox(dir.path / "parley.db");
  check_hooks_stored_with_append(*e);
}

TEST_CASE("claims lease one queue per engagement, first entry only, until the lease lapses", "[webhooks]") {
  temp_dir dir("parley-webhooks-");
  auto e = open_outbox(dir.path / "parley.db");
  check_claims(*e);
}

TEST_CASE("a retried hook keeps its place, a failed one lets the next through and can be re-queued",
          "[webhooks]") {
  temp_dir dir("parley-webhooks-");
  auto e = open_outbox(dir.path / "parley.db");
  check_retry_and_failure(*e);
}

TEST_CASE("hooks are listed by state a page at a time and counted", "[webhooks]") {
  temp_dir dir("parley-webhooks-");
  auto e = open_outbox(dir.path / "parley.db");
  check_listing_and_stats(*e);
}

TEST_CASE("enqueued hooks join the end of their queue and a known id is left as it was", "[webhooks]") {
  temp_dir dir("parley-webhooks-");
  auto e = open_outbox(dir.path / "parley.db");
  check_enqueue(*e);
}

TEST_CASE("without webhooks nothing is stored", "[webhooks]") {
  temp_dir dir("parley-webhooks-");
  auto e = open_outbox(dir.path / "parley.db", false);
  check_webhooks_off(*e);
}

TEST_CASE("hooks survive a reopen with their state", "[webhooks]") {
  temp_dir dir("parley-webhooks-");
  std::vector<webhook_entry> before;
  {
    auto e = open_outbox(dir.path / "parley.db");
    hook(*e, "a", "agreement");
    hook(*e, "a", "active");
    before = pending(*e);
    auto claimed = claim_sync(*e, "s", wall_ms() + 1000);
    REQUIRE(claimed);
    finish_ok(*e, "s", claimed->at(0), retry_at(wall_ms(), wall_ms() + 1, "timeout"));
  }
  auto e = open_outbox(dir.path / "parley.db");
  auto after = pending(*e);
  REQUIRE(after.size() == 2);
  CHECK(ids_of(after) == ids_of(before));
  CHECK(after[0].attempts == 1);
  CHECK(after[0].last_error == "timeout");
}

TEST_CASE("an append that fails after its hooks were written keeps none of them", "[webhooks]") {
  temp_dir dir("parley-webhooks-");
  auto e = open_outbox(dir.path / "parley.db");
  // A sealed payload already where the append's would go: its insert, after
  // the hooks', fails, and the append's savepoint is rolled back.
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open((dir.path / "parley.db").string().c_str(), &raw) == SQLITE_OK);
  sqlite3_busy_timeout(raw, 5000);
  REQUIRE(sqlite3_exec(raw, "INSERT INTO sealed (ch, seq, payload) VALUES ('eng:a', 1, 'x')", nullptr, nullptr,
                       nullptr) == SQLITE_OK);
  sqlite3_close(raw);

  append_request req = one(phase_event("a", "active", "completion"));
  req.sealed = "payload";
  REQUIRE_FALSE(append_sync(*e, std::move(req)));
  CHECK(pending(*e).empty());
  CHECK(head_of(*e, "eng:a")->head == 0);

  hook(*e, "a", "completion");
  CHECK(pending(*e).size() == 1);
}

TEST_CASE("delivered hooks are listed for the retention period, then pruned", "[webhooks]") {
  temp_dir dir("parley-webhooks-");
  auto e = open_outbox(dir.path / "parley.db");
  check_retention(*e);
}
