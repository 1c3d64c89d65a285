// The append core both engines share (storage/append_plan.hpp), without a database.
#include "storage/append_plan.hpp"
#include "storage/refusals.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

using namespace parley;

namespace {

event make_event(std::string ch, std::string kind = "message") {
  event ev;
  ev.ch = std::move(ch);
  ev.kind = std::move(kind);
  ev.from = user{"c1", "Client", user_role::client};
  ev.body = {{"text", "hi"}};
  return ev;
}

append_request request_of(std::vector<event> events) {
  append_request req;
  req.events = std::move(events);
  return req;
}

}  // namespace

TEST_CASE("check_append refuses requests no engine can store", "[storage][append_plan]") {
  CHECK(check_append(request_of({make_event("eng:a")})).ok());

  auto empty = check_append(append_request{});
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.err().code == errc::internal);
  CHECK(empty.err().message == "append without events");

  auto nowhere = request_of({make_event("eng:a")});
  nowhere.record = record_draft{{{"eng", "a"}}, 1};
  REQUIRE_FALSE(check_append(nowhere).ok());
  CHECK(check_append(nowhere).err().message == "decision record attached to no event");

  auto no_eng = request_of({make_event("eng:a")});
  no_eng.record = record_draft{{{"topic", "agreement"}}, 0};
  REQUIRE_FALSE(check_append(no_eng).ok());
  CHECK(check_append(no_eng).err().message == "decision record without eng");

  no_eng.record->fields["eng"] = "";
  CHECK_FALSE(check_append(no_eng).ok());
}

TEST_CASE("plan_append gives each channel its next seqs and the request one ts", "[storage][append_plan]") {
  std::map<std::string, channel_head> heads{{"eng:a", {4, 1000}}, {"eng:a:mediation", {0, 0}}};
  auto plan = plan_append({make_event("eng:a"), make_event("eng:a:mediation"), make_event("eng:a", "phase")},
                          std::nullopt, heads, 2000, log_tail{}, nullptr);
  REQUIRE(plan.events.size() == 3);
  CHECK(plan.events[0].seq == 5);
  CHECK(plan.events[1].seq == 1);
  CHECK(plan.events[2].seq == 6);
  CHECK(plan.ts == 2000);
  for (const auto& ev : plan.events) CHECK(ev.ts == 2000);
  CHECK(plan.heads.at("eng:a").seq == 6);
  CHECK(plan.heads.at("eng:a").ts == 2000);
  CHECK(plan.heads.at("eng:a:mediation").seq == 1);
  CHECK_FALSE(plan.record);

  // A channel missing from `heads` is empty.
  auto fresh = plan_append({make_event("support")}, std::nullopt, {}, 7, log_tail{}, nullptr);
  CHECK(fresh.events[0].seq == 1);
  CHECK(fresh.heads.at("support").seq == 1);
}

TEST_CASE("plan_append never gives a ts older than a head it appends to", "[storage][append_plan]") {
  // The clock stepped back: the request keeps the newer head's ts.
  std::map<std::string, channel_head> heads{{"eng:a", {2, 5000}}, {"eng:b", {9, 9000}}};
  auto plan = plan_append({make_event("eng:a")}, std::nullopt, heads, 3000, log_tail{}, nullptr);
  CHECK(plan.ts == 5000);  // eng:b is not appended to: its ts does not count
  CHECK(append_ts(3000, {{2, 5000}, {9, 9000}}) == 9000);
  CHECK(append_ts(10000, {{2, 5000}}) == 10000);
}

TEST_CASE("plan_append completes the decision record and summarises it in the attached event",
          "[storage][append_plan]") {
  std::map<std::string, channel_head> heads{{"eng:a", {7, 100}}};
  record_draft draft{{{"eng", "a"}, {"ch", "eng:a"}, {"topic", "timeline"}, {"terms", {{"weeks", 3}}}}, 1};
  log_tail tail{2, std::string(64, 'b')};
  auto plan = plan_append({make_event("eng:a", "accept"), make_event("eng:a", "phase")}, draft, heads, 500, tail,
                          nullptr);
  REQUIRE(plan.record);
  CHECK(plan.record->eng == "a");
  CHECK(plan.record->n == 3);

  auto stored = boost::json::parse(plan.record->json).as_object();
  CHECK(stored.at("n").as_int64() == 3);
  CHECK(stored.at("prev").as_string() == tail.hash);
  CHECK(stored.at("ts").as_int64() == 500);
  CHECK(stored.at("decision_seq").as_int64() == 9);  // the attached event's seq
  CHECK(stored.at("hash").as_string() == plan.record->hash);
  CHECK(record_hash(stored) == plan.record->hash);
  CHECK_FALSE(stored.contains("sig"));

  const auto& summary = plan.events[1].body.at("record").as_object();
  CHECK(summary.at("n").as_int64() == 3);
  CHECK(summary.at("hash").as_string() == plan.record->hash);
  CHECK(summary.at("prev").as_string() == tail.hash);
  CHECK_FALSE(plan.events[0].body.contains("record"));

  // The first record of a log chains to the genesis prev.
  auto first = plan_append({make_event("eng:a", "accept")}, record_draft{{{"eng", "a"}}, 0}, heads, 500, log_tail{},
                           nullptr);
  CHECK(first.record->n == 1);
  CHECK(boost::json::parse(first.record->json).as_object().at("prev").as_string() == genesis_prev);
  CHECK(verify_chain({boost::json::parse(first.record->json).as_object()}));
}

TEST_CASE("plan_append signs the record with the signer", "[storage][append_plan]") {
  auto key = ed25519_key::from_seed(std::string(32, 'k'));
  REQUIRE(key);
  auto plan = plan_append({make_event("eng:a", "accept")}, record_draft{{{"eng", "a"}}, 0}, {}, 1, log_tail{},
                          &key.value());
  auto stored = boost::json::parse(plan.record->json).as_object();
  CHECK(stored.at("kid").as_string() == key->kid());
  key_set keys;
  keys.add(*key);
  CHECK(check_record_signature(stored, keys));
}

TEST_CASE("touched_channels lists event channels first, then expect-only ones, each once",
          "[storage][append_plan]") {
  auto req = request_of({make_event("eng:a"), make_event("eng:a:mediation"), make_event("eng:a")});
  req.expect_heads = {{"eng:a", 3}, {"eng:b", 1}};
  CHECK(touched_channels(req) == std::vector<std::string>{"eng:a", "eng:a:mediation", "eng:b"});
}

TEST_CASE("stale_head, storage_stopping and storage_busy say what happened", "[storage][append_plan]") {
  auto stale = stale_head("eng:a", 4, 3);
  CHECK(stale.code == errc::conflict);
  CHECK(stale.message == "eng:a moved on (head 4, expected 3)");
  CHECK(storage_stopping().code == errc::unavailable);
  CHECK(storage_stopping().message == "storage is stopping");
  CHECK(storage_busy().code == errc::unavailable);
}

TEST_CASE("committed events carry the event parsed", "[storage][append_plan]") {
  event ev = make_event("eng:a");
  ev.seq = 3;
  ev.ts = 44;
  auto json = std::make_shared<const std::string>(serialize_event(ev));
  auto own = own_commit(ev, json);
  REQUIRE(own.event);
  CHECK(own.ch == "eng:a");
  CHECK(own.seq == 3);
  CHECK(own.ts == 44);
  CHECK(serialize_event(*own.event) == *own.json);

  auto stored = stored_commit("eng:a", 3, 44, *json);
  REQUIRE(stored.event);
  CHECK(stored.event->body.at("text").as_string() == "hi");
  CHECK(*stored.json == *json);

  auto broken = stored_commit("eng:a", 3, 44, "not json");
  CHECK_FALSE(broken.event);
  CHECK(*broken.json == "not json");
}
