#include "protocol/reviews.hpp"

#include "protocol/decision_log.hpp"
#include "protocol/engagement_detail.hpp"
#include "protocol/hex.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <array>
#include <limits>

namespace parley {
using detail::bad_request;
using detail::conflict;
using detail::forbidden;
using detail::int_field;
using detail::make_event;
using detail::string_field;

namespace {

constexpr std::array<std::string_view, 3> rating_keys = {"quality", "communication", "timeliness"};

// Sides in the order reviews are listed: the client's first.
constexpr std::array<side, 2> both_sides = {side::client, side::expert};

bool closed(const engagement_state& s) { return s.phase == engagement_phase::closed; }

// The sealed payload of `seq` parsed and checked against its commitment: the
// {ratings, text, salt} it holds, or none.
std::optional<boost::json::object> open_sealed(const party_review& r, const std::map<std::int64_t, std::string>& sealed) {
  auto it = sealed.find(r.seq);
  if (it == sealed.end() || review_commitment(it->second) != r.commitment) return std::nullopt;
  boost::system::error_code ec;
  auto v = boost::json::parse(it->second, ec);
  if (ec || !v.is_object()) return std::nullopt;
  auto& o = v.get_object();
  const auto* ratings = o.if_contains("ratings");
  const auto* text = o.if_contains("text");
  const auto* salt = o.if_contains("salt");
  if (!ratings || !ratings->is_object() || !text || !text->is_string() || !salt || !salt->is_string())
    return std::nullopt;
  return boost::json::object{{"ratings", *ratings}, {"text", *text}, {"salt", *salt}};
}

boost::json::object opened_entry(const party_review& r, side party, const boost::json::object& payload) {
  return {{"by", r.by},
          {"role", side_name(party)},
          {"seq", r.seq},
          {"ratings", payload.at("ratings")},
          {"text", payload.at("text")},
          {"salt", payload.at("salt")}};
}

boost::json::object sealed_entry(const party_review& r, side party) {
  return {{"by", r.by}, {"role", side_name(party)}, {"seq", r.seq}, {"sealed", true}, {"commitment", r.commitment}};
}

}  // namespace

result<boost::json::object> validate_review_body(const boost::json::object& body) {
  for (const auto& member : body) {
    if (member.key() != "ratings" && member.key() != "text")
      return bad_request("unknown field " + detail::display_name(member.key()) + " in body");
  }
  const auto* ratings = body.if_contains("ratings");
  if (!ratings || !ratings->is_object()) return bad_request("review needs ratings: {quality, communication, timeliness}");
  boost::json::object checked;
  for (const auto& member : ratings->get_object()) {
    if (std::find(rating_keys.begin(), rating_keys.end(), member.key()) == rating_keys.end())
      return bad_request("unknown rating " + detail::display_name(member.key()) +
                         ": ratings are quality, communication and timeliness");
  }
  for (auto key : rating_keys) {
    const auto* v = ratings->get_object().if_contains(key);
    if (!v) return bad_request("missing rating " + std::string(key));
    if (!v->is_int64() || v->get_int64() < 1 || v->get_int64() > 5)
      return bad_request("rating " + std::string(key) + " must be an integer from 1 to 5");
    checked.emplace(key, v->get_int64());
  }
  const auto* text = body.if_contains("text");
  if (!text || !text->is_string()) return bad_request("review needs text (10-4000 characters)");
  const auto chars = detail::count_code_points(text->get_string());
  if (chars < review_text_min_chars || chars > review_text_max_chars)
    return bad_request("review text must be 10-4000 characters (it has " + std::to_string(chars) + ")");
  return boost::json::object{{"ratings", std::move(checked)}, {"text", text->get_string()}};
}

std::string sealed_review_json(const boost::json::object& ratings, std::string_view text, std::string_view salt) {
  return canonical_json(boost::json::object{{"ratings", ratings}, {"text", text}, {"salt", salt}});
}

std::string review_commitment(std::string_view sealed_json) { return sha256_hex(sealed_json); }

sealed_post seal_review(const boost::json::object& review, std::string_view salt) {
  sealed_post out;
  out.sealed = sealed_review_json(review.at("ratings").as_object(), review.at("text").as_string(), salt);
  out.body = {{"sealed", true}, {"commitment", review_commitment(out.sealed)}};
  return out;
}

std::optional<std::int64_t> review_due(const engagement_state& s, std::int64_t period_ms) {
  if (!closed(s)) return std::nullopt;
  if (s.phase_since_ms > std::numeric_limits<std::int64_t>::max() - period_ms)
    return std::numeric_limits<std::int64_t>::max();
  return s.phase_since_ms + period_ms;
}

result<void> check_review(const engagement_state& s, const user& actor, std::int64_t now_ms, std::int64_t period_ms) {
  auto party = side_of(actor.role);
  if (!party) return forbidden("reviews are written by the parties");
  if (!closed(s)) return conflict("reviews are written once the engagement is closed");
  if (s.revealed_reviews) return conflict("the reviews of engagement " + s.eng + " are revealed");
  if (now_ms > 0 && now_ms >= *review_due(s, period_ms))
    return conflict("the review period of engagement " + s.eng + " has ended");
  if (s.reviews[static_cast<std::size_t>(*party)])
    return conflict("the " + std::string(side_name(*party)) + " side has reviewed already");
  return {};
}

void apply_review(engagement_state& s, const event& ev) {
  auto party = side_of(ev.from.role);
  auto commitment = string_field(ev.body, "commitment");
  if (!party || !commitment || !closed(s) || s.revealed_reviews) return;
  auto& slot = s.reviews[static_cast<std::size_t>(*party)];
  if (slot) return;
  slot = party_review{ev.from.id, ev.seq, std::string(*commitment)};
}

void apply_reveal(engagement_state& s, const event& ev) {
  if (ev.from.role != user_role::system || s.revealed_reviews) return;
  const auto* list = ev.body.if_contains("reviews");
  s.revealed_reviews = std::make_shared<const boost::json::array>(list && list->is_array() ? list->get_array()
                                                                                            : boost::json::array());
}

std::optional<std::int64_t> next_reveal_due(const engagement_state& s, std::int64_t period_ms) {
  if (!closed(s) || s.revealed_reviews) return std::nullopt;
  if (s.reviews[0] && s.reviews[1]) return s.phase_since_ms;
  return review_due(s, period_ms);
}

bool reveal_due(const engagement_state& s, std::int64_t period_ms, std::int64_t now_ms) {
  auto due = next_reveal_due(s, period_ms);
  return due && *due <= now_ms;
}

std::vector<std::int64_t> review_seqs(const engagement_state& s) {
  std::vector<std::int64_t> seqs;
  for (auto party : both_sides)
    if (const auto& r = s.reviews[static_cast<std::size_t>(party)]) seqs.push_back(r->seq);
  return seqs;
}

result<reveal_plan> plan_reveal(const engagement_state& s, const std::map<std::int64_t, std::string>& sealed) {
  boost::json::array list;
  for (auto party : both_sides) {
    const auto& r = s.reviews[static_cast<std::size_t>(party)];
    if (!r) continue;
    auto payload = open_sealed(*r, sealed);
    if (!payload)
      return make_error(errc::internal, "the sealed review " + std::to_string(r->seq) + " of engagement " + s.eng +
                                            " is missing or does not match its commitment");
    list.push_back(opened_entry(*r, party, *payload));
  }
  reveal_plan out;
  out.events.push_back(make_event(channel::main(s.eng), "reviews", system_user(),
                                  boost::json::object{{"reviews", list}}, "reviews:" + s.eng));
  out.record.fields = {{"eng", s.eng},
                       {"ch", channel::main(s.eng)},
                       {"topic", "reviews"},
                       {"terms", std::move(list)},
                       {"text", "reviews revealed"},
                       {"proposed_by", system_user().id},
                       {"accepted_by", boost::json::array{system_user().id}},
                       {"proposal_seq", nullptr}};
  out.record.attach_to = 0;
  return out;
}

std::optional<boost::json::object> reviews_state_json(const engagement_state& s, std::int64_t period_ms) {
  if (!closed(s)) return std::nullopt;
  boost::json::array submitted_by;
  for (auto party : both_sides)
    if (const auto& r = s.reviews[static_cast<std::size_t>(party)]) submitted_by.emplace_back(r->by);
  return boost::json::object{{"due", *review_due(s, period_ms)},
                             {"submitted_by", std::move(submitted_by)},
                             {"revealed", s.revealed_reviews != nullptr}};
}

std::vector<std::int64_t> sealed_seqs_for(const engagement_state& s, const claims& reader) {
  std::vector<std::int64_t> seqs;
  if (s.revealed_reviews) return seqs;
  const bool support = reader.who.role == user_role::support;
  for (auto party : both_sides) {
    const auto& r = s.reviews[static_cast<std::size_t>(party)];
    if (r && (support || r->by == reader.who.id)) seqs.push_back(r->seq);
  }
  return seqs;
}

boost::json::object reviews_for_reader(const engagement_state& s, const claims& reader,
                                       const std::map<std::int64_t, std::string>& sealed, std::int64_t period_ms) {
  boost::json::object out;
  auto due = review_due(s, period_ms);
  out["due"] = due ? boost::json::value(*due) : boost::json::value(nullptr);
  out["revealed"] = s.revealed_reviews != nullptr;
  if (s.revealed_reviews) {
    out["reviews"] = *s.revealed_reviews;
    return out;
  }
  boost::json::array list;
  const bool support = reader.who.role == user_role::support;
  const bool party = side_of(reader.who.role).has_value();
  for (auto p : both_sides) {
    const auto& r = s.reviews[static_cast<std::size_t>(p)];
    if (!r) continue;
    if (support || r->by == reader.who.id) {
      // Its own or, for support, every one: opened when its payload is at hand.
      if (auto payload = open_sealed(*r, sealed)) {
        list.push_back(opened_entry(*r, p, *payload));
        continue;
      }
    }
    if (support || party) list.push_back(sealed_entry(*r, p));
  }
  out["reviews"] = std::move(list);
  return out;
}

}  // namespace parley
