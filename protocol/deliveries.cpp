#include "protocol/deliveries.hpp"

#include "protocol/engagement_detail.hpp"

#include <algorithm>
#include <limits>

namespace parley {
using boost::json::array;
using boost::json::object;
using boost::json::value;
using detail::bad_request;
using detail::conflict;
using detail::forbidden;
using detail::int_field;
using detail::make_event;
using detail::not_found;
using detail::string_field;

namespace {

constexpr std::string_view submitted = "submitted";
constexpr std::string_view revision_requested = "revision_requested";
constexpr std::string_view accepted = "accepted";

std::int64_t setting(const engagement_state& s, std::string_view key, std::int64_t fallback) {
  if (!s.invitation) return fallback;
  const auto* settings = s.invitation->if_contains("settings");
  if (!settings || !settings->is_object()) return fallback;
  return int_field(settings->get_object(), key).value_or(fallback);
}

// The deliverable whose latest version is delivery `seq`; null when none is.
const deliverable* latest_with_seq(const engagement_state& s, std::int64_t seq) {
  for (const auto& [key, d] : s.deliverables) {
    if (d->seq == seq) return d.get();
  }
  return nullptr;
}

bool dispute_open(const engagement_state& s) {
  return std::any_of(s.flags.begin(), s.flags.end(), [](const auto& kv) { return kv.second->type == "dispute"; });
}

// The first deliverable (by its latest seq) awaiting the client, other than `except`.
const deliverable* first_awaiting(const engagement_state& s, const deliverable* except = nullptr) {
  const deliverable* first = nullptr;
  for (const auto& [key, d] : s.deliverables) {
    if (d.get() == except || d->status != submitted) continue;
    if (!first || d->seq < first->seq) first = d.get();
  }
  return first;
}

std::string delivery_name(std::int64_t seq) { return "delivery " + std::to_string(seq); }

// A seq that names no latest delivery: an older version (`conflict`) or no
// delivery at all (`not_found`). Without the stored event's kind, a seq up to
// the highest delivery seen counts as an older version.
error not_latest_or_missing(const engagement_state& s, const post_request& p, std::int64_t seq) {
  const bool older = p.target_kind ? *p.target_kind == "delivery" : seq > 0 && seq <= s.last_delivery_seq;
  if (older) return conflict(delivery_name(seq) + " is not the latest version of its deliverable");
  return not_found("no delivery " + std::to_string(seq) + " in " + channel::main(s.eng));
}

// The client may answer the latest version only while it awaits an answer.
result<void> check_awaits(const deliverable& d) {
  if (d.status == accepted) return conflict(delivery_name(d.seq) + " is already accepted");
  if (d.status == revision_requested) {
    return conflict(delivery_name(d.seq) + " already has a revision request: a new version is awaited");
  }
  return {};
}

result<void> check_client(const engagement_state& s, const user& actor, std::string_view what) {
  if (side_of(actor.role) != side::client) return forbidden("only the client " + std::string(what));
  if (s.phase == engagement_phase::closed) return conflict("the engagement is closed");
  return {};
}

record_draft delivery_record(const engagement_state& s, const deliverable& d, std::vector<std::string> accepted_by) {
  record_draft r;
  r.fields = {{"eng", s.eng},
              {"ch", channel::main(s.eng)},
              {"topic", "delivery"},
              {"terms", object{{"deliverable", d.key}, {"version", d.version}, {"final", d.final}, {"files", d.files}}},
              {"text", d.text},
              {"proposed_by", d.by},
              {"accepted_by", detail::ids_json(accepted_by)},
              {"proposal_seq", d.seq}};
  r.attach_to = 0;
  return r;
}

// Accepting `d` (events[0] of `pl` is the decision): the record, and when it
// is a final delivery accepted in `completion` with nothing else awaiting the
// client, the engagement's close in the same append. This close is the
// platform's payment trigger (the `engagement.completed` hook of §9.8 goes here).
void accept_delivery(const engagement_state& s, const deliverable& d, std::vector<std::string> accepted_by, plan& pl) {
  pl.record = delivery_record(s, d, std::move(accepted_by));
  if (d.final && s.phase == engagement_phase::completion && !first_awaiting(s, &d)) {
    pl.events.push_back(make_event(channel::main(s.eng), "phase", system_user(),
                                   object{{"from", phase_name(s.phase)}, {"to", phase_name(engagement_phase::closed)}}));
  }
}

std::int64_t saturating_sub(std::int64_t a, std::int64_t b) {
  if (a < std::numeric_limits<std::int64_t>::min() + b) return std::numeric_limits<std::int64_t>::min();
  return a - b;
}

// When `d`'s next automatic step is due: its warning until that is stored, then its acceptance.
std::int64_t step_due(const deliverable& d, std::int64_t warning_ms) {
  const auto due = d.review_due.value_or(0);
  return d.warned ? due : saturating_sub(due, warning_ms);
}

template <class Mutate>
void update(engagement_state& s, const std::string& key, Mutate mutate) {
  auto it = s.deliverables.find(key);
  if (it == s.deliverables.end()) return;
  auto next = std::make_shared<deliverable>(*it->second);
  mutate(*next);
  it->second = std::move(next);
}

}  // namespace

bool is_deliverable_key(std::string_view key) {
  if (key.empty() || key.size() > max_deliverable_key_chars) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::int64_t revisions_allowed(const engagement_state& s) {
  return setting(s, "revisions", default_settings_revisions);
}

std::int64_t review_window_ms(const engagement_state& s, const engagement_limits& limits) {
  const auto days = setting(s, "review_days", default_settings_review_days);
  return limits.review_window_ms / default_settings_review_days * days +
         limits.review_window_ms % default_settings_review_days * days / default_settings_review_days;
}

result<plan> check_delivery(const engagement_state& s, const user& actor, const post_request& p, plan pl,
                            const engagement_limits& limits) {
  if (actor.role != user_role::expert) return forbidden("only the expert delivers");
  if (s.phase != engagement_phase::active && s.phase != engagement_phase::completion) {
    return conflict("deliveries are made in active and completion: the engagement is in " +
                    std::string(phase_name(s.phase)));
  }
  const std::string key(string_field(p.body, "deliverable").value_or(""));
  if (!is_deliverable_key(key)) return bad_request("deliverable must be 1-64 characters of a-z, 0-9, _ and -");
  const auto* files = p.body.if_contains("files");
  if (!files || !files->is_array() || files->get_array().empty() ||
      files->get_array().size() > max_delivery_files) {
    return bad_request("a delivery needs files: 1 to " + std::to_string(max_delivery_files));
  }
  auto it = s.deliverables.find(key);
  if (it == s.deliverables.end() && s.deliverables.size() >= max_deliverables) {
    return conflict("an engagement holds at most " + std::to_string(max_deliverables) + " deliverables");
  }
  auto& body = pl.events.front().body;
  body["version"] = it == s.deliverables.end() ? 1 : it->second->version + 1;
  body["review_due"] = p.checked_at_ms + review_window_ms(s, limits);
  return pl;
}

result<plan> check_revision_request(const engagement_state& s, const user& actor, const post_request& p, plan pl) {
  if (auto client = check_client(s, actor, "requests revisions"); !client) return client.err();
  const auto seq = int_field(p.body, "delivery").value_or(0);
  const auto* d = latest_with_seq(s, seq);
  if (!d) return not_latest_or_missing(s, p, seq);
  if (auto awaits = check_awaits(*d); !awaits) return awaits.err();
  const auto allowed = revisions_allowed(s);
  if (d->revisions_used >= allowed) {
    return conflict("deliverable " + d->key + " allows " + std::to_string(allowed) +
                    " revision requests: all are used");
  }
  return pl;
}

std::optional<result<plan>> check_delivery_decision(const engagement_state& s, const user& actor,
                                                    const post_request& p, plan& pl) {
  const auto seq = int_field(p.body, "proposal").value_or(0);
  const auto* d = latest_with_seq(s, seq);
  if (!d) {
    if (p.target_kind && *p.target_kind == "delivery") return result<plan>(not_latest_or_missing(s, p, seq));
    return std::nullopt;
  }
  if (auto client = check_client(s, actor, "decides " + delivery_name(seq)); !client) {
    return result<plan>(client.err());
  }
  if (string_field(p.body, "verdict").value_or("") != accepted) {
    return result<plan>(bad_request("a delivery is accepted or answered with a revision_request {delivery, text}: "
                                    "it is not rejected"));
  }
  if (p.body.contains("slot")) return result<plan>(bad_request("slot is given only when accepting a call"));
  if (auto awaits = check_awaits(*d); !awaits) return result<plan>(awaits.err());
  accept_delivery(s, *d, {actor.id}, pl);
  return result<plan>(std::move(pl));
}

result<void> check_no_delivery_awaits(const engagement_state& s) {
  if (const auto* d = first_awaiting(s)) return conflict(delivery_name(d->seq) + " awaits the client's decision");
  return {};
}

std::optional<std::pair<std::string, std::int64_t>> delivery_target_lookup(const engagement_state& s,
                                                                          const post_request& p) {
  if (p.ch.type != channel_type::engagement) return std::nullopt;
  const auto main = channel::main(s.eng);
  std::optional<std::int64_t> seq;
  if (p.kind == "revision_request") seq = int_field(p.body, "delivery");
  if (p.kind == "decision") {
    seq = int_field(p.body, "proposal");
    if (seq && s.proposals.count({main, *seq})) return std::nullopt;
  }
  if (!seq || *seq <= 0 || latest_with_seq(s, *seq)) return std::nullopt;
  auto head = s.applied.find(main);
  if (head == s.applied.end() || *seq > head->second) return std::nullopt;
  return std::make_pair(main, *seq);
}

void apply_delivery_event(engagement_state& s, const event& ev) {
  if (ev.kind == "delivery") {
    if (ev.from.role != user_role::expert) return;
    const std::string key(string_field(ev.body, "deliverable").value_or(""));
    if (key.empty()) return;
    auto& slot = s.deliverables[key];
    auto d = slot ? std::make_shared<deliverable>(*slot) : std::make_shared<deliverable>();
    d->key = key;
    d->version = int_field(ev.body, "version").value_or(d->version + 1);
    d->seq = ev.seq;
    d->status = submitted;
    d->review_due = int_field(ev.body, "review_due").value_or(ev.ts);
    d->warned = false;
    const auto* final = ev.body.if_contains("final");
    d->final = final && final->is_bool() && final->get_bool();
    d->by = ev.from.id;
    d->text = std::string(string_field(ev.body, "text").value_or(""));
    d->files.clear();
    if (const auto* files = ev.body.if_contains("files"); files && files->is_array()) {
      for (const auto& f : files->get_array()) {
        if (!f.is_object()) continue;
        const auto& o = f.get_object();
        d->files.push_back(object{{"name", string_field(o, "name").value_or("")},
                                  {"sha256", string_field(o, "sha256").value_or("")},
                                  {"size", int_field(o, "size").value_or(0)}});
      }
    }
    slot = std::move(d);
    s.last_delivery_seq = std::max(s.last_delivery_seq, ev.seq);
    return;
  }
  const auto* d = latest_with_seq(s, int_field(ev.body, "delivery").value_or(0));
  if (!d) return;
  if (ev.kind == "revision_request" && d->status == submitted) {
    update(s, d->key, [](deliverable& next) {
      next.status = revision_requested;
      ++next.revisions_used;
      next.review_due.reset();
    });
  } else if (ev.kind == "review_due_soon" && ev.from.role == user_role::system) {
    update(s, d->key, [](deliverable& next) { next.warned = true; });
  }
}

bool apply_delivery_decision(engagement_state& s, const event& ev) {
  const auto* d = latest_with_seq(s, int_field(ev.body, "proposal").value_or(0));
  if (!d) return false;
  if (d->status == submitted && string_field(ev.body, "verdict").value_or("") == accepted) {
    update(s, d->key, [](deliverable& next) {
      next.status = accepted;
      next.review_due.reset();
    });
  }
  return true;
}

void extend_overdue_reviews(engagement_state& s, std::int64_t now_ms) {
  if (dispute_open(s)) return;
  for (auto& [key, d] : s.deliverables) {
    if (d->status != submitted || d->review_due.value_or(0) > now_ms) continue;
    auto next = std::make_shared<deliverable>(*d);
    next->review_due = now_ms + review_extension_ms;
    d = std::move(next);
  }
}

object deliverables_json(const engagement_state& s) {
  object out;
  for (const auto& [key, d] : s.deliverables) {
    out[key] = object{{"version", d->version},
                      {"seq", d->seq},
                      {"status", d->status},
                      {"review_due", d->status == submitted && d->review_due ? value(*d->review_due) : value(nullptr)},
                      {"revisions_used", d->revisions_used},
                      {"final", d->final}};
  }
  return out;
}

std::optional<std::int64_t> next_review_step(const engagement_state& s, std::int64_t warning_ms) {
  if (dispute_open(s)) return std::nullopt;
  std::optional<std::int64_t> earliest;
  for (const auto& [key, d] : s.deliverables) {
    if (d->status != submitted) continue;
    const auto due = step_due(*d, warning_ms);
    if (!earliest || due < *earliest) earliest = due;
  }
  return earliest;
}

std::vector<review_step> due_review_steps(const engagement_state& s, std::int64_t now_ms, std::int64_t warning_ms) {
  std::vector<review_step> out;
  if (dispute_open(s)) return out;
  std::vector<const deliverable*> awaiting;
  for (const auto& [key, d] : s.deliverables) {
    if (d->status == submitted && step_due(*d, warning_ms) <= now_ms) awaiting.push_back(d.get());
  }
  std::sort(awaiting.begin(), awaiting.end(), [](const auto* a, const auto* b) { return a->seq < b->seq; });
  for (const auto* d : awaiting) {
    review_step step;
    const auto main = channel::main(s.eng);
    if (d->review_due.value_or(0) <= now_ms) {
      step.acceptance = true;
      step.steps.events.push_back(make_event(main, "decision", system_user(),
                                             object{{"proposal", d->seq}, {"verdict", accepted}, {"auto", true}},
                                             "auto_accept:" + std::to_string(d->seq)));
      accept_delivery(s, *d, {std::string(system_user().id)}, step.steps);
    } else {
      step.steps.events.push_back(make_event(main, "review_due_soon", system_user(),
                                             object{{"delivery", d->seq},
                                                    {"deliverable", d->key},
                                                    {"version", d->version},
                                                    {"review_due", d->review_due.value_or(0)}},
                                             "review_due_soon:" + std::to_string(d->seq)));
    }
    out.push_back(std::move(step));
  }
  return out;
}

}  // namespace parley
