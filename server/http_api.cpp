#include "server/http_api.hpp"

#include "protocol/availability.hpp"
#include "protocol/calendar.hpp"
#include "protocol/channel.hpp"
#include "protocol/engagement_list.hpp"
#include "protocol/frame.hpp"
#include "protocol/http_target.hpp"
#include "protocol/reply.hpp"
#include "protocol/version.hpp"
#include "server/static_files.hpp"
#include "server/webhook_routes.hpp"
#include "storage/clock.hpp"
#include "storage/log.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>

namespace parley {
namespace http = boost::beast::http;

namespace {

// The web client's scripts and styles come from this origin only; no inline script runs.
constexpr const char* content_security_policy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

// The Server header: set once at start, before any request, read-only after.
std::string server_header = "parley";

// Every response: our Server header, nosniff, and the request's HTTP version and keep-alive.
http_response make_response(http::status status, std::string body, std::string content_type, unsigned version,
                            bool keep_alive) {
  http_response res{status, version};
  res.set(http::field::server, server_header);
  res.set(http::field::content_type, content_type);
  res.set("X-Content-Type-Options", "nosniff");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

// A JSON response; the arguments are copied so that it can be made after the request is gone.
http_response json_reply(std::string body, unsigned version, bool keep_alive, http::status status = http::status::ok) {
  auto res = make_response(status, std::move(body), "application/json", version, keep_alive);
  res.set(http::field::cache_control, "no-store");
  return res;
}

result<claims> bearer(hub& h, const http::fields& req, const http_origin& from) {
  auto auth = req[http::field::authorization];
  constexpr std::string_view scheme = "Bearer ";
  if (auth.size() <= scheme.size() || !std::string_view(auth.data(), auth.size()).starts_with(scheme))
    return make_error(errc::unauthorized, "an Authorization: Bearer token is required");
  auto verified = h.authenticate(std::string_view(auth.data(), auth.size()).substr(scheme.size()));
  if (!verified) {
    bump(h.stats().auth_failures);
    log_event(log_level::warn, "auth_failed",
              {{"via", "http"}, {"ip", from.remote.to_string()}, {"reason", verified.err().message}});
  }
  return verified;
}

// /metrics: anyone on the operator's listener; without one, loopback clients
// (the host's own scraper); otherwise only a service token.
result<void> may_read_metrics(hub& h, const http_request& req, const http_origin& from) {
  if (from.admin) return {};
  if (h.cfg().admin_host.empty() && from.remote.is_loopback()) return {};
  auto who = bearer(h, req, from);
  if (!who) return who.err();
  if (who->who.role != user_role::service) return make_error(errc::forbidden, "metrics are for service tokens");
  return {};
}

// The validators of a cached copy: a matching If-None-Match answers 304.
bool etag_matches(const http_request& req, const std::string& etag) {
  auto inm = req[http::field::if_none_match];
  std::string_view list(inm.data(), inm.size());
  if (list == "*") return true;
  return list.find(etag) != std::string_view::npos;
}

// One request in the hands of its route's handler.
struct http_call {
  hub& h;
  const http_request& req;
  const http_origin& from;
  const http_target& target;
  std::string_view param;  // the path's variable part, still percent-encoded
  std::function<void(http_response)> respond;

  bool get() const { return req.method() == http::verb::get || req.method() == http::verb::head; }

  void fail(errc code, std::string message) const {
    respond(http_error_response(make_error(code, std::move(message)), req.version(), req.keep_alive()));
  }

  // A response callback for a completion that may run after the request is gone.
  template <class F>
  auto later(F&& make) const {
    return [respond = respond, version = req.version(), keep = req.keep_alive(), make = std::forward<F>(make)](
               auto&& outcome) { respond(make(std::forward<decltype(outcome)>(outcome), version, keep)); };
  }

  // The bearer's claims, once its subject's HTTP bucket (protocol §9.10) gave
  // a token; otherwise the request is answered here (401, or 429 with Retry-After).
  std::optional<claims> authorize() const {
    auto who = authorize_request(h, req, req.version(), req.keep_alive(), from);
    if (auto* refused = std::get_if<http_response>(&who)) {
      respond(std::move(*refused));
      return std::nullopt;
    }
    return std::move(std::get<claims>(who));
  }
};

void handle_healthz(const http_call& c) {
  if (!c.get()) return c.fail(errc::bad_request, "use GET");
  c.respond(json_reply(R"({"status":"ok"})", c.req.version(), c.req.keep_alive()));
}

void handle_readyz(const http_call& c) {
  if (!c.get()) return c.fail(errc::bad_request, "use GET");
  bool ready = c.h.ready();
  c.respond(json_reply(ready ? R"({"status":"ready"})" : R"({"status":"unavailable"})", c.req.version(),
                       c.req.keep_alive(), ready ? http::status::ok : http::status::service_unavailable));
}

void handle_metrics(const http_call& c) {
  if (auto allowed = may_read_metrics(c.h, c.req, c.from); !allowed) return c.fail(allowed.err().code, allowed.err().message);
  c.respond(make_response(http::status::ok, c.h.render_metrics(), "text/plain; version=0.0.4; charset=utf-8",
                          c.req.version(), c.req.keep_alive()));
}

void handle_revoke(const http_call& c) {
  if (c.req.method() != http::verb::post) return c.fail(errc::bad_request, "use POST");
  auto user_id = percent_decode(c.param);
  if (!user_id || user_id->empty() || user_id->size() > 128) return c.fail(errc::bad_request, "malformed user id");
  auto who = c.authorize();
  if (!who) return;
  if (who->who.role != user_role::service) return c.fail(errc::forbidden, "revoking tokens is for service tokens");
  c.h.revoke(*user_id, c.later([](result<revocation> r, unsigned version, bool keep) {
    if (!r) return http_error_response(r.err(), version, keep);
    boost::json::object o{{"user", r->user_id}, {"valid_after", r->valid_after}};
    return json_reply(boost::json::serialize(o), version, keep);
  }));
}

// Protocol §9.3: the caller's availability. PUT takes the body of the
// `availability` op and counts against the same per-user bucket (5/s).
void handle_my_availability(const http_call& c) {
  if (c.req.method() != http::verb::put && !c.get()) return c.fail(errc::bad_request, "use GET or PUT");
  auto who = c.authorize();
  if (!who) return;
  auto reply = c.later([](result<boost::json::object> r, unsigned version, bool keep) {
    if (!r) return http_error_response(r.err(), version, keep);
    return json_reply(boost::json::serialize(*r), version, keep);
  });
  if (c.get()) return c.h.availability_of(*who, std::move(reply));
  if (!c.h.rates().take(who->who.id, op_class::availability, now_ms())) {
    bump(c.h.stats().rate_limited);
    auto res = http_error_response(make_error(errc::rate_limited, "too many availability changes; slow down"),
                                   c.req.version(), c.req.keep_alive());
    res.set(http::field::retry_after, "1");
    return c.respond(std::move(res));
  }
  auto body = availability_body_of(c.req.body());
  if (!body) return c.fail(body.err().code, body.err().message);
  c.h.set_availability(*who, *body, std::move(reply));
}

// Public keys for anyone who checks an export (protocol §9.11), also from
// another origin's page: nothing here is secret and no credential is used.
void handle_keys(const http_call& c) {
  if (!c.get()) return c.fail(errc::bad_request, "use GET");
  auto res = json_reply(c.h.cfg().jwks, c.req.version(), c.req.keep_alive());
  res.set(http::field::access_control_allow_origin, "*");
  c.respond(std::move(res));
}

void post_event(const http_call& c, const claims& who, const std::string& ch) {
  auto body = parse_http_post(c.req.body());
  if (!body) return c.fail(body.err().code, body.err().message);
  c.h.post(who, ch, body->kind, body->body, body->cid, c.later([](result<post_ack> r, unsigned version, bool keep) {
    if (!r) return http_error_response(r.err(), version, keep);
    boost::json::object o{{"seq", r->seq}, {"ts", r->ts}};
    if (r->duplicate) o["duplicate"] = true;
    // A replayed cid created nothing: 200, not 201.
    return json_reply(boost::json::serialize(o), version, keep, r->duplicate ? http::status::ok : http::status::created);
  }));
}

void read_events(const http_call& c, const claims& who, const std::string& ch) {
  auto after = query_int(c.target, "after", 0, INT64_MAX);
  auto before = query_int(c.target, "before", 1, INT64_MAX);
  auto limit = query_int(c.target, "limit", 1, 500);
  for (auto* r : {&after, &before, &limit})
    if (!*r) return c.fail(r->err().code, r->err().message);
  if (after->has_value() && before->has_value()) return c.fail(errc::bad_request, "give 'after' or 'before', not both");
  read_query q;
  q.ch = ch;
  q.after = after.value();
  q.before = before.value();
  q.limit = static_cast<int>(limit->value_or(50));
  q.max_bytes = c.h.cfg().max_reply;
  c.h.read(who, std::move(q), c.later([max_reply = c.h.cfg().max_reply](result<channel_window> out, unsigned version,
                                                                         bool keep) {
    if (!out) return http_error_response(out.err(), version, keep);
    std::vector<std::shared_ptr<const std::string>> events;
    for (const auto& e : out->events) events.push_back(e.json);
    // Bounded like a WebSocket reply: the oldest events that fit and "more": true.
    auto body =
        object_with_events_within({{"epoch", out->epoch}, {"head", out->head}}, events, max_reply, out->truncated);
    return json_reply(std::move(body.frame), version, keep);
  }));
}

void handle_channel_events(const http_call& c) {
  auto ch = percent_decode(c.param);
  if (!ch) return c.fail(errc::bad_request, "malformed channel name");
  auto who = c.authorize();
  if (!who) return;
  if (c.req.method() == http::verb::post) return post_event(c, *who, *ch);
  if (!c.get()) return c.fail(errc::bad_request, "use GET or POST");
  read_events(c, *who, *ch);
}

void create_engagement(const http_call& c, const claims& who) {
  c.h.create_engagement(who, std::string(c.param), c.req.body(),
                        c.later([](result<hub::creation> r, unsigned version, bool keep) {
                          if (!r) return http_error_response(r.err(), version, keep);
                          // A repeated PUT of the same invitation created nothing: 200, not 201.
                          return json_reply(boost::json::serialize(r->state), version, keep,
                                            r->created ? http::status::created : http::status::ok);
                        }));
}

void handle_engagement_state(const http_call& c) {
  if (c.req.method() == http::verb::put) {
    auto who = c.authorize();
    if (!who) return;
    return create_engagement(c, *who);
  }
  if (!c.get()) return c.fail(errc::bad_request, "use GET or PUT");
  auto who = c.authorize();
  if (!who) return;
  c.h.state_of(*who, channel::main(c.param),
               c.later([](result<boost::json::value> s, unsigned version, bool keep) {
                 if (!s) return http_error_response(s.err(), version, keep);
                 return json_reply(boost::json::serialize(s.value()), version, keep);
               }));
}

// The scheduled calls as iCalendar (protocol §9.5), read as the state is.
void handle_calendar(const http_call& c) {
  if (!c.get()) return c.fail(errc::bad_request, "use GET");
  // The id alone ("42", not "42:mediation"): it becomes each event's UID.
  auto ch = parse_channel(channel::main(c.param));
  if (!ch || ch->type != channel_type::engagement) return c.fail(errc::bad_request, "invalid engagement id");
  auto who = c.authorize();
  if (!who) return;
  c.h.state_of(*who, ch->name(),
               c.later([eng = ch->eng](result<boost::json::value> s, unsigned version, bool keep) {
                 if (!s || !s->is_object()) {
                   return http_error_response(s ? make_error(errc::internal, "no engagement state") : s.err(), version,
                                              keep);
                 }
                 auto res = make_response(http::status::ok, engagement_calendar(eng, s->as_object(), now_ms()),
                                          "text/calendar; charset=utf-8", version, keep);
                 res.set(http::field::cache_control, "no-store");
                 return res;
               }));
}

// Protocol §9.7: the reviews as the reader may see them (hub::reviews_of).
void handle_reviews(const http_call& c) {
  if (!c.get()) return c.fail(errc::bad_request, "use GET");
  auto ch = parse_channel(channel::main(c.param));
  if (!ch || ch->type != channel_type::engagement) return c.fail(errc::bad_request, "invalid engagement id");
  auto who = c.authorize();
  if (!who) return;
  c.h.reviews_of(*who, ch->eng, c.later([](result<boost::json::object> out, unsigned version, bool keep) {
    if (!out) return http_error_response(out.err(), version, keep);
    return json_reply(boost::json::serialize(*out), version, keep);
  }));
}

// One page of the engagement list: its ids, and each one's state as it loads
// (in any order, on any thread); answered once every state is in.
struct engagement_list_page {
  std::vector<std::string> ids;
  std::optional<std::string> next;  // the storage page's
  std::optional<engagement_phase> phase;
  std::size_t max_reply = 0;

  std::mutex mutex;
  std::vector<std::optional<boost::json::object>> states;  // by position; none: not listed
  std::size_t pending = 0;
  std::optional<error> failed;

  // Records one state; true for the last one.
  bool on_state(std::size_t at, result<boost::json::value> s) {
    std::lock_guard lock(mutex);
    if (s && s->is_object()) {
      states[at] = std::move(s->as_object());
    } else if (!s && s.err().code != errc::not_found && !failed) {
      // An engagement gone since it was listed is left out; any other failure fails the page.
      failed = s.err();
    }
    return --pending == 0;
  }

  // {"engagements": [...], "next": ...}: the items in id order, those of
  // `phase` only, within max_reply bytes (at least one item). A page cut
  // short goes on after its last item's id.
  std::string body() const {
    // Room for what surrounds the items: the keys, brackets and a quoted id as `next`.
    constexpr std::size_t envelope = 128;
    std::size_t budget = max_reply > envelope ? max_reply - envelope : 0;
    std::string items;
    std::optional<std::string> page_next = next;
    bool first = true;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (!states[i]) continue;
      if (phase) {
        const auto* in = states[i]->if_contains("phase");
        if (!in || !in->is_string() || in->get_string() != phase_name(*phase)) continue;
      }
      auto item = boost::json::serialize(engagement_list_item(ids[i], *states[i]));
      if (!first && items.size() + 1 + item.size() > budget) {
        page_next = ids[i - 1];
        break;
      }
      if (!first) items += ",";
      items += item;
      first = false;
    }
    boost::json::value next_json = page_next ? boost::json::value(*page_next) : boost::json::value(nullptr);
    return R"({"engagements":[)" + items + R"(],"next":)" + boost::json::serialize(next_json) + "}";
  }
};

// A page's states load a batch at a time: a page of a thousand cold
// engagements must not start a thousand loads (each a replay) at once.
constexpr std::size_t list_load_batch = 16;

template <class Reply>
void load_states(hub& h, const claims& who, std::shared_ptr<engagement_list_page> page, std::size_t from, Reply reply) {
  std::size_t to = std::min(from + list_load_batch, page->ids.size());
  auto left = std::make_shared<std::atomic<std::size_t>>(to - from);
  for (std::size_t i = from; i < to; ++i) {
    h.state_of(who, channel::main(page->ids[i]), [&h, who, page, i, to, left, reply](result<boost::json::value> s) {
      if (page->on_state(i, std::move(s))) {
        if (page->failed) return reply(result<std::string>(*page->failed));
        return reply(result<std::string>(page->body()));
      }
      if (--*left == 0) load_states(h, who, page, to, reply);
    });
  }
}

// Protocol §9.1: at most `limit` states are loaded per page (through the
// engagement book, as for GET /api/v1/engagements/<id>). With `phase`, a page
// may hold fewer items than `limit`, or none, and still have a `next`.
void handle_engagement_list(const http_call& c) {
  if (!c.get()) return c.fail(errc::bad_request, "use GET");
  auto who = c.authorize();
  if (!who) return;
  auto query = parse_engagement_list_query(c.target);
  if (!query) return c.fail(query.err().code, query.err().message);
  auto reply = c.later([](result<std::string> body, unsigned version, bool keep) {
    if (!body) return http_error_response(body.err(), version, keep);
    return json_reply(std::move(body.value()), version, keep);
  });
  hub& h = c.h;
  h.list_engagements(*who, query->after, query->limit,
                     [&h, who = *who, phase = query->phase, reply](result<engagement_ids_page> listed) {
                       if (!listed) return reply(result<std::string>(listed.err()));
                       auto page = std::make_shared<engagement_list_page>();
                       page->ids = std::move(listed->ids);
                       page->next = std::move(listed->next);
                       page->phase = phase;
                       page->max_reply = h.cfg().max_reply;
                       page->states.resize(page->ids.size());
                       page->pending = page->ids.size();
                       if (page->ids.empty()) return reply(result<std::string>(page->body()));
                       load_states(h, who, page, 0, reply);
                     });
}

// One record a line; where the next page starts travels in a header.
http_response jsonl_page(const boost::json::object& page, unsigned version, bool keep) {
  std::string lines;
  for (const auto& r : page.at("records").as_array()) lines += boost::json::serialize(r) + "\n";
  auto res = json_reply(std::move(lines), version, keep);
  res.set(http::field::content_type, "application/x-ndjson");
  if (page.at("next").is_int64()) res.set("Parley-Next", std::to_string(page.at("next").as_int64()));
  return res;
}

void handle_decisions(const http_call& c) {
  if (!c.get()) return c.fail(errc::bad_request, "use GET");
  auto ch = parse_channel(channel::main(c.param));
  if (!ch) return c.fail(errc::bad_request, "invalid engagement id");
  auto who = c.authorize();
  if (!who) return;
  auto format = c.target.query.count("format") ? c.target.query.at("format") : std::string("json");
  if (format != "json" && format != "jsonl") return c.fail(errc::bad_request, "format is json or jsonl");
  auto after = query_int(c.target, "after", 0, INT64_MAX);
  auto limit = query_int(c.target, "limit", 1, max_records_page);
  for (auto* r : {&after, &limit})
    if (!*r) return c.fail(r->err().code, r->err().message);
  auto first = after->value_or(0);
  c.h.decisions(*who, ch->eng, first, static_cast<int>(limit->value_or(max_records_page)),
                c.later([format, first, max_reply = c.h.cfg().max_reply](result<records_page> out, unsigned version,
                                                                          bool keep) {
                  if (!out) return http_error_response(out.err(), version, keep);
                  auto page = decisions_page(std::move(out->records), first, out->next, max_reply);
                  if (format == "jsonl") return jsonl_page(page, version, keep);
                  return json_reply(boost::json::serialize(page), version, keep);
                }));
}

// Protocol §9.8 (webhook_routes.cpp): the outbox for service and support tokens.
void handle_webhooks(const http_call& c) {
  if (!c.get()) return c.fail(errc::bad_request, "use GET");
  auto who = c.authorize();
  if (!who) return;
  handle_webhook_list(c.h.webhooks(), *who, c.req, c.target, c.respond);
}

void handle_webhook_retry_route(const http_call& c) {
  if (c.req.method() != http::verb::post) return c.fail(errc::bad_request, "use POST");
  auto who = c.authorize();
  if (!who) return;
  handle_webhook_retry(c.h.webhooks(), *who, c.req, c.param, c.respond);
}

void handle_unknown_api(const http_call& c) { c.fail(errc::not_found, "no such API route"); }

// The web client's files, with their validators: a matching If-None-Match answers 304.
void handle_static(const http_call& c) {
  if (!c.get()) return c.fail(errc::bad_request, "use GET");
  const static_file* file = c.h.assets().find(c.target.path);
  if (!file) return c.fail(errc::not_found, "not found");
  bool cached = etag_matches(c.req, file->etag);
  auto res = make_response(cached ? http::status::not_modified : http::status::ok, cached ? std::string() : file->body,
                           file->content_type, c.req.version(), c.req.keep_alive());
  res.set("Content-Security-Policy", content_security_policy);
  res.set(http::field::cache_control, "no-cache");
  res.set(http::field::etag, file->etag);
  c.respond(std::move(res));
}

std::optional<std::string_view> exactly(std::string_view path, std::string_view want) {
  if (path == want) return std::string_view();
  return std::nullopt;
}

// "/api/v1/engagements/<id>" with no further segment.
std::optional<std::string_view> engagement_path(std::string_view path) {
  constexpr std::string_view prefix = "/api/v1/engagements/";
  if (!path.starts_with(prefix) || path.find('/', prefix.size()) != std::string_view::npos) return std::nullopt;
  return path.substr(prefix.size());
}

std::optional<std::string_view> any_path(std::string_view path) { return path; }

// The routes, first match wins. `match` gives the path's variable part (or
// nullopt when the path is another route's); the operator's listener serves
// only the routes marked for it. The method is checked by each handler, so
// that a wrong one is told which to use.
struct route {
  std::optional<std::string_view> (*match)(std::string_view path);
  bool operator_listener;
  void (*handle)(const http_call& c);
};

const route routes[] = {
    {[](std::string_view p) { return exactly(p, "/healthz"); }, true, handle_healthz},
    {[](std::string_view p) { return exactly(p, "/readyz"); }, true, handle_readyz},
    {[](std::string_view p) { return exactly(p, "/metrics"); }, true, handle_metrics},
    {[](std::string_view p) { return exactly(p, "/api/v1/users/me/availability"); }, false, handle_my_availability},
    {[](std::string_view p) { return path_middle(p, "/api/v1/users/", "/revoke"); }, false, handle_revoke},
    {[](std::string_view p) { return exactly(p, "/api/v1/keys"); }, false, handle_keys},
    {[](std::string_view p) { return path_middle(p, "/api/v1/channels/", "/events"); }, false, handle_channel_events},
    {[](std::string_view p) { return exactly(p, "/api/v1/engagements"); }, false, handle_engagement_list},
    {engagement_path, false, handle_engagement_state},
    {[](std::string_view p) { return path_middle(p, "/api/v1/engagements/", "/decisions"); }, false, handle_decisions},
    {[](std::string_view p) { return path_middle(p, "/api/v1/engagements/", "/calendar.ics"); }, false, handle_calendar},
    {[](std::string_view p) { return path_middle(p, "/api/v1/engagements/", "/reviews"); }, false, handle_reviews},
    {[](std::string_view p) { return exactly(p, "/api/v1/webhooks"); }, false, handle_webhooks},
    {[](std::string_view p) { return path_middle(p, "/api/v1/webhooks/", "/retry"); }, false, handle_webhook_retry_route},
    {[](std::string_view p) { return p.starts_with("/api/") ? std::optional(p) : std::nullopt; }, false,
     handle_unknown_api},
    {any_path, false, handle_static},
};

}  // namespace

void set_server_header(std::string value) { server_header = std::move(value); }

http_response rate_limited_response(std::string message, std::int64_t retry_ms, unsigned version, bool keep_alive) {
  auto res = http_error_response(make_error(errc::rate_limited, std::move(message)), version, keep_alive);
  // Whole seconds, rounded up, never 0: a client that waits as told gets a token.
  res.set(http::field::retry_after, std::to_string(std::max<std::int64_t>(1, (retry_ms + 999) / 1000)));
  return res;
}

std::variant<claims, http_response> authorize_request(hub& h, const http::fields& headers, unsigned version,
                                                      bool keep_alive, const http_origin& from) {
  auto who = bearer(h, headers, from);
  if (!who) return http_error_response(who.err(), version, keep_alive);
  std::int64_t retry_ms = 0;
  if (!h.rates().take(who->who.id, op_class::http, now_ms(), &retry_ms)) {
    bump(h.stats().rate_limited);
    return rate_limited_response("too many requests; slow down", retry_ms, version, keep_alive);
  }
  return std::move(who.value());
}

http_response http_json_response(std::string body, unsigned version, bool keep_alive, http::status status) {
  return json_reply(std::move(body), version, keep_alive, status);
}

const std::string& http_server_header() { return server_header; }

http_response http_error_response(const error& e, unsigned version, bool keep_alive) {
  return json_reply(http_error_body(e), version, keep_alive, static_cast<http::status>(http_status(e.code)));
}

void handle_http(hub& h, const http_request& req, const http_origin& from,
                 std::function<void(http_response)> respond) {
  bump(h.stats().http_requests);
  auto t = split_target(std::string_view(req.target().data(), req.target().size()));
  if (!t) {
    return respond(http_error_response(make_error(errc::bad_request, "malformed query string"), req.version(),
                                       req.keep_alive()));
  }
  for (const auto& r : routes) {
    auto param = r.match(t->path);
    if (!param) continue;
    http_call call{h, req, from, *t, *param, std::move(respond)};
    if (from.admin && !r.operator_listener) {
      return call.fail(errc::not_found, "the operator's listener serves /metrics, /healthz and /readyz only");
    }
    return r.handle(call);
  }
}

}  // namespace parley
