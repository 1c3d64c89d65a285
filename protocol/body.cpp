// Post bodies (protocol §3 "Kinds a client may post"): each kind's fields are
// checked and copied into a fresh object, so nothing unchecked is ever stored.
#include "protocol/frame.hpp"

#include "protocol/calls.hpp"
#include "protocol/deliveries.hpp"
#include "protocol/files.hpp"
#include "protocol/json_input.hpp"
#include "protocol/requirements.hpp"
#include "protocol/proposal_expiry.hpp"
#include "protocol/reviews.hpp"

#include <boost/json/serialize.hpp>
#include <algorithm>
#include <array>
#include <limits>

namespace parley {
using detail::bad_request;

namespace {

using boost::json::object;
using boost::json::value;

constexpr std::size_t max_text_chars = 16384;
constexpr std::size_t max_terms_bytes = 16384;
constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();

template <std::size_t N>
bool one_of(std::string_view s, const std::array<std::string_view, N>& options) {
  for (auto o : options) {
    if (s == o) return true;
  }
  return false;
}

template <std::size_t N>
std::string list(const std::array<std::string_view, N>& options) {
  std::string out;
  for (auto o : options) {
    if (!out.empty()) out += ", ";
    out += o;
  }
  return out;
}

constexpr std::array<std::string_view, 5> flag_types = {"delay", "scope_change", "dispute", "risk", "blocker"};
constexpr std::array<std::string_view, 2> flag_states = {"acknowledged", "resolved"};
constexpr std::array<std::string_view, 7> proposal_topics = {"agreement", "scope_change", "timeline",
                                                             "compensation", "phase", "resolution", "call"};
constexpr std::array<std::string_view, 5> phases = {"discovery", "agreement", "active", "completion", "closed"};
constexpr std::array<std::string_view, 2> verdicts = {"accepted", "rejected"};

// Kinds the server makes itself (protocol §3): a client posting one gets a clear answer.
constexpr std::array<std::string_view, 8> server_kinds = {"phase",    "mediation", "sla",     "notice",
                                                          "proposal_expired", "reminder", "reviews", "review_due_soon"};

// Reads the fields of one body against a fixed list of names, refusing any
// other field and copying the accepted ones into `out` in a stable order.
class body_reader {
 public:
  body_reader(const object& in, std::string_view where) : in_(in), where_(where) {}

  // Refuses fields outside `known`. Call once before reading.
  template <std::size_t N>
  result<void> only(const std::array<std::string_view, N>& known) const {
    for (const auto& member : in_) {
      if (!one_of(member.key(), known)) {
        return bad_request("unknown field " + detail::display_name(member.key()) + " in " + where_);
      }
    }
    return {};
  }

  const value* find(std::string_view name) const {
    const value* v = in_.if_contains(name);
    // An explicit null is an absent field, as in requests.
    return (v && !v->is_null()) ? v : nullptr;
  }

  // Text counted in code points; `min_chars` 0 allows an empty string.
  result<void> text(std::string_view name, bool required, std::size_t min_chars, object& out) const {
    const value* v = find(name);
    if (!v) {
      if (required) return missing(name);
      return {};
    }
    if (!v->is_string()) return bad_request(field(name) + " must be a string");
    std::string_view s = v->get_string();
    std::size_t chars = detail::count_code_points(s);
    if (chars < min_chars) return bad_request(field(name) + " must not be empty");
    if (chars > max_text_chars) {
      return make_error(errc::too_large, field(name) + " exceeds " + std::to_string(max_text_chars) + " characters");
    }
    out.emplace(name, s);
    return {};
  }

  result<void> integer(std::string_view name, bool required, std::int64_t lo, std::int64_t hi,
                       std::string_view expectation, object& out) const {
    const value* v = find(name);
    if (!v) {
      if (required) return missing(name);
      return {};
    }
    if (!v->is_int64() || v->get_int64() < lo || v->get_int64() > hi) {
      return bad_request(field(name) + " must be " + std::string(expectation));
    }
    out.emplace(name, v->get_int64());
    return {};
  }

  template <std::size_t N>
  result<void> choice(std::string_view name, const std::array<std::string_view, N>& options,
                      object& out) const {
    const value* v = find(name);
    if (!v) return missing(name);
    if (!v->is_string() || !one_of(v->get_string(), options)) {
      return bad_request(field(name) + " must be one of " + list(options));
    }
    out.emplace(name, v->get_string());
    return {};
  }

 private:
  std::string field(std::string_view name) const {
    return where_ == "body" ? std::string(name) : where_ + "." + std::string(name);
  }
  error missing(std::string_view name) const { return bad_request("missing field " + field(name)); }

  const object& in_;
  std::string where_;
};

// Each check returns result<void>; the first failure ends validation.
#define PARLEY_TRY(expr)                      \
  if (auto parley_checked_ = (expr); !parley_checked_) { \
    return parley_checked_.err();             \
  }

result<object> message_body(const body_reader& in) {
  object out;
  PARLEY_TRY(in.only(std::array<std::string_view, 3>{"text", "reply_to", "files"}));
  // A message that carries files may say nothing more.
  const value* files = in.find("files");
  PARLEY_TRY(in.text("text", true, files ? 0 : 1, out));
  PARLEY_TRY(in.integer("reply_to", false, 1, int64_max, "a positive integer (a seq)", out));
  if (files) {
    auto checked = files_field(*files, 0);
    if (!checked) return checked.err();
    out.emplace("files", std::move(checked.value()));
  }
  return out;
}

result<object> status_body(const body_reader& in) {
  object out;
  PARLEY_TRY(in.only(std::array<std::string_view, 2>{"text", "progress"}));
  PARLEY_TRY(in.text("text", true, 1, out));
  PARLEY_TRY(in.integer("progress", false, 0, 100, "an integer from 0 to 100", out));
  return out;
}

result<object> flag_body(const body_reader& in) {
  object out;
  PARLEY_TRY(in.only(std::array<std::string_view, 2>{"type", "text"}));
  PARLEY_TRY(in.choice("type", flag_types, out));
  PARLEY_TRY(in.text("text", true, 1, out));
  return out;
}

result<object> flag_update_body(const body_reader& in) {
  object out;
  PARLEY_TRY(in.only(std::array<std::string_view, 3>{"flag", "state", "text"}));
  PARLEY_TRY(in.integer("flag", true, 1, int64_max, "a positive integer (the flag's seq)", out));
  PARLEY_TRY(in.choice("state", flag_states, out));
  // Acknowledging a flag needs no words; the text is optional.
  PARLEY_TRY(in.text("text", false, 0, out));
  return out;
}

// `terms` per topic: phase is exactly {"to": phase}; resolution names its
// dispute flag; the others are free-form objects.
result<object> proposal_terms(std::string_view topic, const object& terms) {
  std::string size_probe = boost::json::serialize(terms);
  if (size_probe.size() > max_terms_bytes) {
    return make_error(errc::too_large, "terms exceed " + std::to_string(max_terms_bytes) + " bytes");
  }
  body_reader in(terms, "terms");
  if (topic == "phase") {
    object out;
    PARLEY_TRY(in.only(std::array<std::string_view, 1>{"to"}));
    PARLEY_TRY(in.choice("to", phases, out));
    return out;
  }
  object scratch;
  if (topic == "resolution") {
    PARLEY_TRY(in.integer("flag", true, 1, int64_max, "a positive integer (the dispute flag's seq)", scratch));
  }
  // An agreed due date (§9.4), once accepted, moves phase_due: ms since the epoch.
  PARLEY_TRY(in.integer("due", false, min_agreed_due_ms, detail::max_exact_integer,
                        "an integer of milliseconds since the epoch, from 1000000000000", scratch));
  if (topic == "call") return validate_call_terms(terms);
  return terms;
}

result<object> proposal_body(const body_reader& in) {
  object out;
  PARLEY_TRY(in.only(std::array<std::string_view, 3>{"topic", "text", "terms"}));
  PARLEY_TRY(in.choice("topic", proposal_topics, out));
  PARLEY_TRY(in.text("text", true, 1, out));
  const value* terms = in.find("terms");
  if (!terms) return bad_request("missing field terms");
  if (!terms->is_object()) return bad_request("terms must be an object");
  auto checked = proposal_terms(out.at("topic").get_string(), terms->get_object());
  if (!checked) return checked.err();
  out.emplace("terms", std::move(*checked));
  return out;
}

result<object> decision_body(const body_reader& in) {
  object out;
  PARLEY_TRY(in.only(std::array<std::string_view, 4>{"proposal", "verdict", "text", "slot"}));
  PARLEY_TRY(in.integer("proposal", true, 1, int64_max, "a positive integer (the proposal's seq)", out));
  PARLEY_TRY(in.choice("verdict", verdicts, out));
  PARLEY_TRY(in.text("text", false, 0, out));
  // Accepting a call picks one of its slots (protocol §9.5).
  PARLEY_TRY(in.integer("slot", false, 0, static_cast<std::int64_t>(max_call_slots) - 1,
                        "the index of one of the call's slots (0 to 4)", out));
  return out;
}

// Anything but a requirement's key as an invitation names it can be no
// requirement's key: refused as malformed, so no error echoes a long string.
result<void> requirement_key(const body_reader& in, object& out) {
  const value* v = in.find("key");
  if (!v) return bad_request("missing field key");
  if (!v->is_string() || !is_requirement_key(v->get_string())) {
    return bad_request("key must be a requirement's key: 1-64 characters of a-z, 0-9, _ and -");
  }
  out.emplace("key", v->get_string());
  return {};
}

result<object> acknowledgement_body(const body_reader& in) {
  object out;
  PARLEY_TRY(in.only(std::array<std::string_view, 2>{"key", "text"}));
  PARLEY_TRY(requirement_key(in, out));
  PARLEY_TRY(in.text("text", false, 0, out));
  return out;
}

result<object> delivery_body(const body_reader& in) {
  object out;
  PARLEY_TRY(in.only(std::array<std::string_view, 4>{"deliverable", "text", "files", "final"}));
  const value* key = in.find("deliverable");
  if (!key) return bad_request("missing field deliverable");
  if (!key->is_string() || !is_deliverable_key(key->get_string())) {
    return bad_request("deliverable must be 1-64 characters of a-z, 0-9, _ and -");
  }
  out.emplace("deliverable", key->get_string());
  PARLEY_TRY(in.text("text", true, 1, out));
  if (detail::count_code_points(out.at("text").get_string()) > max_delivery_text_chars) {
    return make_error(errc::too_large, "text exceeds " + std::to_string(max_delivery_text_chars) + " characters");
  }
  // Resolved by the server against the engagement's uploads before the rules see them.
  const value* files = in.find("files");
  if (!files) return bad_request("missing field files");
  auto checked = files_field(*files, 1);
  if (!checked) return checked.err();
  out.emplace("files", std::move(checked.value()));
  if (const value* final = in.find("final")) {
    if (!final->is_bool()) return bad_request("final must be true or false");
    out.emplace("final", final->get_bool());
  }
  return out;
}

result<object> revision_request_body(const body_reader& in) {
  object out;
  PARLEY_TRY(in.only(std::array<std::string_view, 2>{"delivery", "text"}));
  PARLEY_TRY(in.integer("delivery", true, 1, int64_max, "a positive integer (the delivery's seq)", out));
  PARLEY_TRY(in.text("text", true, 1, out));
  return out;
}

#undef PARLEY_TRY

}  // namespace

result<object> validate_body(std::string_view kind, const object& body) {
  // Bodies are stored, fanned out and hashed into the decision log: every
  // number in them must mean the same to every reader (I-JSON, RFC 7493).
  for (const auto& member : body) {
    if (auto numbers = detail::check_i_json_numbers(member.value()); !numbers) return numbers.err();
  }
  body_reader in(body, "body");
  if (kind == "message") return message_body(in);
  if (kind == "status") return status_body(in);
  if (kind == "flag") return flag_body(in);
  if (kind == "flag_update") return flag_update_body(in);
  if (kind == "proposal") return proposal_body(in);
  if (kind == "decision") return decision_body(in);
  if (kind == "acknowledgement") return acknowledgement_body(in);
  if (kind == "delivery") return delivery_body(in);
  if (kind == "revision_request") return revision_request_body(in);
  if (kind == "review") return validate_review_body(body);
  if (one_of(kind, server_kinds)) {
    return bad_request("kind " + std::string(kind) + " is made by the server and may not be posted");
  }
  return bad_request("unknown kind " + detail::display_name(kind));
}

}  // namespace parley
