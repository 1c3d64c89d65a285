#include "protocol/engagement.hpp"

#include "protocol/can.hpp"

#include <algorithm>
#include <array>

namespace parley {
namespace {

constexpr std::array<std::string_view, 5> phase_names = {"discovery", "agreement", "active", "completion",
                                                         "closed"};

// The cid of an engagement's opening event: a retried opening appends nothing.
constexpr std::string_view opening_cid = "engagement:opened";

std::optional<engagement_phase> next_phase(engagement_phase p) {
  if (p == engagement_phase::closed) return std::nullopt;
  return static_cast<engagement_phase>(static_cast<int>(p) + 1);
}

side other_side(side s) { return s == side::client ? side::expert : side::client; }

// Topics whose accepted terms are merged into the agreement (protocol §1).
bool amends_agreement(std::string_view topic) {
  return topic == "agreement" || topic == "scope_change" || topic == "timeline" || topic == "compensation";
}

std::optional<std::string_view> string_field(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_string());
}

std::optional<std::int64_t> int_field(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v->get_uint64());
  }
  return std::nullopt;
}

const boost::json::object& object_field(const boost::json::object& o, std::string_view key) {
  static const boost::json::object empty;
  const auto* v = o.if_contains(key);
  return v && v->is_object() ? v->get_object() : empty;
}

error forbidden(std::string m) { return make_error(errc::forbidden, std::move(m)); }
error conflict(std::string m) { return make_error(errc::conflict, std::move(m)); }
error not_found(std::string m) { return make_error(errc::not_found, std::move(m)); }
error bad_request(std::string m) { return make_error(errc::bad_request, std::move(m)); }

event make_event(std::string ch, std::string kind, user from, boost::json::object body, std::string cid = {}) {
  event ev;
  ev.ch = std::move(ch);
  ev.kind = std::move(kind);
  ev.from = std::move(from);
  ev.cid = std::move(cid);
  ev.body = std::move(body);
  return ev;
}

event server_event(const engagement_state& s, std::string kind, boost::json::object body) {
  return make_event(channel::main(s.eng), std::move(kind), system_user(), std::move(body));
}

bool has_open_dispute_other_than(const engagement_state& s, std::int64_t flag_seq) {
  return std::any_of(s.flags.begin(), s.flags.end(), [&](const auto& kv) {
    return kv.first != flag_seq && kv.second->type == "dispute" && kv.second->state != "resolved";
  });
}

// Is the move to `to` allowed now? Checked when a phase is proposed and again
// when it is accepted, since the engagement may have moved in between.
result<void> check_phase_move(const engagement_state& s, engagement_phase to) {
  auto next = next_phase(s.phase);
  if (!next || *next != to) {
    return conflict("the engagement is in " + std::string(phase_name(s.phase)) + ": the next phase is " +
                    (next ? std::string(phase_name(*next)) : std::string("none")));
  }
  if (to == engagement_phase::active && !s.agreement_accepted) {
    return conflict("entering active needs an accepted agreement proposal");
  }
  return {};
}

boost::json::array ids_json(const std::vector<std::string>& ids) {
  boost::json::array a;
  for (const auto& id : ids) a.emplace_back(id);
  return a;
}

// A proposal or flag seq that is not open: one that was closed before
// (`conflict`) or none at all (`not_found`). The state keeps only open ones, so
// without the stored event's kind a seq up to the highest one seen counts as closed.
error closed_or_missing(const post_request& p, std::string_view kind, std::int64_t seq, std::int64_t last_seen,
                        std::string closed_message, std::string missing_message) {
  bool closed = p.target_kind ? *p.target_kind == kind : seq > 0 && seq <= last_seen;
  return closed ? conflict(std::move(closed_message)) : not_found(std::move(missing_message));
}

std::int64_t last_proposal_in(const engagement_state& s, const std::string& ch) {
  auto it = s.last_proposal_seq.find(ch);
  return it == s.last_proposal_seq.end() ? 0 : it->second;
}

record_draft make_record(const engagement_state& s, const engagement_proposal& pr,
                         const std::vector<std::string>& accepted_by) {
  record_draft r;
  r.fields = {{"eng", s.eng},
              {"ch", pr.ch},
              {"topic", pr.topic},
              {"terms", pr.terms},
              {"text", pr.text},
              {"proposed_by", pr.by},
              {"accepted_by", ids_json(accepted_by)},
              {"proposal_seq", pr.seq}};
  r.attach_to = 0;
  return r;
}

// Why the table refuses `kind` from `r` in `ch`: the role (it may post the kind
// in neither of the engagement's channels) or the place (the other channel).
std::string wrong_role_or_place(user_role r, const channel& ch, std::string_view kind) {
  const auto other = ch.type == channel_type::mediation ? channel_type::engagement : channel_type::mediation;
  if (role_may_post(r, other, kind)) return std::string(kind) + " is posted in " + channel{other, ch.eng}.name();
  return "role " + std::string(role_name(r)) + " may not post " + std::string(kind);
}

result<plan> check_flag(const engagement_state& s, const user& actor, const post_request& p, plan pl,
                        const engagement_limits& limits) {
  auto type = string_field(p.body, "type");
  if (!type) return bad_request("flag needs a type");
  if (actor.role == user_role::bot && *type != "delay" && *type != "risk" && *type != "blocker") {
    return forbidden("bots may raise only delay, risk and blocker flags");
  }
  if (s.flags.size() >= limits.open_flags) {
    return conflict("an engagement holds at most " + std::to_string(limits.open_flags) + " open flags");
  }
  if (*type == "dispute" && !s.mediation_open) {
    pl.events.push_back(server_event(
        s, "mediation", boost::json::object{{"state", "opened"}, {"ch", channel::mediation(s.eng)}}));
  }
  return pl;
}

result<plan> check_flag_update(const engagement_state& s, const post_request& p, plan pl) {
  auto seq = int_field(p.body, "flag");
  auto state = string_field(p.body, "state");
  if (!seq || !state) return bad_request("flag_update needs flag and state");
  auto it = s.flags.find(*seq);
  if (it == s.flags.end()) {
    return closed_or_missing(p, "flag", *seq, s.last_flag_seq, "flag " + std::to_string(*seq) + " is already resolved",
                             "no flag " + std::to_string(*seq) + " in " + channel::main(s.eng));
  }
  if (it->second->type == "dispute" && *state == "resolved") {
    return conflict("a dispute flag is resolved only by an accepted resolution");
  }
  return pl;
}

error too_many_proposals(const engagement_limits& limits) {
  return conflict("an engagement holds at most " + std::to_string(limits.open_proposals) + " open proposals");
}

result<plan> check_proposal(const engagement_state& s, const user& actor, const post_request& p, plan pl,
                            const engagement_limits& limits) {
  auto topic = string_field(p.body, "topic");
  if (!topic) return bad_request("proposal needs a topic");
  const auto& terms = object_field(p.body, "terms");
  // A resolution is proposed in mediation, every other topic in eng:<id>; the
  // access table says who proposes in each.
  const bool resolution = *topic == "resolution";
  const auto home = resolution ? channel_type::mediation : channel_type::engagement;
  if (!role_may_post(actor.role, home, "proposal")) {
    return forbidden(resolution ? "resolutions are proposed by support" : "proposals are made by the parties");
  }

  if (resolution) {
    if (p.ch.type != home) return forbidden("resolutions are proposed in " + channel::mediation(s.eng));
    auto flag_seq = int_field(terms, "flag");
    if (!flag_seq) return bad_request("a resolution's terms need flag (the dispute flag's seq)");
    auto it = s.flags.find(*flag_seq);
    if (it == s.flags.end()) {
      return closed_or_missing(p, "flag", *flag_seq, s.last_flag_seq,
                               "flag " + std::to_string(*flag_seq) + " is already resolved",
                               "no flag " + std::to_string(*flag_seq) + " in " + channel::main(s.eng));
    }
    if (it->second->type != "dispute") return conflict("flag " + std::to_string(*flag_seq) + " is not a dispute");
    if (s.proposals.size() >= limits.open_proposals) return too_many_proposals(limits);
    return pl;
  }

  if (p.ch.type != home) return forbidden("only resolutions are proposed in mediation");
  if (s.phase == engagement_phase::closed) return conflict("the engagement is closed");
  if (*topic == "phase") {
    auto to_name = string_field(terms, "to");
    auto to = to_name ? parse_phase(*to_name) : std::nullopt;
    if (!to) return bad_request("a phase proposal's terms need to: a phase");
    // Closing is the client's approval of the deliverables, so the expert asks for it.
    if (*to == engagement_phase::closed && actor.role != user_role::expert) {
      return forbidden("only the expert proposes closing");
    }
    if (auto move = check_phase_move(s, *to); !move) return move.err();
  }
  if (s.proposals.size() >= limits.open_proposals) return too_many_proposals(limits);
  return pl;
}

result<plan> check_decision(const engagement_state& s, const user& actor, const post_request& p, plan pl) {
  auto actor_side = side_of(actor.role);
  if (!role_may_post(actor.role, p.ch.type, "decision") || !actor_side) {
    return forbidden("decisions are made by the parties");
  }
  auto seq = int_field(p.body, "proposal");
  auto verdict = string_field(p.body, "verdict");
  if (!seq || !verdict) return bad_request("decision needs proposal and verdict");
  const auto ch = p.ch.name();
  auto it = s.proposals.find({ch, *seq});
  if (it == s.proposals.end()) {
    return closed_or_missing(p, "proposal", *seq, last_proposal_in(s, ch),
                             "proposal " + std::to_string(*seq) + " is already decided (or lapsed)",
                             "no proposal " + std::to_string(*seq) + " in " + ch);
  }
  const auto& pr = *it->second;
  const bool accepted = *verdict == "accepted";

  if (pr.topic == "resolution") {
    if (std::find(pr.accepted_sides.begin(), pr.accepted_sides.end(), *actor_side) != pr.accepted_sides.end()) {
      return conflict("the " + std::string(side_name(*actor_side)) + " side already decided proposal " +
                      std::to_string(*seq));
    }
    if (!accepted) return pl;
    auto flag_seq = int_field(pr.terms, "flag").value_or(0);
    auto flag = s.flags.find(flag_seq);
    if (flag == s.flags.end() || flag->second->state == "resolved") {
      return conflict("dispute " + std::to_string(flag_seq) + " is already resolved");
    }
    // Accepted when both parties have accepted: this acceptance completes it
    // when the other side's is already in.
    if (pr.accepted_sides.empty()) return pl;
    auto accepted_by = pr.accepted_by;
    accepted_by.push_back(actor.id);
    pl.record = make_record(s, pr, accepted_by);
    if (s.mediation_open && !has_open_dispute_other_than(s, flag_seq)) {
      pl.events.push_back(server_event(
          s, "mediation", boost::json::object{{"state", "closed"}, {"ch", channel::mediation(s.eng)}}));
    }
    return pl;
  }

  if (actor.id == pr.by) return conflict("a proposal is not decided by its proposer");
  if (pr.by_side && *pr.by_side == *actor_side) return forbidden("the other party decides this proposal");
  if (s.phase == engagement_phase::closed) return conflict("the engagement is closed");
  if (!accepted) return pl;
  if (pr.topic == "phase") {
    auto to = parse_phase(string_field(pr.terms, "to").value_or(""));
    if (!to) return conflict("proposal " + std::to_string(*seq) + " names no phase");
    if (auto move = check_phase_move(s, *to); !move) return move.err();
    pl.events.push_back(server_event(
        s, "phase", boost::json::object{{"from", phase_name(s.phase)}, {"to", phase_name(*to)}}));
  }
  pl.record = make_record(s, pr, {actor.id});
  return pl;
}

void apply_message(engagement_state& s, const event& ev) {
  auto speaker = side_of(ev.from.role);
  if (!speaker || s.phase == engagement_phase::closed) return;
  // The side that spoke last is owed an answer from the first of its unanswered
  // messages; an answer from the owing side turns the debt around.
  if (s.owed_reply && s.owed_reply->owing == other_side(*speaker)) return;
  s.owed_reply = reply_debt{other_side(*speaker), ev.seq, ev.ts};
}

void apply_decision(engagement_state& s, const event& ev) {
  auto seq = int_field(ev.body, "proposal");
  auto verdict = string_field(ev.body, "verdict");
  if (!seq || !verdict) return;
  auto it = s.proposals.find({ev.ch, *seq});
  if (it == s.proposals.end()) return;
  const auto& pr = *it->second;
  // A decided proposal leaves the state: it lives on in its events and the decision log.
  if (*verdict != "accepted") {
    s.proposals.erase(it);
    return;
  }
  if (pr.topic == "resolution") {
    auto decider = side_of(ev.from.role);
    if (!decider ||
        std::find(pr.accepted_sides.begin(), pr.accepted_sides.end(), *decider) != pr.accepted_sides.end()) {
      return;
    }
    if (pr.accepted_sides.empty()) {  // the first side: the resolution stays open
      auto next = std::make_shared<engagement_proposal>(pr);
      next->accepted_sides.push_back(*decider);
      next->accepted_by.push_back(ev.from.id);
      it->second = std::move(next);
      return;
    }
    s.flags.erase(int_field(pr.terms, "flag").value_or(0));
    s.proposals.erase(it);
    return;
  }
  if (amends_agreement(pr.topic)) {
    auto next = s.agreement ? std::make_shared<engagement_agreement>(*s.agreement)
                            : std::make_shared<engagement_agreement>();
    for (const auto& kv : pr.terms) next->terms[kv.key()] = kv.value();
    ++next->version;
    s.agreement = std::move(next);
    if (pr.topic == "agreement") s.agreement_accepted = true;
  }
  s.proposals.erase(it);
}

void apply_phase(engagement_state& s, const event& ev) {
  auto to = parse_phase(string_field(ev.body, "to").value_or(""));
  if (!to) return;
  s.phase = *to;
  s.phase_since_ms = ev.ts;
  if (*to == engagement_phase::closed) {
    // Nothing but a resolution can be decided any more; service levels stop.
    std::erase_if(s.proposals, [](const auto& kv) { return kv.second->topic != "resolution"; });
    s.owed_reply.reset();
  }
}

void apply_sla(engagement_state& s, const event& ev) {
  auto type = string_field(ev.body, "type").value_or("");
  if (type == "reply_overdue") {
    if (auto v = int_field(ev.body, "since_seq")) s.reply_miss_posted = *v;
  } else if (type == "status_overdue") {
    if (auto v = int_field(ev.body, "since")) s.status_miss_posted = *v;
  } else if (type == "phase_overdue") {
    auto p = parse_phase(string_field(ev.body, "phase").value_or(""));
    auto since = int_field(ev.body, "since");
    if (p && since) s.phase_miss_posted = std::make_pair(*p, *since);
  }
}

}  // namespace

std::string_view phase_name(engagement_phase p) { return phase_names[static_cast<std::size_t>(p)]; }

std::optional<engagement_phase> parse_phase(std::string_view name) {
  for (std::size_t i = 0; i < phase_names.size(); ++i) {
    if (phase_names[i] == name) return static_cast<engagement_phase>(i);
  }
  return std::nullopt;
}

std::string_view side_name(side s) { return s == side::client ? "client" : "expert"; }

std::optional<side> side_of(user_role r) {
  if (r == user_role::client) return side::client;
  if (r == user_role::expert) return side::expert;
  return std::nullopt;
}

std::optional<std::int64_t> phase_limits::of(engagement_phase p) const {
  switch (p) {
    case engagement_phase::discovery: return discovery_ms;
    case engagement_phase::agreement: return agreement_ms;
    case engagement_phase::active: return active_ms;
    case engagement_phase::completion: return completion_ms;
    case engagement_phase::closed: return std::nullopt;
  }
  return std::nullopt;
}

engagement_state new_engagement(std::string eng, std::int64_t now_ms) {
  engagement_state s;
  s.eng = std::move(eng);
  s.phase = engagement_phase::discovery;
  s.phase_since_ms = now_ms;
  return s;
}

std::optional<std::int64_t> phase_due(const engagement_state& s, const phase_limits& limits) {
  auto bound = limits.of(s.phase);
  if (!bound) return std::nullopt;
  return s.phase_since_ms + *bound;
}

boost::json::object state_json(const engagement_state& s, const phase_limits& limits, const claims& reader,
                               const engagement_limits& open_limits) {
  boost::json::object o;
  o["phase"] = phase_name(s.phase);
  o["phase_since"] = s.phase_since_ms;
  if (auto due = phase_due(s, limits)) {
    o["phase_due"] = *due;
  } else {
    o["phase_due"] = nullptr;
  }
  if (s.agreement) {
    o["agreement"] = boost::json::object{{"terms", s.agreement->terms}, {"version", s.agreement->version}};
  } else {
    o["agreement"] = nullptr;
  }
  boost::json::array flags;
  for (const auto& [seq, flag] : s.flags) {
    const auto& f = *flag;
    flags.push_back(
        boost::json::object{{"seq", f.seq}, {"type", f.type}, {"state", f.state}, {"text", f.text}, {"by", f.by}});
  }
  o["open_flags"] = std::move(flags);
  boost::json::array proposals;
  for (const auto& [key, proposal] : s.proposals) {
    const auto& pr = *proposal;
    proposals.push_back(boost::json::object{{"seq", pr.seq},
                                            {"ch", pr.ch},
                                            {"topic", pr.topic},
                                            {"text", pr.text},
                                            {"terms", pr.terms},
                                            {"by", pr.by},
                                            {"accepted_by", ids_json(pr.accepted_by)}});
  }
  o["open_proposals"] = std::move(proposals);
  if (s.owed_reply) {
    o["owed_reply"] = boost::json::object{{"side", side_name(s.owed_reply->owing)},
                                          {"since_seq", s.owed_reply->since_seq},
                                          {"since_ts", s.owed_reply->since_ts}};
  } else {
    o["owed_reply"] = nullptr;
  }
  if (s.last_status_ts) {
    o["last_status_ts"] = *s.last_status_ts;
  } else {
    o["last_status_ts"] = nullptr;
  }
  boost::json::array actions;
  for (auto& action : can(s, reader, open_limits)) actions.emplace_back(action);
  o["can"] = std::move(actions);
  return o;
}

result<plan> check(const engagement_state& s, const user& actor, const post_request& p,
                   const engagement_limits& limits) {
  if (p.ch.type == channel_type::support) return check_support_post(actor, p);
  if (p.ch.eng != s.eng) return make_error(errc::internal, "state of the wrong engagement");
  plan pl;
  pl.events.push_back(make_event(p.ch.name(), p.kind, actor, p.body, p.cid));
  if (auto joined = check_join(s, p.ch); !joined) return joined.err();
  if (!is_client_kind(p.kind)) return bad_request("kind " + p.kind + " cannot be posted");
  const bool closed = s.phase == engagement_phase::closed;

  // Proposals and decisions ask the table themselves: who proposes depends on the topic.
  if (p.kind != "proposal" && p.kind != "decision" && !role_may_post(actor.role, p.ch.type, p.kind)) {
    return forbidden(wrong_role_or_place(actor.role, p.ch, p.kind));
  }
  if (p.kind == "message") return pl;
  if (p.kind == "status") {
    if (closed) return conflict("the engagement is closed");
    return pl;
  }
  if (p.kind == "flag") {
    if (closed) return conflict("the engagement is closed");
    return check_flag(s, actor, p, std::move(pl), limits);
  }
  if (p.kind == "flag_update") {
    if (closed) return conflict("the engagement is closed");
    return check_flag_update(s, p, std::move(pl));
  }
  if (p.kind == "proposal") return check_proposal(s, actor, p, std::move(pl), limits);
  return check_decision(s, actor, p, std::move(pl));
}

std::vector<event> notices_for(const event& committed) {
  if (!implies_notices(committed.kind)) return {};
  std::string type(string_field(committed.body, "type").value_or(""));
  if (type != "dispute" && type != "scope_change") return {};
  auto ch = parse_channel(committed.ch);
  if (!ch || ch->type != channel_type::engagement) return {};
  event n = make_event("support", "notice", system_user(),
                       boost::json::object{{"type", type},
                                           {"eng", ch->eng},
                                           {"flag", committed.seq},
                                           {"text", string_field(committed.body, "text").value_or("")}});
  n.cid = "notice:" + type + ":" + ch->eng + ":" + std::to_string(committed.seq);
  return {std::move(n)};
}

bool apply(engagement_state& s, const event& ev) {
  const bool main = ev.ch == channel::main(s.eng);
  if (!main && ev.ch != channel::mediation(s.eng)) return false;
  auto& last = s.applied[ev.ch];
  if (ev.seq <= last) return false;
  last = ev.seq;

  if (ev.kind == "message") {
    if (main) apply_message(s, ev);
  } else if (ev.kind == "status") {
    s.last_status_ts = std::max(s.last_status_ts.value_or(ev.ts), ev.ts);
  } else if (ev.kind == "flag") {
    if (!main) return true;
    engagement_flag f;
    f.seq = ev.seq;
    f.type = string_field(ev.body, "type").value_or("");
    f.state = "open";
    f.text = string_field(ev.body, "text").value_or("");
    f.by = ev.from.id;
    s.flags[ev.seq] = std::make_shared<const engagement_flag>(std::move(f));
    s.last_flag_seq = std::max(s.last_flag_seq, ev.seq);
  } else if (ev.kind == "flag_update") {
    auto it = s.flags.find(int_field(ev.body, "flag").value_or(0));
    auto state = string_field(ev.body, "state");
    if (main && it != s.flags.end() && state) {
      if (*state == "resolved") {
        s.flags.erase(it);  // a resolved flag leaves the state
      } else {
        auto next = std::make_shared<engagement_flag>(*it->second);
        next->state = *state;
        it->second = std::move(next);
      }
    }
  } else if (ev.kind == "proposal") {
    engagement_proposal pr;
    pr.seq = ev.seq;
    pr.ch = ev.ch;
    pr.topic = string_field(ev.body, "topic").value_or("");
    pr.text = string_field(ev.body, "text").value_or("");
    pr.terms = object_field(ev.body, "terms");
    pr.by = ev.from.id;
    pr.by_side = side_of(ev.from.role);
    s.proposals[{ev.ch, ev.seq}] = std::make_shared<const engagement_proposal>(std::move(pr));
    auto& last_proposal = s.last_proposal_seq[ev.ch];
    last_proposal = std::max(last_proposal, ev.seq);
  } else if (ev.kind == "decision") {
    apply_decision(s, ev);
  } else if (ev.kind == "phase") {
    if (main) apply_phase(s, ev);
  } else if (ev.kind == "mediation") {
    auto state = string_field(ev.body, "state").value_or("");
    if (main && state == "opened") s.mediation_open = s.mediation_exists = true;
    if (main && state == "closed") s.mediation_open = false;
  } else if (ev.kind == "sla") {
    if (main) apply_sla(s, ev);
  }
  return true;
}

}  // namespace parley

namespace parley {

std::optional<std::pair<std::string, std::int64_t>> target_lookup(const engagement_state& s, const post_request& p) {
  if (p.ch.type == channel_type::support) return std::nullopt;
  const auto ch = p.ch.name();
  if (p.kind == "decision") {
    auto seq = int_field(p.body, "proposal");
    if (!seq || s.proposals.count({ch, *seq}) || *seq <= 0 || *seq > last_proposal_in(s, ch)) return std::nullopt;
    return std::make_pair(ch, *seq);
  }
  std::optional<std::int64_t> flag;
  if (p.kind == "flag_update") flag = int_field(p.body, "flag");
  if (p.kind == "proposal" && string_field(p.body, "topic").value_or("") == "resolution")
    flag = int_field(object_field(p.body, "terms"), "flag");
  if (!flag || s.flags.count(*flag) || *flag <= 0 || *flag > s.last_flag_seq) return std::nullopt;
  return std::make_pair(channel::main(s.eng), *flag);
}

event opening_event(std::string_view eng, std::int64_t now_ms) {
  event ev = make_event(channel::main(eng), "phase", system_user(),
                        boost::json::object{{"from", nullptr}, {"to", phase_name(engagement_phase::discovery)}},
                        std::string(opening_cid));
  ev.ts = now_ms;
  return ev;
}

bool is_workflow(std::string_view kind) { return kind != "message" && kind != "status"; }

std::array<std::string, 2> guarded_channels(std::string_view eng) {
  return {channel::main(eng), channel::mediation(eng)};
}

result<void> check_join(const engagement_state& s, const channel& ch) {
  if (ch.type == channel_type::mediation && !s.mediation_exists) {
    return not_found(ch.name() + " does not exist: no dispute has opened it");
  }
  return {};
}

result<plan> check_support_post(const user& actor, const post_request& p) {
  if (p.ch.type != channel_type::support || !role_may_post(actor.role, channel_type::support, p.kind)) {
    return forbidden("only support staff post, and only messages, in support");
  }
  plan pl;
  pl.events.push_back(make_event(p.ch.name(), p.kind, actor, p.body, p.cid));
  return pl;
}

bool implies_notices(std::string_view kind) { return kind == "flag"; }

error engagement_not_found(std::string_view eng) {
  return not_found("engagement " + std::string(eng) + " does not exist");
}

std::shared_ptr<const engagement_state> apply_shared(const std::shared_ptr<const engagement_state>& s,
                                                     const event& ev) {
  if (ev.ch != channel::main(s->eng) && ev.ch != channel::mediation(s->eng)) return s;
  auto it = s->applied.find(ev.ch);
  if (it != s->applied.end() && ev.seq <= it->second) return s;
  auto next = std::make_shared<engagement_state>(*s);
  apply(*next, ev);
  return next;
}

}  // namespace parley
