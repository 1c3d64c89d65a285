// The hooks an append causes (protocol §9.8): one entry per phase, delivery,
// flag and sla event and per decision record, engagement.completed on a
// close, each with a stable id and the body POSTed byte for byte.
#include "protocol/engagement.hpp"
#include "storage/append_plan.hpp"
#include "storage/webhook_hooks.hpp"

#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <map>

using namespace parley;
using boost::json::object;

namespace {

event make(std::string ch, std::string kind, object body, std::string by = "u1", user_role role = user_role::client) {
  event ev;
  ev.ch = std::move(ch);
  ev.kind = std::move(kind);
  ev.from = user{std::move(by), "", role};
  ev.body = std::move(body);
  return ev;
}

append_plan plan_of(std::vector<event> events, std::optional<record_draft> record = std::nullopt) {
  return plan_append(std::move(events), record, {{"eng:e1", {6, 100}}}, 5000, log_tail{}, nullptr);
}

record_draft record_on(std::size_t attach_to, std::string topic) {
  record_draft r;
  r.fields = {{"eng", "e1"}, {"ch", "eng:e1"}, {"topic", std::move(topic)}, {"terms", object{{"final", true}}}};
  r.attach_to = attach_to;
  return r;
}

object body_of(const webhook_entry& e) { return boost::json::parse(e.body).as_object(); }
object data_of(const webhook_entry& e) { return body_of(e).at("data").as_object(); }

std::vector<std::string> types_of(const std::vector<webhook_entry>& entries) {
  std::vector<std::string> types;
  for (const auto& e : entries) types.push_back(e.type);
  return types;
}

}  // namespace

TEST_CASE("a phase event causes engagement.phase with from, to and seq", "[webhooks]") {
  auto plan = plan_of({make("eng:e1", "phase", {{"from", "discovery"}, {"to", "agreement"}}, "system",
                            user_role::system)});
  auto hooks = webhook_entries_of(plan, {});
  REQUIRE(hooks.size() == 1);
  const auto& h = hooks[0];
  CHECK(h.type == "engagement.phase");
  CHECK(h.eng == "e1");
  CHECK(h.ts == 5000);
  CHECK(h.state == webhook_state::pending);
  CHECK(h.attempts == 0);
  CHECK(h.next_at == 5000);
  auto body = body_of(h);
  CHECK(body.size() == 5);
  CHECK(body.at("id").as_string() == h.id);
  CHECK(body.at("type") == "engagement.phase");
  CHECK(body.at("eng") == "e1");
  CHECK(body.at("ts") == 5000);
  CHECK(data_of(h) == object{{"from", "discovery"}, {"to", "agreement"}, {"seq", 7}});
}

TEST_CASE("ids are stable for the same fact, differ between facts and are URL-safe", "[webhooks]") {
  auto id = webhook_id("e1", "eng:e1", 7, "engagement.phase");
  CHECK(id == webhook_id("e1", "eng:e1", 7, "engagement.phase"));
  CHECK(id != webhook_id("e1", "eng:e1", 8, "engagement.phase"));
  CHECK(id != webhook_id("e1", "eng:e1", 7, "engagement.completed"));
  CHECK(id != webhook_id("e2", "eng:e2", 7, "engagement.phase"));
  REQUIRE(id.size() == 3 + 32);
  CHECK(id.rfind("wh_", 0) == 0);
  for (char c : id.substr(3)) CHECK(((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')));

  // Planned again (a retried append computes the same plan): the same ids and bodies.
  auto once = webhook_entries_of(plan_of({make("eng:e1", "flag", {{"type", "risk"}, {"text", "late"}})}), {});
  auto again = webhook_entries_of(plan_of({make("eng:e1", "flag", {{"type", "risk"}, {"text", "late"}})}), {});
  REQUIRE(once.size() == 1);
  REQUIRE(again.size() == 1);
  CHECK(once[0].id == again[0].id);
  CHECK(once[0].body == again[0].body);
}

TEST_CASE("a decision record causes decision.recorded with the whole stored record", "[webhooks]") {
  auto plan = plan_of({make("eng:e1", "decision", {{"proposal", 3}, {"accept", true}})}, record_on(0, "scope"));
  auto hooks = webhook_entries_of(plan, {});
  REQUIRE(hooks.size() == 1);
  CHECK(hooks[0].type == "decision.recorded");
  auto record = data_of(hooks[0]).at("record").as_object();
  CHECK(record == boost::json::parse(plan.record->json).as_object());
  CHECK(record.at("n") == 1);
  CHECK(record.at("hash").as_string() == plan.record->hash);
  CHECK(record.at("decision_seq") == 7);
}

TEST_CASE("a delivery causes delivery.submitted with deliverable, version, seq and review_due", "[webhooks]") {
  auto plan = plan_of({make("eng:e1", "delivery",
                            {{"deliverable", "report"}, {"version", 2}, {"text", "v2"}, {"review_due", 99000}},
                            "x1", user_role::expert)});
  auto hooks = webhook_entries_of(plan, {});
  REQUIRE(hooks.size() == 1);
  CHECK(hooks[0].type == "delivery.submitted");
  CHECK(data_of(hooks[0]) == object{{"deliverable", "report"}, {"version", 2}, {"seq", 7}, {"review_due", 99000}});
}

TEST_CASE("a flag causes flag.raised with seq, type, text and who raised it", "[webhooks]") {
  auto hooks = webhook_entries_of(plan_of({make("eng:e1", "flag", {{"type", "dispute"}, {"text", "unpaid"}})}), {});
  REQUIRE(hooks.size() == 1);
  CHECK(hooks[0].type == "flag.raised");
  CHECK(data_of(hooks[0]) == object{{"seq", 7}, {"type", "dispute"}, {"text", "unpaid"}, {"by", "u1"}});
}

TEST_CASE("an sla event causes sla.missed with its body", "[webhooks]") {
  object sla{{"level", "first_reply"}, {"owed_by", "expert"}, {"due", 1234}};
  auto hooks = webhook_entries_of(plan_of({make("eng:e1", "sla", sla, "system", user_role::system)}), {});
  REQUIRE(hooks.size() == 1);
  CHECK(hooks[0].type == "sla.missed");
  CHECK(data_of(hooks[0]) == sla);
}

TEST_CASE("closing causes engagement.completed last, with the record and the agreement", "[webhooks]") {
  // Accepting a final delivery in completion: the decision with its record, and the close.
  auto plan = plan_of({make("eng:e1", "decision", {{"delivery", 5}, {"accept", true}}),
                       make("eng:e1", "phase", {{"from", "completion"}, {"to", "closed"}}, "system",
                            user_role::system)},
                      record_on(0, "delivery"));
  hook_context context{0, std::string(R"({"terms":{"price":500},"version":2})")};
  auto hooks = webhook_entries_of(plan, context);
  CHECK(types_of(hooks) ==
        std::vector<std::string>{"decision.recorded", "engagement.phase", "engagement.completed"});
  const auto& done = hooks.back();
  CHECK(done.eng == "e1");
  auto data = data_of(done);
  CHECK(data.at("record") == boost::json::parse(plan.record->json));
  CHECK(data.at("agreement") == boost::json::parse(R"({"terms":{"price":500},"version":2})"));
  CHECK(done.id == webhook_id("e1", "eng:e1", 8, "engagement.completed"));

  SECTION("without a record or an agreement both are null") {
    auto bare = plan_of({make("eng:e1", "phase", {{"from", "active"}, {"to", "closed"}}, "system", user_role::system)});
    auto closed = webhook_entries_of(bare, {});
    REQUIRE(types_of(closed) == std::vector<std::string>{"engagement.phase", "engagement.completed"});
    CHECK(data_of(closed.back()) == object{{"record", nullptr}, {"agreement", nullptr}});
  }
}

TEST_CASE("events that concern no hook, and the support channel, cause none", "[webhooks]") {
  auto plan = plan_append({make("eng:e1", "message", {{"text", "hi"}}), make("support", "flag", {{"type", "risk"}}),
                           make("eng:e1:mediation", "phase", {{"from", "active"}, {"to", "closed"}})},
                          std::nullopt, {}, 10, log_tail{}, nullptr);
  CHECK(webhook_entries_of(plan, {}).empty());
  // A flag in the mediation channel is the engagement's.
  auto mediation = webhook_entries_of(
      plan_append({make("eng:e1:mediation", "flag", {{"type", "risk"}, {"text", "x"}})}, std::nullopt, {}, 10,
                  log_tail{}, nullptr),
      {});
  REQUIRE(mediation.size() == 1);
  CHECK(mediation[0].eng == "e1");
}

TEST_CASE("the closing agreement is the state's, only when an event enters closed", "[webhooks]") {
  engagement_state s = new_engagement("e1", 0);
  std::vector<event> close{make("eng:e1", "phase", {{"from", "completion"}, {"to", "closed"}})};
  CHECK(closing_agreement_of(s, close) == std::optional<std::string>("null"));
  s.agreement = std::make_shared<engagement_agreement>(engagement_agreement{object{{"price", 500}}, 3});
  auto agreement = closing_agreement_of(s, close);
  REQUIRE(agreement);
  CHECK(boost::json::parse(*agreement) == boost::json::parse(R"({"terms":{"price":500},"version":3})"));
  CHECK_FALSE(closing_agreement_of(s, {make("eng:e1", "phase", {{"from", "active"}, {"to", "completion"}})}));
  CHECK_FALSE(closing_agreement_of(s, {make("eng:e1", "message", {{"text", "closed"}})}));
}
