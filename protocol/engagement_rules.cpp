#include "protocol/engagement.hpp"

#include "protocol/access.hpp"
#include "protocol/calls.hpp"
#include "protocol/deliveries.hpp"
#include "protocol/engagement_detail.hpp"
#include "protocol/requirements.hpp"
#include "protocol/reviews.hpp"

#include <algorithm>

namespace parley {
using detail::bad_request;
using detail::conflict;
using detail::forbidden;
using detail::ids_json;
using detail::int_field;
using detail::make_event;
using detail::not_found;
using detail::object_field;
using detail::string_field;

namespace {

std::optional<engagement_phase> next_phase(engagement_phase p) {
  if (p == engagement_phase::closed || p == engagement_phase::declined) return std::nullopt;
  return static_cast<engagement_phase>(static_cast<int>(p) + 1);
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
  if (to == engagement_phase::active) return check_requirements_met(s);
  if (to == engagement_phase::closed) return check_no_delivery_awaits(s);
  return {};
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

// The byte budget of open proposals or flags: `bytes` more must fit beside
// the `used` ones (engagement_limits, content_bytes).
result<void> check_room(std::size_t used, std::size_t bytes, std::size_t budget, std::string_view what,
                        std::string_view content) {
  if (bytes <= budget && used <= budget - bytes) return {};
  return conflict("the open " + std::string(what) + " of an engagement hold at most " + std::to_string(budget) +
                  " bytes of " + std::string(content) + ": " + std::to_string(used) + " are held, this one needs " +
                  std::to_string(bytes));
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
  if (auto room = check_room(s.open_flag_bytes, content_bytes(string_field(p.body, "text").value_or(""), nullptr),
                             limits.open_flag_bytes, "flags", "text");
      !room) {
    return room.err();
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

// The count and byte budgets of open proposals: one more that breaks either is
// refused before anything is stored.
result<void> check_proposal_room(const engagement_state& s, const post_request& p, const engagement_limits& limits) {
  if (s.proposals.size() >= limits.open_proposals) {
    return conflict("an engagement holds at most " + std::to_string(limits.open_proposals) + " open proposals");
  }
  const auto bytes = content_bytes(string_field(p.body, "text").value_or(""), &object_field(p.body, "terms"));
  return check_room(s.open_proposal_bytes, bytes, limits.open_proposal_bytes, "proposals", "text and terms");
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
    if (auto room = check_proposal_room(s, p, limits); !room) return room.err();
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
  if (*topic == "call") {
    if (auto slots = check_call_slots(terms, p.checked_at_ms); !slots) return slots.err();
  }
  if (auto room = check_proposal_room(s, p, limits); !room) return room.err();
  return pl;
}

// The invitation (protocol §9.1) is answered by the expert it names, once:
// accepted, it is recorded and the engagement enters discovery; rejected, it
// is declined for good.
result<plan> check_invitation_answer(const engagement_state& s, const user& actor, const engagement_proposal& pr,
                                     bool accepted, plan pl) {
  auto expert = named_party(s, side::expert);
  if (actor.role != user_role::expert || !expert || *expert != actor.id) {
    return forbidden("only the invited expert answers the invitation");
  }
  if (s.phase != engagement_phase::invited) return conflict("the invitation is already answered");
  const auto to = accepted ? engagement_phase::discovery : engagement_phase::declined;
  pl.events.push_back(
      server_event(s, "phase", boost::json::object{{"from", phase_name(s.phase)}, {"to", phase_name(to)}}));
  if (accepted) pl.record = make_record(s, pr, {actor.id});
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
  // A decision naming a delivery (deliveries.hpp) rather than an open proposal.
  if (it == s.proposals.end() && p.ch.type == channel_type::engagement) {
    if (auto answered = check_delivery_decision(s, actor, p, pl)) return std::move(*answered);
  }
  if (it == s.proposals.end()) {
    if (is_expired(s, ch, *seq)) return conflict("proposal " + std::to_string(*seq) + " expired");
    return closed_or_missing(p, "proposal", *seq, last_proposal_in(s, ch),
                             "proposal " + std::to_string(*seq) + " is already decided (or lapsed)",
                             "no proposal " + std::to_string(*seq) + " in " + ch);
  }
  const auto& pr = *it->second;
  const bool accepted = *verdict == "accepted";
  auto call_terms = call_decision_terms(s, pr, p.body, accepted, p.checked_at_ms);
  if (!call_terms) return call_terms.err();
  if (pr.topic == "invitation") return check_invitation_answer(s, actor, pr, accepted, std::move(pl));

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
  // An accepted call is recorded with the slot it chose.
  if (*call_terms) pl.record->fields["terms"] = std::move(**call_terms);
  return pl;
}

// An acknowledgement (protocol §9.2) is recorded like a proposal its author
// accepts at once, through the same record path; no proposal event precedes
// it, so the record's decision_seq is the acknowledgement's own seq.
result<plan> check_acknowledgement_post(const engagement_state& s, const user& actor, const post_request& p, plan pl) {
  auto recorded = check_acknowledgement(s, actor, p);
  if (!recorded) return recorded.err();
  pl.record = make_record(s, *recorded, {actor.id});
  pl.record->fields["proposal_seq"] = nullptr;
  return pl;
}

// A review (protocol §9.7) is stored sealed: the event holds only its
// commitment, the review itself goes beside it (plan::sealed).
result<plan> check_review_post(const engagement_state& s, const user& actor, const post_request& p, plan pl,
                               const engagement_limits& limits) {
  if (auto ok = check_review(s, actor, p.checked_at_ms, limits.review_period_ms); !ok) return ok.err();
  auto sealed = seal_review(p.body, p.salt);
  pl.events.front().body = std::move(sealed.body);
  pl.sealed = std::move(sealed.sealed);
  return pl;
}

}  // namespace

result<plan> check(const engagement_state& s, const user& actor, const post_request& p,
                   const engagement_limits& limits) {
  if (p.ch.type == channel_type::support) return check_support_post(actor, p);
  if (p.ch.eng != s.eng) return make_error(errc::internal, "state of the wrong engagement");
  plan pl;
  pl.events.push_back(make_event(p.ch.name(), p.kind, actor, p.body, p.cid));
  if (auto joined = check_join(s, p.ch); !joined) return joined.err();
  if (!is_client_kind(p.kind)) return bad_request("kind " + p.kind + " cannot be posted");
  if (s.phase == engagement_phase::declined) {
    return conflict("the invitation of engagement " + s.eng + " was declined: it is read-only");
  }
  // An engagement created by the platform has exactly the two parties it names.
  if (auto party = side_of(actor.role)) {
    if (auto named = named_party(s, *party); named && *named != actor.id) {
      return forbidden("the " + std::string(side_name(*party)) + " of engagement " + s.eng + " is another user");
    }
  }
  const bool closed = s.phase == engagement_phase::closed;

  // Proposals and decisions ask the table themselves: who proposes depends on the topic.
  if (p.kind != "proposal" && p.kind != "decision" && !role_may_post(actor.role, p.ch.type, p.kind)) {
    return forbidden(wrong_role_or_place(actor.role, p.ch, p.kind));
  }
  if (p.kind == "message") return pl;
  // While invited, only messages and the expert's answer to the invitation.
  if (s.phase == engagement_phase::invited && p.kind != "decision") {
    return conflict("engagement " + s.eng + " awaits the expert's answer to its invitation");
  }
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
  if (p.kind == "acknowledgement") return check_acknowledgement_post(s, actor, p, std::move(pl));
  if (p.kind == "delivery") return check_delivery(s, actor, p, std::move(pl), limits);
  if (p.kind == "revision_request") return check_revision_request(s, actor, p, std::move(pl));
  if (p.kind == "review") return check_review_post(s, actor, p, std::move(pl), limits);
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

std::optional<std::pair<std::string, std::int64_t>> target_lookup(const engagement_state& s, const post_request& p) {
  if (p.ch.type == channel_type::support) return std::nullopt;
  if (auto delivery = delivery_target_lookup(s, p)) return delivery;
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

}  // namespace parley
