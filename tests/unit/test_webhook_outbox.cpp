// The webhook outbox of the embedded engine (webhook_contract.hpp).
#include "webhook_contract.hpp"
#include "storage/local_engine.hpp"
#include "test_processes.hpp"

#include <catch2/catch.hpp>

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
