#include "protocol/engagement_snapshot.hpp"

#include "protocol/invitation.hpp"
#include "protocol/json_input.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <limits>
#include <numeric>
#include <variant>

namespace parley {
namespace {

using boost::json::array;
using boost::json::object;
using boost::json::value;

// Every field is written and read below, one by one: a new field must be added
// to the snapshot (snapshot_text and parse_snapshot) and snapshot_format bumped,
// or a restored state silently loses it. The size (x86-64, libstdc++) changes
// with the fields, so adding one stops here.
static_assert(sizeof(engagement_state) == 832,
              "engagement_state changed: snapshot the new field and bump snapshot_format");

// A snapshot nests what stored events hold one level deeper at most (a
// proposal's terms sit in the proposals list): stored events allow 64 levels,
// so any state that replays also snapshots, and anything deeper is damage.
constexpr int max_snapshot_depth = 128;

// ---- Writing: the JSON of each type, its keys named as the C++ members.

value json_of(std::int64_t v) { return v; }
value json_of(int v) { return static_cast<std::int64_t>(v); }
value json_of(std::size_t v) { return static_cast<std::int64_t>(v); }
value json_of(bool v) { return v; }
value json_of(const std::string& v) { return value(v); }
value json_of(const object& v) { return v; }
value json_of(const array& v) { return v; }
value json_of(side v) { return value(side_name(v)); }
value json_of(engagement_phase v) { return value(phase_name(v)); }
value json_of(const engagement_flag& f);
value json_of(const engagement_proposal& pr);
value json_of(const reply_debt& d);
value json_of(const scheduled_call& c);
value json_of(const deliverable& d);
value json_of(const party_review& r);
value json_of(const engagement_agreement& a);
value json_of(const decltype(engagement_state::flags)& m);
value json_of(const decltype(engagement_state::proposals)& m);
value json_of(const decltype(engagement_state::deliverables)& m);
template <class T>
value json_of(const std::optional<T>& v);
template <class T>
value json_of(const std::shared_ptr<const T>& p);
template <class A, class B>
value json_of(const std::pair<A, B>& p);
template <class T>
value json_of(const std::vector<T>& v);
template <class T, std::size_t N>
value json_of(const std::array<T, N>& v);
template <class T>
value json_of(const std::set<T>& v);
template <class T>
value json_of(const std::map<std::string, T>& m);

template <class T>
value json_of(const std::optional<T>& v) {
  return v ? json_of(*v) : value(nullptr);
}
template <class T>
value json_of(const std::shared_ptr<const T>& p) {
  return p ? json_of(*p) : value(nullptr);
}
template <class A, class B>
value json_of(const std::pair<A, B>& p) {
  return array{json_of(p.first), json_of(p.second)};
}
template <class Range>
value list_json(const Range& items) {
  array out;
  for (const auto& item : items) out.push_back(json_of(item));
  return out;
}
template <class T>
value json_of(const std::vector<T>& v) {
  return list_json(v);
}
template <class T, std::size_t N>
value json_of(const std::array<T, N>& v) {
  return list_json(v);
}
template <class T>
value json_of(const std::set<T>& v) {
  return list_json(v);
}
// Maps keyed by a channel or a requirement key: a JSON object.
template <class T>
value json_of(const std::map<std::string, T>& m) {
  object out;
  for (const auto& [key, v] : m) out[key] = json_of(v);
  return out;
}
// Flags, proposals and deliverables: the list of their values. Each map's key
// is a field of its value (apply files them so), read back from it.
template <class Map>
value values_json(const Map& m) {
  array out;
  for (const auto& [key, v] : m) out.push_back(json_of(*v));
  return out;
}
value json_of(const decltype(engagement_state::flags)& m) { return values_json(m); }
value json_of(const decltype(engagement_state::proposals)& m) { return values_json(m); }
value json_of(const decltype(engagement_state::deliverables)& m) { return values_json(m); }

value json_of(const engagement_flag& f) {
  return object{{"seq", json_of(f.seq)},   {"type", json_of(f.type)}, {"state", json_of(f.state)},
                {"text", json_of(f.text)}, {"by", json_of(f.by)},     {"bytes", json_of(f.bytes)}};
}

value json_of(const engagement_proposal& pr) {
  return object{{"seq", json_of(pr.seq)},
                {"ch", json_of(pr.ch)},
                {"topic", json_of(pr.topic)},
                {"text", json_of(pr.text)},
                {"terms", json_of(pr.terms)},
                {"by", json_of(pr.by)},
                {"by_side", json_of(pr.by_side)},
                {"accepted_by", json_of(pr.accepted_by)},
                {"accepted_sides", json_of(pr.accepted_sides)},
                {"ts", json_of(pr.ts)},
                {"bytes", json_of(pr.bytes)}};
}

value json_of(const reply_debt& d) {
  return object{{"owing", json_of(d.owing)}, {"since_seq", json_of(d.since_seq)}, {"since_ts", json_of(d.since_ts)}};
}

value json_of(const scheduled_call& c) {
  return object{{"proposal", json_of(c.proposal)}, {"start", json_of(c.start)}, {"minutes", json_of(c.minutes)},
                {"link", json_of(c.link)},         {"tz", json_of(c.tz)},       {"reminded", json_of(c.reminded)}};
}

value json_of(const deliverable& d) {
  return object{{"key", json_of(d.key)},
                {"version", json_of(d.version)},
                {"seq", json_of(d.seq)},
                {"status", json_of(d.status)},
                {"revisions_used", json_of(d.revisions_used)},
                {"final", json_of(d.final)},
                {"review_due", json_of(d.review_due)},
                {"warned", json_of(d.warned)},
                {"by", json_of(d.by)},
                {"text", json_of(d.text)},
                {"files", json_of(d.files)}};
}

value json_of(const party_review& r) {
  return object{{"by", json_of(r.by)}, {"seq", json_of(r.seq)}, {"commitment", json_of(r.commitment)}};
}

value json_of(const engagement_agreement& a) {
  return object{{"terms", json_of(a.terms)}, {"version", json_of(a.version)}};
}

// ---- Reading: one overload per type, each true only when `v` holds that
// type; nothing is read before its type is checked.

bool read(const value& v, std::int64_t& out);
bool read(const value& v, int& out);
bool read(const value& v, std::size_t& out);
bool read(const value& v, bool& out);
bool read(const value& v, std::string& out);
bool read(const value& v, object& out);
bool read(const value& v, array& out);
bool read(const value& v, side& out);
bool read(const value& v, engagement_phase& out);
bool read(const value& v, engagement_flag& out);
bool read(const value& v, engagement_proposal& out);
bool read(const value& v, reply_debt& out);
bool read(const value& v, scheduled_call& out);
bool read(const value& v, deliverable& out);
bool read(const value& v, party_review& out);
bool read(const value& v, engagement_agreement& out);
bool read(const value& v, decltype(engagement_state::flags)& out);
bool read(const value& v, decltype(engagement_state::proposals)& out);
bool read(const value& v, decltype(engagement_state::deliverables)& out);
bool read(const value& v, decltype(engagement_state::calls)& out);
template <class T>
bool read(const value& v, std::optional<T>& out);
template <class T>
bool read(const value& v, std::shared_ptr<const T>& out);
template <class A, class B>
bool read(const value& v, std::pair<A, B>& out);
template <class T>
bool read(const value& v, std::vector<T>& out);
template <class T, std::size_t N>
bool read(const value& v, std::array<T, N>& out);
template <class T>
bool read(const value& v, std::set<T>& out);
template <class T>
bool read(const value& v, std::map<std::string, T>& out);

// The members of one object, each read once: all must be there with their
// types, and none may be left over (a snapshot of this format has exactly these).
class members {
 public:
  explicit members(const object& o) : o_(o) {}

  template <class T>
  bool get(std::string_view key, T& out) {
    ++wanted_;
    const auto* v = o_.if_contains(key);
    return v && read(*v, out);
  }
  bool all_read() const { return wanted_ == o_.size(); }

 private:
  const object& o_;
  std::size_t wanted_ = 0;
};

bool read(const value& v, std::int64_t& out) {
  const auto* i = v.if_int64();
  if (!i) return false;
  out = *i;
  return true;
}

bool read(const value& v, int& out) {
  std::int64_t i = 0;
  if (!read(v, i) || i < std::numeric_limits<int>::min() || i > std::numeric_limits<int>::max()) return false;
  out = static_cast<int>(i);
  return true;
}

// Byte counts: a negative one is damage.
bool read(const value& v, std::size_t& out) {
  std::int64_t i = 0;
  if (!read(v, i) || i < 0) return false;
  out = static_cast<std::size_t>(i);
  return true;
}

bool read(const value& v, bool& out) {
  const auto* b = v.if_bool();
  if (!b) return false;
  out = *b;
  return true;
}

bool read(const value& v, std::string& out) {
  const auto* s = v.if_string();
  if (!s) return false;
  out.assign(s->data(), s->size());
  return true;
}

bool read(const value& v, object& out) {
  const auto* o = v.if_object();
  if (!o) return false;
  out = *o;
  return true;
}

bool read(const value& v, array& out) {
  const auto* a = v.if_array();
  if (!a) return false;
  out = *a;
  return true;
}

bool read(const value& v, side& out) {
  const auto* s = v.if_string();
  if (!s) return false;
  for (side candidate : {side::client, side::expert}) {
    if (side_name(candidate) == std::string_view(*s)) {
      out = candidate;
      return true;
    }
  }
  return false;
}

bool read(const value& v, engagement_phase& out) {
  const auto* s = v.if_string();
  if (!s) return false;
  auto p = parse_phase(std::string_view(*s));
  if (!p) return false;
  out = *p;
  return true;
}

bool read(const value& v, engagement_flag& out) {
  const auto* o = v.if_object();
  if (!o) return false;
  members m(*o);
  return m.get("seq", out.seq) && m.get("type", out.type) && m.get("state", out.state) && m.get("text", out.text) &&
         m.get("by", out.by) && m.get("bytes", out.bytes) && m.all_read();
}

bool read(const value& v, engagement_proposal& out) {
  const auto* o = v.if_object();
  if (!o) return false;
  members m(*o);
  return m.get("seq", out.seq) && m.get("ch", out.ch) && m.get("topic", out.topic) && m.get("text", out.text) &&
         m.get("terms", out.terms) && m.get("by", out.by) && m.get("by_side", out.by_side) &&
         m.get("accepted_by", out.accepted_by) && m.get("accepted_sides", out.accepted_sides) &&
         m.get("ts", out.ts) && m.get("bytes", out.bytes) && m.all_read();
}

bool read(const value& v, reply_debt& out) {
  const auto* o = v.if_object();
  if (!o) return false;
  members m(*o);
  return m.get("owing", out.owing) && m.get("since_seq", out.since_seq) && m.get("since_ts", out.since_ts) &&
         m.all_read();
}

bool read(const value& v, scheduled_call& out) {
  const auto* o = v.if_object();
  if (!o) return false;
  members m(*o);
  return m.get("proposal", out.proposal) && m.get("start", out.start) && m.get("minutes", out.minutes) &&
         m.get("link", out.link) && m.get("tz", out.tz) && m.get("reminded", out.reminded) && m.all_read();
}

bool read(const value& v, deliverable& out) {
  const auto* o = v.if_object();
  if (!o) return false;
  members m(*o);
  return m.get("key", out.key) && m.get("version", out.version) && m.get("seq", out.seq) &&
         m.get("status", out.status) && m.get("revisions_used", out.revisions_used) && m.get("final", out.final) &&
         m.get("review_due", out.review_due) && m.get("warned", out.warned) && m.get("by", out.by) &&
         m.get("text", out.text) && m.get("files", out.files) && m.all_read();
}

bool read(const value& v, party_review& out) {
  const auto* o = v.if_object();
  if (!o) return false;
  members m(*o);
  return m.get("by", out.by) && m.get("seq", out.seq) && m.get("commitment", out.commitment) && m.all_read();
}

bool read(const value& v, engagement_agreement& out) {
  const auto* o = v.if_object();
  if (!o) return false;
  members m(*o);
  return m.get("terms", out.terms) && m.get("version", out.version) && m.all_read();
}

// A list of values filed by a key taken from each; a key listed twice is damage.
template <class Key, class T, class KeyOf>
bool read_keyed(const value& v, std::map<Key, std::shared_ptr<const T>>& out, KeyOf key_of) {
  const auto* a = v.if_array();
  if (!a) return false;
  for (const auto& item : *a) {
    T x;
    if (!read(item, x)) return false;
    auto key = key_of(x);
    if (!out.emplace(std::move(key), std::make_shared<const T>(std::move(x))).second) return false;
  }
  return true;
}

bool read(const value& v, decltype(engagement_state::flags)& out) {
  return read_keyed(v, out, [](const engagement_flag& f) { return f.seq; });
}

bool read(const value& v, decltype(engagement_state::proposals)& out) {
  return read_keyed(v, out, [](const engagement_proposal& pr) { return std::make_pair(pr.ch, pr.seq); });
}

bool read(const value& v, decltype(engagement_state::deliverables)& out) {
  return read_keyed(v, out, [](const deliverable& d) { return d.key; });
}

template <class T>
bool read(const value& v, std::optional<T>& out) {
  if (v.is_null()) {
    out.reset();
    return true;
  }
  T x{};
  if (!read(v, x)) return false;
  out = std::move(x);
  return true;
}

// Shared values: null stays null, anything else is rebuilt as a new immutable value.
template <class T>
bool read(const value& v, std::shared_ptr<const T>& out) {
  if (v.is_null()) {
    out.reset();
    return true;
  }
  T x{};
  if (!read(v, x)) return false;
  out = std::make_shared<const T>(std::move(x));
  return true;
}

template <class A, class B>
bool read(const value& v, std::pair<A, B>& out) {
  const auto* a = v.if_array();
  return a && a->size() == 2 && read((*a)[0], out.first) && read((*a)[1], out.second);
}

template <class T>
bool read(const value& v, std::vector<T>& out) {
  const auto* a = v.if_array();
  if (!a) return false;
  out.clear();
  out.reserve(a->size());
  for (const auto& item : *a) {
    T x{};
    if (!read(item, x)) return false;
    out.push_back(std::move(x));
  }
  return true;
}

// The calls: never null, unlike the state's other shared values.
bool read(const value& v, decltype(engagement_state::calls)& out) {
  std::vector<scheduled_call> calls;
  if (!read(v, calls)) return false;
  for (auto& c : calls) out.push_back(std::make_shared<const scheduled_call>(std::move(c)));
  return true;
}

template <class T, std::size_t N>
bool read(const value& v, std::array<T, N>& out) {
  const auto* a = v.if_array();
  if (!a || a->size() != N) return false;
  for (std::size_t i = 0; i < N; ++i) {
    if (!read((*a)[i], out[i])) return false;
  }
  return true;
}

template <class T>
bool read(const value& v, std::set<T>& out) {
  const auto* a = v.if_array();
  if (!a) return false;
  for (const auto& item : *a) {
    T x{};
    if (!read(item, x) || !out.insert(std::move(x)).second) return false;
  }
  return true;
}

template <class T>
bool read(const value& v, std::map<std::string, T>& out) {
  const auto* o = v.if_object();
  if (!o) return false;
  for (const auto& kv : *o) {
    T x{};
    if (!read(kv.value(), x)) return false;
    out.emplace(std::string(kv.key()), std::move(x));
  }
  return true;
}

// What the state's readers take for granted and a damaged text could break:
// apply subtracts each closed proposal's and flag's bytes from the totals (a
// total below its parts would wrap), the state's readers open the invitation
// with at() (one missing a field would throw), and a call is inserted by
// binary search on start.
bool holds_together(const engagement_state& s) {
  auto proposal_bytes = std::accumulate(s.proposals.begin(), s.proposals.end(), std::size_t{0},
                                        [](std::size_t sum, const auto& kv) { return sum + kv.second->bytes; });
  auto flag_bytes = std::accumulate(s.flags.begin(), s.flags.end(), std::size_t{0},
                                    [](std::size_t sum, const auto& kv) { return sum + kv.second->bytes; });
  if (proposal_bytes != s.open_proposal_bytes || flag_bytes != s.open_flag_bytes) return false;
  if (s.invitation && !validate_invitation(value(*s.invitation))) return false;
  return std::is_sorted(s.calls.begin(), s.calls.end(),
                        [](const auto& a, const auto& b) { return a->start < b->start; });
}

}  // namespace

std::string snapshot_text(const engagement_state& s) {
  object o;
  o["format"] = snapshot_format;
  o["eng"] = json_of(s.eng);
  o["phase"] = json_of(s.phase);
  o["phase_since_ms"] = json_of(s.phase_since_ms);
  o["invitation"] = json_of(s.invitation);
  o["acknowledged_by"] = json_of(s.acknowledged_by);
  o["agreement"] = json_of(s.agreement);
  o["agreement_accepted"] = json_of(s.agreement_accepted);
  o["flags"] = json_of(s.flags);
  o["proposals"] = json_of(s.proposals);
  o["open_proposal_bytes"] = json_of(s.open_proposal_bytes);
  o["open_flag_bytes"] = json_of(s.open_flag_bytes);
  o["last_flag_seq"] = json_of(s.last_flag_seq);
  o["last_proposal_seq"] = json_of(s.last_proposal_seq);
  o["mediation_open"] = json_of(s.mediation_open);
  o["mediation_exists"] = json_of(s.mediation_exists);
  o["owed_reply"] = json_of(s.owed_reply);
  o["last_status_ts"] = json_of(s.last_status_ts);
  o["agreed_due"] = json_of(s.agreed_due);
  o["expired_proposals"] = json_of(s.expired_proposals);
  o["calls"] = json_of(s.calls);
  o["deliverables"] = json_of(s.deliverables);
  o["last_delivery_seq"] = json_of(s.last_delivery_seq);
  o["last_speaker"] = json_of(s.last_speaker);
  o["reviews"] = json_of(s.reviews);
  o["revealed_reviews"] = json_of(s.revealed_reviews);
  o["reply_miss_posted"] = json_of(s.reply_miss_posted);
  o["status_miss_posted"] = json_of(s.status_miss_posted);
  o["phase_miss_posted"] = json_of(s.phase_miss_posted);
  o["phase_miss_due"] = json_of(s.phase_miss_due);
  o["applied"] = json_of(s.applied);
  return boost::json::serialize(o);
}

std::optional<engagement_state> parse_snapshot(std::string_view text) {
  // The parser of stored events (simdjson, correctly rounded): a number in
  // terms reads back as the same double, as it does from the events.
  auto parsed = detail::parse_strict_json(text, max_snapshot_depth);
  const auto* root = std::get_if<value>(&parsed);
  const auto* o = root ? root->if_object() : nullptr;
  if (!o) return std::nullopt;
  members m(*o);
  std::int64_t format = 0;
  if (!m.get("format", format) || format != snapshot_format) return std::nullopt;
  engagement_state s;
  const bool complete =
      m.get("eng", s.eng) && m.get("phase", s.phase) && m.get("phase_since_ms", s.phase_since_ms) &&
      m.get("invitation", s.invitation) && m.get("acknowledged_by", s.acknowledged_by) &&
      m.get("agreement", s.agreement) && m.get("agreement_accepted", s.agreement_accepted) &&
      m.get("flags", s.flags) && m.get("proposals", s.proposals) &&
      m.get("open_proposal_bytes", s.open_proposal_bytes) && m.get("open_flag_bytes", s.open_flag_bytes) &&
      m.get("last_flag_seq", s.last_flag_seq) && m.get("last_proposal_seq", s.last_proposal_seq) &&
      m.get("mediation_open", s.mediation_open) && m.get("mediation_exists", s.mediation_exists) &&
      m.get("owed_reply", s.owed_reply) && m.get("last_status_ts", s.last_status_ts) &&
      m.get("agreed_due", s.agreed_due) && m.get("expired_proposals", s.expired_proposals) &&
      m.get("calls", s.calls) && m.get("deliverables", s.deliverables) &&
      m.get("last_delivery_seq", s.last_delivery_seq) && m.get("last_speaker", s.last_speaker) &&
      m.get("reviews", s.reviews) && m.get("revealed_reviews", s.revealed_reviews) &&
      m.get("reply_miss_posted", s.reply_miss_posted) && m.get("status_miss_posted", s.status_miss_posted) &&
      m.get("phase_miss_posted", s.phase_miss_posted) && m.get("phase_miss_due", s.phase_miss_due) &&
      m.get("applied", s.applied);
  if (!complete || !m.all_read() || !holds_together(s)) return std::nullopt;
  return s;
}

}  // namespace parley
