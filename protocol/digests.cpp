#include "protocol/digests.hpp"

#include "protocol/hex.hpp"

#include <algorithm>

namespace parley {
namespace {

std::optional<std::int64_t> earlier(std::optional<std::int64_t> a, std::optional<std::int64_t> b) {
  if (!a || (b && *b < *a)) return b;
  return a;
}

// The latest seq `user` posted among the tail's events (0: none there).
std::int64_t own_latest(const channel_tail& tail, const std::string& user) {
  for (auto it = tail.events.rbegin(); it != tail.events.rend(); ++it)
    if (it->from == user) return it->seq;
  return 0;
}

// When event `seq` was stored: from the tail, or, for a stretch that began
// before it, the oldest event the tail holds (a later time: the digest is at
// most that late).
std::optional<std::int64_t> ts_of(const channel_tail& tail, std::int64_t seq) {
  if (tail.events.empty()) return std::nullopt;
  for (const auto& e : tail.events)
    if (e.seq >= seq) return e.ts;
  return std::nullopt;
}

// Does `who` owe a decision on proposal `p`? The other side's proposals, and
// support's resolutions until the party accepted; an invitation is the named
// expert's to answer.
bool owes_decision(const engagement_proposal& p, const digest_party& who) {
  if (p.by == who.user) return false;
  if (std::find(p.accepted_by.begin(), p.accepted_by.end(), who.user) != p.accepted_by.end()) return false;
  if (p.topic == "invitation") return who.party == side::expert;
  return !p.by_side || *p.by_side != who.party;
}

}  // namespace

std::vector<digest_party> digest_parties(const engagement_state& s) {
  std::vector<digest_party> out;
  for (auto party : {side::client, side::expert}) {
    std::string user;
    if (auto named = named_party(s, party)) {
      user = std::string(*named);
    } else {
      user = s.last_speaker[static_cast<std::size_t>(party)];
    }
    if (!user.empty()) out.push_back({std::move(user), party});
  }
  return out;
}

std::optional<std::int64_t> owed_next_due(const engagement_state& s, const digest_party& who,
                                          const sla_windows& windows) {
  std::optional<std::int64_t> due;
  if (owing_user(s) == who.user) due = reply_due(s, windows);
  if (who.party == side::client) {
    for (const auto& [key, d] : s.deliverables)
      if (d->status == "submitted") due = earlier(due, d->review_due);
  }
  for (const auto& [at, p] : s.proposals)
    if (owes_decision(*p, who)) due = earlier(due, p->ts + windows.proposal_ttl_ms);
  return due;
}

digest_decision decide_digest(const engagement_state& s, const party_reading& p, const channel_tail& tail,
                              const digest_settings& settings, const sla_windows& windows, std::int64_t now) {
  digest_decision out;
  if (s.phase == engagement_phase::closed || s.phase == engagement_phase::declined) return out;
  const auto read_point = std::max(p.read_seq, own_latest(tail, p.who.user));
  // What the last digest told is not told again: the stretch starts after it.
  const auto start = std::max(read_point, p.last.through);
  if (tail.head <= start) return out;
  const auto first = start + 1;
  auto first_ts = ts_of(tail, first);
  if (!first_ts) {
    // A tail that does not reach the head (the read raced an append): later.
    out.look_again = now + settings.after_ms;
    return out;
  }
  auto due = *first_ts + settings.after_ms;
  if (p.last.at > 0) due = std::max(due, p.last.at + settings.every_ms);
  if (p.present) {
    // Joined now, perhaps reading: looked at again once it could be due while away.
    out.look_again = std::max(due, now + settings.after_ms);
    return out;
  }
  if (due > now) {
    out.look_again = due;
    return out;
  }
  digest d;
  d.user = p.who.user;
  d.first = first;
  d.through = tail.head;
  d.unread = std::min(tail.head - read_point, max_digest_unread);
  d.owed_reply = owing_user(s) == p.who.user;
  d.next_due = owed_next_due(s, p.who, windows);
  out.send = std::move(d);
  return out;
}

std::string digest_id(std::string_view eng, const digest& d) {
  std::string key = "notify.digest\n";
  key += eng;
  key += '\n';
  key += d.user;
  key += '\n';
  key += std::to_string(d.first);
  return "wh_" + sha256_hex(key).substr(0, 32);
}

boost::json::object digest_data(const digest& d) {
  boost::json::object o{{"user", d.user}, {"unread", d.unread}, {"owed_reply", d.owed_reply}};
  if (d.next_due) {
    o["next_due"] = *d.next_due;
  } else {
    o["next_due"] = nullptr;
  }
  return o;
}

}  // namespace parley
