#include "protocol/frame.hpp"

#include "protocol/json_input.hpp"

#include <array>
#include <bitset>
#include <limits>

namespace parley {
using detail::bad_request;

namespace {

using boost::json::object;
using boost::json::value;

constexpr std::int64_t max_limit = 500;
// decisions pages by up to this many records (protocol §9.10).
constexpr std::int64_t max_decisions_limit = 1000;
constexpr std::size_t max_cid_chars = 128;

// Every field a request may carry; which op accepts which is in `allowed_fields`.
enum class field { id, op, token, ch, kind, body, cid, since, epoch, limit, before, after, seq, eng, count };

constexpr std::array<std::string_view, static_cast<std::size_t>(field::count)> field_names = {
    "id", "op", "token", "ch", "kind", "body", "cid", "since", "epoch", "limit", "before", "after", "seq", "eng"};

using field_set = std::bitset<static_cast<std::size_t>(field::count)>;

constexpr std::size_t bit(field f) { return static_cast<std::size_t>(f); }

field_set make_set(std::initializer_list<field> fields) {
  field_set s;
  s.set(bit(field::id));
  s.set(bit(field::op));
  for (field f : fields) s.set(bit(f));
  return s;
}

// Protocol §3 "Requests".
const field_set& allowed_fields(op o) {
  static const std::array<field_set, 8> table = {
      make_set({field::token}),                                              // hello
      make_set({field::ch, field::since, field::epoch, field::limit}),       // join
      make_set({field::ch}),                                                 // leave
      make_set({field::ch, field::kind, field::body, field::cid}),           // post
      make_set({field::ch, field::before, field::after, field::limit}),      // history
      make_set({field::ch}),                                                 // typing
      make_set({field::ch, field::seq}),                                     // read
      make_set({field::eng, field::after, field::limit}),                    // decisions
  };
  return table[static_cast<std::size_t>(o)];
}

const field_set& required_fields(op o) {
  static const std::array<field_set, 8> table = [] {
    std::array<field_set, 8> t;
    t[static_cast<std::size_t>(op::hello)].set(bit(field::token));
    for (op o : {op::join, op::leave, op::post, op::history, op::typing, op::read}) {
      t[static_cast<std::size_t>(o)].set(bit(field::ch));
    }
    t[static_cast<std::size_t>(op::post)].set(bit(field::kind)).set(bit(field::body));
    t[static_cast<std::size_t>(op::read)].set(bit(field::seq));
    t[static_cast<std::size_t>(op::decisions)].set(bit(field::eng));
    return t;
  }();
  return table[static_cast<std::size_t>(o)];
}

std::optional<field> find_field(std::string_view name) {
  for (std::size_t i = 0; i < field_names.size(); ++i) {
    if (field_names[i] == name) return static_cast<field>(i);
  }
  return std::nullopt;
}

std::optional<op> find_op(std::string_view name) {
  for (op o : {op::hello, op::join, op::leave, op::post, op::history, op::typing, op::read, op::decisions,
               op::availability}) {
    if (op_name(o) == name) return o;
  }
  return std::nullopt;
}

// Reads an integer field within [lo, hi]. Doubles (even 7.0), strings and
// integers beyond int64 are refused.
result<std::int64_t> read_integer(std::string_view name, const value& v, std::int64_t lo, std::int64_t hi,
                                  std::string_view expectation) {
  if (!v.is_int64() || v.get_int64() < lo || v.get_int64() > hi) {
    return bad_request(std::string(name) + " must be " + std::string(expectation));
  }
  return v.get_int64();
}

result<std::string> read_string(std::string_view name, const value& v) {
  if (!v.is_string()) return bad_request(std::string(name) + " must be a string");
  return std::string(v.get_string());
}

// `cid` is an idempotency key: 1–128 characters.
result<std::string> read_cid(const value& v) {
  if (!v.is_string()) return bad_request("cid must be a string");
  std::string_view s = v.get_string();
  if (s.empty()) return bad_request("cid must not be empty");
  if (detail::count_code_points(s) > max_cid_chars) {
    return make_error(errc::too_large, "cid exceeds 128 characters");
  }
  return std::string(s);
}

result<object> read_body(value& v) {
  if (!v.is_object()) return bad_request("body must be an object");
  return std::move(v.get_object());
}

// Stores one field of a request into `f`. `v` may be moved from.
result<void> read_field(field which, value& v, client_frame& f) {
  const auto store_int = [&](std::optional<std::int64_t>& dst, std::int64_t lo, std::int64_t hi,
                             std::string_view expectation) -> result<void> {
    auto r = read_integer(field_names[bit(which)], v, lo, hi, expectation);
    if (!r) return r.err();
    dst = *r;
    return {};
  };
  const auto store_string = [&](std::string& dst) -> result<void> {
    auto r = read_string(field_names[bit(which)], v);
    if (!r) return r.err();
    dst = std::move(*r);
    return {};
  };
  constexpr auto max = std::numeric_limits<std::int64_t>::max();

  switch (which) {
    case field::token: return store_string(f.token);
    case field::ch: return store_string(f.ch);
    case field::epoch: return store_string(f.epoch);
    case field::eng: return store_string(f.eng);
    case field::kind: {
      if (auto stored = store_string(f.kind); !stored) return stored;
      if (f.kind.empty()) return bad_request("kind must not be empty");
      return {};
    }
    case field::body: {
      auto r = read_body(v);
      if (!r) return r.err();
      f.body = std::move(*r);
      return {};
    }
    case field::cid: {
      auto r = read_cid(v);
      if (!r) return r.err();
      f.cid = std::move(*r);
      return {};
    }
    case field::since: return store_int(f.since, 0, max, "a non-negative integer");
    case field::limit:
      if (f.op == op::decisions) return store_int(f.limit, 1, max_decisions_limit, "an integer from 1 to 1000");
      return store_int(f.limit, 1, max_limit, "an integer from 1 to 500");
    case field::before: return store_int(f.before, 1, max, "a positive integer");
    case field::after: return store_int(f.after, 0, max, "a non-negative integer");
    case field::seq: {
      std::optional<std::int64_t> seq;
      if (auto stored = store_int(seq, 0, max, "a non-negative integer"); !stored) return stored;
      f.seq = *seq;
      return {};
    }
    case field::id:
    case field::op:
    case field::count: break;
  }
  return {};
}

std::variant<client_frame, frame_error> parse_frame_object(object& o, std::optional<std::int64_t> id) {
  const auto fail = [&](error err) { return frame_error{id, std::move(err), false}; };

  // The id first, so that every later error is answered with it.
  const value* id_value = o.if_contains("id");
  if (id_value && !id_value->is_null() && !id) return fail(bad_request("id must be a 64-bit integer"));

  const value* op_value = o.if_contains("op");
  if (!op_value) return fail(bad_request("missing op"));
  if (!op_value->is_string()) return fail(bad_request("op must be a string"));
  auto which_op = find_op(op_value->get_string());
  if (!which_op) return fail(bad_request("unknown op " + detail::display_name(op_value->get_string())));
  // typing is fire-and-forget (protocol §3): it needs no reply, hence no id.
  if (!id && *which_op != op::typing) return fail(bad_request("missing id"));

  client_frame f;
  f.op = *which_op;
  f.id = id;
  // Protocol §9.3: the availability's own fields sit beside id and op, and
  // parse_availability checks them (unknown ones too).
  if (f.op == op::availability) {
    for (auto& member : o) {
      if (member.key() != "id" && member.key() != "op") f.body.emplace(member.key(), std::move(member.value()));
    }
    return f;
  }
  const field_set& allowed = allowed_fields(f.op);
  field_set present;
  for (auto& member : o) {
    auto which = find_field(member.key());
    if (!which || !allowed.test(bit(*which))) {
      return fail(bad_request("unknown field " + detail::display_name(member.key())));
    }
    if (*which == field::id || *which == field::op) continue;
    // An explicit null stands for an absent optional field, as a JavaScript
    // client writing `since: last ?? null` would expect.
    if (member.value().is_null()) continue;
    if (auto read = read_field(*which, member.value(), f); !read) return fail(read.err());
    present.set(bit(*which));
  }

  const field_set missing = required_fields(f.op) & ~present;
  for (std::size_t i = 0; i < field_names.size(); ++i) {
    if (missing.test(i)) return fail(bad_request("missing field " + std::string(field_names[i])));
  }
  if (f.before && f.after) return fail(bad_request("history takes before or after, not both"));
  return f;
}

}  // namespace

std::string_view op_name(op o) {
  switch (o) {
    case op::hello: return "hello";
    case op::join: return "join";
    case op::leave: return "leave";
    case op::post: return "post";
    case op::history: return "history";
    case op::typing: return "typing";
    case op::read: return "read";
    case op::decisions: return "decisions";
    case op::availability: return "availability";
  }
  return "hello";
}

std::variant<client_frame, frame_error> parse_client_frame(std::string_view text) {
  std::optional<std::int64_t> id;
  auto parsed = detail::parse_strict_json(text, max_frame_depth, &id);
  if (auto* e = std::get_if<detail::json_input_error>(&parsed)) {
    return frame_error{id, std::move(e->err), e->garbage};
  }
  value& root = std::get<value>(parsed);
  if (!root.is_object()) return frame_error{std::nullopt, bad_request("a frame must be a JSON object"), true};
  return parse_frame_object(root.get_object(), id);
}

result<http_post> parse_http_post(std::string_view text) {
  auto parsed = detail::parse_strict_json(text, max_frame_depth);
  if (auto* e = std::get_if<detail::json_input_error>(&parsed)) return std::move(e->err);
  value& root = std::get<value>(parsed);
  if (!root.is_object()) return bad_request("the request body must be a JSON object");

  http_post post;
  bool has_kind = false;
  bool has_body = false;
  for (auto& member : root.get_object()) {
    std::string_view key = member.key();
    value& v = member.value();
    if (key == "kind") {
      auto r = read_string("kind", v);
      if (!r) return r.err();
      if (r->empty()) return bad_request("kind must not be empty");
      post.kind = std::move(*r);
      has_kind = true;
    } else if (key == "body") {
      auto r = read_body(v);
      if (!r) return r.err();
      post.body = std::move(*r);
      has_body = true;
    } else if (key == "cid") {
      if (v.is_null()) continue;
      auto r = read_cid(v);
      if (!r) return r.err();
      post.cid = std::move(*r);
    } else {
      return bad_request("unknown field " + detail::display_name(key));
    }
  }
  if (!has_kind) return bad_request("missing field kind");
  if (!has_body) return bad_request("missing field body");
  return post;
}

}  // namespace parley
