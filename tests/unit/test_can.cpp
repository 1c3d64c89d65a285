// `can` (protocol §9.9) against the post checks: for every reader, phase and
// open proposal or flag, an action is listed exactly when posting it would be
// accepted. The posts tried here are written independently of can.cpp's
// candidates: several bodies per action, seqs that do not exist, both verdicts.
#include "protocol/can.hpp"

#include "protocol/access.hpp"
#include "protocol/frame.hpp"

#include "test_users.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace parley;

namespace {

using namespace test_users;

struct reader_case {
  std::string name;
  claims who;
};

std::vector<reader_case> readers() {
  return {{"client", claims{client, {"42"}, 0, std::nullopt}},
          {"second client", claims{client2, {"42"}, 0, std::nullopt}},
          {"expert", claims{expert, {"42"}, 0, std::nullopt}},
          {"bot", claims{bot, {"42"}, 0, std::nullopt}},
          {"support", claims{support_user, {"*"}, 0, std::nullopt}},
          {"service", claims{service, {"*"}, 0, std::nullopt}},
          {"party of another engagement", claims{user{"c9", "Other", user_role::client}, {"7"}, 0, std::nullopt}}};
}

// Builds a state as the server does: stored events (seq per channel) applied in order.
struct builder {
  engagement_state s = new_engagement("42", t0);
  std::map<std::string, std::int64_t> heads;

  std::int64_t add(const std::string& ch, const std::string& kind, const user& from, boost::json::object body) {
    event ev;
    ev.ch = ch;
    ev.seq = ++heads[ch];
    ev.kind = kind;
    ev.from = from;
    ev.ts = t0 + ev.seq;
    ev.body = std::move(body);
    apply(s, ev);
    return ev.seq;
  }
  std::int64_t main(const std::string& kind, const user& from, boost::json::object body) {
    return add(channel::main("42"), kind, from, std::move(body));
  }
  std::int64_t mediation(const std::string& kind, const user& from, boost::json::object body) {
    return add(channel::mediation("42"), kind, from, std::move(body));
  }
  void phase(engagement_phase to) { main("phase", system_user(), {{"from", phase_name(s.phase)}, {"to", phase_name(to)}}); }
  std::int64_t propose(const user& by, std::string topic, boost::json::object terms) {
    return main("proposal", by, {{"topic", topic}, {"text", topic}, {"terms", std::move(terms)}});
  }
  std::int64_t flag(const user& by, std::string type) { return main("flag", by, {{"type", type}, {"text", type}}); }
  // A stored delivery, as the server makes it (version and review_due added).
  std::int64_t deliver(std::string key) {
    boost::json::array files{boost::json::object{{"sha256", std::string(64, 'f')}, {"name", "f.pdf"}, {"size", 1}}};
    return main("delivery", expert,
                {{"deliverable", key}, {"text", "v"}, {"files", files}, {"version", 1}, {"review_due", t0 + 1000}});
  }
  // A dispute opens the mediation channel (the server's follow-up event).
  std::int64_t dispute(const user& by) {
    auto seq = flag(by, "dispute");
    main("mediation", system_user(), {{"state", "opened"}, {"ch", channel::mediation("42")}});
    return seq;
  }
  std::int64_t resolution(std::int64_t flag_seq) {
    return mediation("proposal", support_user,
                     {{"topic", "resolution"}, {"text", "settle"}, {"terms", {{"flag", flag_seq}}}});
  }
  void decide(const std::string& ch, const user& by, std::int64_t seq, std::string verdict) {
    add(ch, "decision", by, {{"proposal", seq}, {"verdict", verdict}});
  }
};

struct scenario {
  std::string name;
  std::function<void(builder&)> setup;
};

std::vector<scenario> scenarios() {
  const auto main = channel::main("42");
  const auto mediation = channel::mediation("42");
  return {
      {"nothing open", [](builder&) {}},
      {"an accepted agreement", [=](builder& b) { b.decide(main, expert, b.propose(client, "agreement", {{"fee", 1}}), "accepted"); }},
      {"the client's proposal open", [](builder& b) { b.propose(client, "timeline", {{"weeks", 2}}); }},
      {"the expert's proposal open", [](builder& b) { b.propose(expert, "scope_change", {{"add", "x"}}); }},
      {"phase proposals open", [](builder& b) {
         for (auto to : {"agreement", "active", "completion", "closed"}) b.propose(expert, "phase", {{"to", to}});
       }},
      {"flags of both sides open", [](builder& b) {
         b.flag(client, "delay");
         b.flag(expert, "risk");
         b.flag(bot, "blocker");
       }},
      {"an acknowledged flag", [=](builder& b) {
         auto f = b.flag(expert, "scope_change");
         b.main("flag_update", client, {{"flag", f}, {"state", "acknowledged"}});
       }},
      {"mediation open", [](builder& b) { b.dispute(client); }},
      {"mediation open with a resolution", [](builder& b) { b.resolution(b.dispute(expert)); }},
      {"a resolution the client accepted", [=](builder& b) {
         auto r = b.resolution(b.dispute(client));
         b.decide(mediation, client, r, "accepted");
       }},
      {"mediation closed", [=](builder& b) {
         auto r = b.resolution(b.dispute(client));
         b.decide(mediation, client, r, "accepted");
         b.decide(mediation, expert, r, "accepted");
         b.main("mediation", system_user(), {{"state", "closed"}, {"ch", channel::mediation("42")}});
       }},
      {"a delivery awaiting the client", [](builder& b) { b.deliver("report"); }},
      {"a delivery with a revision request, and one accepted", [=](builder& b) {
         auto d = b.deliver("report");
         b.main("revision_request", client, {{"delivery", d}, {"text", "more"}});
         auto s = b.deliver("slides");
         b.main("decision", client, {{"proposal", s}, {"verdict", "accepted"}});
       }},
      {"everything at once", [=](builder& b) {
         b.propose(client, "compensation", {{"bonus", 5}});
         b.propose(expert, "timeline", {{"weeks", 3}});
         b.flag(client, "delay");
         auto d = b.dispute(expert);
         b.resolution(d);
         b.flag(expert, "scope_change");
       }},
  };
}

// A post and the action it stands for in `can` ("" for none: acknowledging a flag).
struct tried_post {
  channel_type where;
  std::string kind;
  boost::json::object body;
  std::string action;
};

std::vector<tried_post> posts_to_try(const engagement_state& s) {
  std::vector<tried_post> posts;
  for (auto where : {channel_type::engagement, channel_type::mediation}) {
    posts.push_back({where, "message", {{"text", "hello"}}, "message"});
    posts.push_back({where, "message", {{"text", "re"}, {"reply_to", 1}}, "message"});
    posts.push_back({where, "status", {{"text", "on track"}, {"progress", 40}}, "status"});
    for (auto type : {"delay", "scope_change", "dispute", "risk", "blocker"}) {
      posts.push_back({where, "flag", {{"type", type}, {"text", "look"}}, "flag"});
    }
    std::vector<std::int64_t> flag_seqs = {99};
    for (const auto& [seq, f] : s.flags) flag_seqs.push_back(seq);
    for (auto seq : flag_seqs) {
      posts.push_back({where, "flag_update", {{"flag", seq}, {"state", "resolved"}, {"text", "done"}},
                       where == channel_type::engagement && seq != 99 ? "resolve:" + std::to_string(seq) : "?"});
      posts.push_back({where, "flag_update", {{"flag", seq}, {"state", "acknowledged"}}, ""});
      posts.push_back({where, "proposal",
                       {{"topic", "resolution"}, {"text", "settle"}, {"terms", {{"flag", seq}, {"refund", 10}}}},
                       "propose:resolution"});
    }
    for (auto topic : {"agreement", "scope_change", "timeline", "compensation"}) {
      posts.push_back({where, "proposal", {{"topic", topic}, {"text", "t"}, {"terms", boost::json::object{}}},
                       "propose:" + std::string(topic)});
      posts.push_back({where, "proposal", {{"topic", topic}, {"text", "t"}, {"terms", {{"x", 1}}}},
                       "propose:" + std::string(topic)});
    }
    for (auto to : {"discovery", "agreement", "active", "completion", "closed"}) {
      posts.push_back({where, "proposal", {{"topic", "phase"}, {"text", "next"}, {"terms", {{"to", to}}}},
                       "propose:phase"});
    }
    boost::json::array slots{boost::json::object{{"start", t0 + 3'600'000}, {"minutes", 30}}};
    posts.push_back({where, "proposal", {{"topic", "call"}, {"text", "call"}, {"terms", {{"slots", slots}}}},
                     "propose:call"});
    boost::json::array files{boost::json::object{{"sha256", std::string(64, 'f')}, {"name", "f.pdf"}}};
    for (auto key : {"report", "other"}) {
      posts.push_back({where, "delivery", {{"deliverable", key}, {"text", "v"}, {"files", files}}, "deliver"});
    }
    posts.push_back({where, "review",
                     {{"ratings", {{"quality", 4}, {"communication", 5}, {"timeliness", 3}}},
                      {"text", "Careful work, on time."}},
                     "review"});
    std::vector<std::int64_t> proposal_seqs = {99};
    for (const auto& [key, pr] : s.proposals) proposal_seqs.push_back(key.second);
    for (const auto& [key, d] : s.deliverables) {
      proposal_seqs.push_back(d->seq);
      posts.push_back({where, "revision_request", {{"delivery", d->seq}, {"text", "again"}},
                       "revise:" + std::to_string(d->seq)});
    }
    for (auto seq : proposal_seqs) {
      for (auto verdict : {"accepted", "rejected"}) {
        posts.push_back({where, "decision", {{"proposal", seq}, {"verdict", verdict}, {"text", "ok"}},
                         "decide:" + std::to_string(seq)});
      }
      // Accepting a call picks a slot.
      posts.push_back({where, "decision", {{"proposal", seq}, {"verdict", "accepted"}, {"slot", 0}},
                       "decide:" + std::to_string(seq)});
    }
  }
  return posts;
}

// The server's path for a client's post: token rules, body, engagement rules.
bool accepted(const engagement_state& s, const claims& who, const tried_post& post, const engagement_limits& limits) {
  const channel ch{post.where, s.eng};
  if (!check_post(who, ch, post.kind)) return false;
  auto body = validate_body(post.kind, post.body);
  if (!body) return false;
  post_request p{ch, post.kind, std::move(body.value()), {}, std::string()};
  return check(s, who.who, p, limits).ok();
}

std::set<std::string> actions_of_accepted_posts(const engagement_state& s, const claims& who,
                                                const engagement_limits& limits) {
  std::set<std::string> actions;
  for (const auto& post : posts_to_try(s)) {
    if (!accepted(s, who, post, limits)) continue;
    INFO(post.kind << " " << boost::json::serialize(post.body));
    CHECK(post.action != "?");  // no resolving a flag that is not open, nor outside eng:<id>
    if (!post.action.empty()) actions.insert(post.action);
  }
  return actions;
}

std::set<std::string> as_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

}  // namespace

TEST_CASE("can lists an action exactly when posting it would be accepted", "[protocol][can]") {
  constexpr engagement_phase phases[] = {engagement_phase::discovery, engagement_phase::agreement,
                                         engagement_phase::active, engagement_phase::completion,
                                         engagement_phase::closed};
  for (const auto& sc : scenarios()) {
    for (std::size_t reached = 0; reached < std::size(phases); ++reached) {
      builder b;
      sc.setup(b);
      // Phases are reached by the server's `phase` events, whatever the proposals say.
      for (std::size_t i = 1; i <= reached; ++i) b.phase(phases[i]);
      for (const auto& r : readers()) {
        for (auto limits : {engagement_limits{}, engagement_limits{1, 1}}) {
          INFO(sc.name << ", " << phase_name(b.s.phase) << ", " << r.name << ", limits " << limits.open_proposals);
          const auto listed = can(b.s, r.who, limits);
          CHECK(std::is_sorted(listed.begin(), listed.end()));
          CHECK(as_set(listed).size() == listed.size());
          CHECK(as_set(listed) == actions_of_accepted_posts(b.s, r.who, limits));
        }
      }
    }
  }
}

TEST_CASE("can in a fresh engagement, by role", "[protocol][can]") {
  builder b;
  auto of = [&](const claims& who) { return can(b.s, who); };
  const std::vector<std::string> party = {"flag",           "message",           "propose:agreement",
                                          "propose:call",         "propose:compensation", "propose:phase",
                                          "propose:scope_change", "propose:timeline",     "status"};
  CHECK(of(claims{client, {"42"}, 0, std::nullopt}) == party);
  CHECK(of(claims{expert, {"42"}, 0, std::nullopt}) == party);
  CHECK(of(claims{bot, {"42"}, 0, std::nullopt}) == std::vector<std::string>{"flag", "status"});
  CHECK(of(claims{support_user, {"*"}, 0, std::nullopt}) == std::vector<std::string>{"flag", "message"});
  CHECK(of(claims{service, {"*"}, 0, std::nullopt}) == std::vector<std::string>{"status"});
  CHECK(of(claims{client, {"7"}, 0, std::nullopt}).empty());
}

TEST_CASE("can names the proposals to decide and the flags to resolve", "[protocol][can]") {
  builder b;
  b.main("message", client, {{"text", "hi"}});  // main-channel seqs differ from the mediation channel's
  auto by_client = b.propose(client, "timeline", {{"weeks", 2}});
  auto by_expert = b.propose(expert, "scope_change", {{"add", "x"}});
  auto delay = b.flag(client, "delay");
  auto dispute = b.dispute(expert);
  auto resolution = b.resolution(dispute);
  const auto client_can = as_set(can(b.s, claims{client, {"42"}, 0, std::nullopt}));
  CHECK(client_can.count("decide:" + std::to_string(by_expert)));
  CHECK_FALSE(client_can.count("decide:" + std::to_string(by_client)));  // its own proposal
  CHECK(client_can.count("decide:" + std::to_string(resolution)));       // in mediation
  CHECK(client_can.count("resolve:" + std::to_string(delay)));
  CHECK_FALSE(client_can.count("resolve:" + std::to_string(dispute)));  // only a resolution resolves a dispute
  const auto support_can = as_set(can(b.s, claims{support_user, {"*"}, 0, std::nullopt}));
  CHECK(support_can.count("propose:resolution"));
  CHECK(support_can.count("resolve:" + std::to_string(delay)));
  CHECK_FALSE(support_can.count("decide:" + std::to_string(resolution)));
}

TEST_CASE("state carries the reader's own can", "[protocol][can]") {
  builder b;
  auto by_client = b.propose(client, "timeline", {{"weeks", 2}});
  const auto decide = "decide:" + std::to_string(by_client);
  auto listed = [&](const claims& who) {
    const auto state = state_json(b.s, phase_limits{}, who);
    std::set<std::string> out;
    for (const auto& a : state.at("can").as_array()) out.insert(std::string(a.as_string()));
    return out;
  };
  CHECK(listed(claims{expert, {"42"}, 0, std::nullopt}).count(decide));
  CHECK_FALSE(listed(claims{client, {"42"}, 0, std::nullopt}).count(decide));
}
