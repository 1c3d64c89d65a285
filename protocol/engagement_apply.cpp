#include "protocol/engagement.hpp"

#include "protocol/calls.hpp"
#include "protocol/deliveries.hpp"
#include "protocol/engagement_detail.hpp"
#include "protocol/requirements.hpp"
#include "protocol/reviews.hpp"

#include <algorithm>

namespace parley {
using detail::int_field;
using detail::object_field;
using detail::string_field;

namespace {

side other_side(side s) { return s == side::client ? side::expert : side::client; }

// Every open proposal and flag enters and leaves the state through these, so
// the byte totals always equal the sums over what is open.
void open_proposal(engagement_state& s, engagement_proposal pr) {
  pr.bytes = content_bytes(pr.text, &pr.terms);
  auto& slot = s.proposals[{pr.ch, pr.seq}];
  if (slot) s.open_proposal_bytes -= slot->bytes;
  s.open_proposal_bytes += pr.bytes;
  slot = std::make_shared<const engagement_proposal>(std::move(pr));
}

using proposal_slot = decltype(engagement_state::proposals)::iterator;
void close_proposal(engagement_state& s, proposal_slot it) {
  s.open_proposal_bytes -= it->second->bytes;
  s.proposals.erase(it);
}

void open_flag(engagement_state& s, engagement_flag f) {
  f.bytes = content_bytes(f.text, nullptr);
  auto& slot = s.flags[f.seq];
  if (slot) s.open_flag_bytes -= slot->bytes;
  s.open_flag_bytes += f.bytes;
  slot = std::make_shared<const engagement_flag>(std::move(f));
}

void close_flag(engagement_state& s, std::int64_t seq) {
  auto it = s.flags.find(seq);
  if (it == s.flags.end()) return;
  s.open_flag_bytes -= it->second->bytes;
  s.flags.erase(it);
}

// Topics whose accepted terms are merged into the agreement (protocol §1).
bool amends_agreement(std::string_view topic) {
  return topic == "agreement" || topic == "scope_change" || topic == "timeline" || topic == "compensation";
}

void apply_message(engagement_state& s, const event& ev) {
  auto speaker = side_of(ev.from.role);
  if (!speaker || s.phase == engagement_phase::closed || s.phase == engagement_phase::declined) return;
  s.last_speaker[static_cast<std::size_t>(*speaker)] = ev.from.id;
  // The side that spoke last is owed an answer from the first of its unanswered
  // messages; an answer from the owing side turns the debt around.
  if (s.owed_reply && s.owed_reply->owing == other_side(*speaker)) return;
  s.owed_reply = reply_debt{other_side(*speaker), ev.seq, ev.ts};
}

// An accepted proposal whose terms hold `due` sets the agreed due date (§9.4);
// the latest acceptance wins.
void take_agreed_due(engagement_state& s, const engagement_proposal& pr) {
  if (auto due = int_field(pr.terms, "due")) s.agreed_due = *due;
}

void apply_decision(engagement_state& s, const event& ev) {
  auto seq = int_field(ev.body, "proposal");
  auto verdict = string_field(ev.body, "verdict");
  if (!seq || !verdict) return;
  if (ev.ch == channel::main(s.eng) && apply_delivery_decision(s, ev)) return;
  auto it = s.proposals.find({ev.ch, *seq});
  if (it == s.proposals.end()) return;
  const auto& pr = *it->second;
  // A decided proposal leaves the state: it lives on in its events and the decision log.
  if (*verdict != "accepted") {
    close_proposal(s, it);
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
    close_flag(s, int_field(pr.terms, "flag").value_or(0));
    extend_overdue_reviews(s, ev.ts);
    take_agreed_due(s, pr);
    close_proposal(s, it);
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
  take_agreed_due(s, pr);
  if (pr.topic == "call") schedule_call(s, pr, ev.body);
  close_proposal(s, it);
}

// A proposal that expired leaves the state; its seq is remembered (bounded)
// so that deciding it can say why it is refused.
void apply_expired(engagement_state& s, const event& ev) {
  auto it = s.proposals.find({ev.ch, int_field(ev.body, "proposal").value_or(0)});
  if (it == s.proposals.end()) return;
  using expired_set = std::set<std::pair<bool, std::int64_t>>;
  auto expired = s.expired_proposals ? std::make_shared<expired_set>(*s.expired_proposals)
                                     : std::make_shared<expired_set>();
  expired->emplace(ev.ch != channel::main(s.eng), it->first.second);
  // Forgets the lowest seq of eng:<id> first (it sorts before its mediation channel).
  while (expired->size() > max_expired_remembered) expired->erase(expired->begin());
  s.expired_proposals = std::move(expired);
  close_proposal(s, it);
}

void apply_phase(engagement_state& s, const event& ev) {
  auto to = parse_phase(string_field(ev.body, "to").value_or(""));
  if (!to) return;
  s.phase = *to;
  s.phase_since_ms = ev.ts;
  // The opening event of an engagement created by the platform carries its invitation.
  if (const auto* inv = ev.body.if_contains("invitation"); inv && inv->is_object() && !s.invitation) {
    s.invitation = std::make_shared<const boost::json::object>(inv->get_object());
  }
  if (*to == engagement_phase::closed || *to == engagement_phase::declined) {
    // Nothing but a resolution can be decided any more; service levels stop.
    for (auto it = s.proposals.begin(); it != s.proposals.end();) {
      auto next = std::next(it);
      if (it->second->topic != "resolution") close_proposal(s, it);
      it = next;
    }
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
    if (p && since) {
      s.phase_miss_posted = std::make_pair(*p, *since);
      s.phase_miss_due = int_field(ev.body, "due");
    }
  }
}

}  // namespace

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
    open_flag(s, std::move(f));
    s.last_flag_seq = std::max(s.last_flag_seq, ev.seq);
  } else if (ev.kind == "flag_update") {
    auto it = s.flags.find(int_field(ev.body, "flag").value_or(0));
    auto state = string_field(ev.body, "state");
    if (main && it != s.flags.end() && state) {
      if (*state == "resolved") {
        close_flag(s, it->first);  // a resolved flag leaves the state
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
    pr.ts = ev.ts;
    open_proposal(s, std::move(pr));
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
  } else if (ev.kind == "acknowledgement") {
    if (main) apply_acknowledgement(s, ev);
  } else if (ev.kind == "proposal_expired") {
    if (ev.from.role == user_role::system) apply_expired(s, ev);
  } else if (ev.kind == "reminder") {
    if (main) mark_call_reminded(s, ev);
  } else if (ev.kind == "delivery" || ev.kind == "revision_request" || ev.kind == "review_due_soon") {
    if (main) apply_delivery_event(s, ev);
  } else if (ev.kind == "review") {
    if (main) apply_review(s, ev);
  } else if (ev.kind == "reviews") {
    if (main) apply_reveal(s, ev);
  }
  return true;
}

bool is_expired(const engagement_state& s, const std::string& ch, std::int64_t seq) {
  return s.expired_proposals && s.expired_proposals->count({ch != channel::main(s.eng), seq}) > 0;
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
