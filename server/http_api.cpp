#include "server/http_api.hpp"

#include "protocol/frame.hpp"
#include "protocol/http_target.hpp"
#include "protocol/reply.hpp"
#include "protocol/version.hpp"
#include "server/static_files.hpp"
#include "storage/log.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>

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

result<claims> bearer(hub& h, const http_request& req, const http_origin& from) {
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
std::optional<error> may_read_metrics(hub& h, const http_request& req, const http_origin& from) {
  if (from.admin) return std::nullopt;
  if (h.cfg().admin_host.empty() && from.remote.is_loopback()) return std::nullopt;
  auto who = bearer(h, req, from);
  if (!who) return who.err();
  if (who->who.role != user_role::service) return make_error(errc::forbidden, "metrics are for service tokens");
  return std::nullopt;
}

// The validators of a cached copy: a matching If-None-Match answers 304.
bool etag_matches(const http_request& req, const std::string& etag) {
  auto inm = req[http::field::if_none_match];
  std::string_view list(inm.data(), inm.size());
  if (list == "*") return true;
  return list.find(etag) != std::string_view::npos;
}

}  // namespace

void set_server_header(std::string value) { server_header = std::move(value); }

http_response http_error_response(const error& e, unsigned version, bool keep_alive) {
  return json_reply(http_error_body(e), version, keep_alive, static_cast<http::status>(http_status(e.code)));
}

void handle_http(hub& h, const http_request& req, const http_origin& from,
                 std::function<void(http_response)> respond) {
  bump(h.stats().http_requests);
  auto fail = [&](errc code, std::string message) {
    respond(http_error_response(make_error(code, std::move(message)), req.version(), req.keep_alive()));
  };
  // The bearer's claims, once its subject's HTTP bucket (protocol §9.10) gave
  // a token; otherwise the request is answered here (401, or 429 with Retry-After).
  auto authorize = [&]() -> std::optional<claims> {
    auto who = bearer(h, req, from);
    if (!who) {
      fail(who.err().code, who.err().message);
      return std::nullopt;
    }
    std::int64_t retry_ms = 0;
    if (!h.rates().take(who->who.id, op_class::http, now_ms(), &retry_ms)) {
      bump(h.stats().rate_limited);
      auto res = http_error_response(make_error(errc::rate_limited, "too many requests; slow down"), req.version(),
                                     req.keep_alive());
      // Whole seconds, rounded up, never 0: a client that waits as told gets a token.
      res.set(http::field::retry_after, std::to_string(std::max<std::int64_t>(1, (retry_ms + 999) / 1000)));
      respond(std::move(res));
      return std::nullopt;
    }
    return std::move(who.value());
  };
  auto t = split_target(std::string_view(req.target().data(), req.target().size()));
  if (!t) return fail(errc::bad_request, "malformed query string");
  const std::string& path = t->path;
  const bool get = req.method() == http::verb::get || req.method() == http::verb::head;

  if (path == "/healthz") {
    if (!get) return fail(errc::bad_request, "use GET");
    return respond(json_reply(R"({"status":"ok"})", req.version(), req.keep_alive()));
  }
  if (path == "/readyz") {
    if (!get) return fail(errc::bad_request, "use GET");
    bool ready = h.ready();
    return respond(json_reply(ready ? R"({"status":"ready"})" : R"({"status":"unavailable"})", req.version(),
                              req.keep_alive(), ready ? http::status::ok : http::status::service_unavailable));
  }
  if (path == "/metrics") {
    if (auto e = may_read_metrics(h, req, from)) return fail(e->code, e->message);
    return respond(make_response(http::status::ok, h.render_metrics(),
                                 "text/plain; version=0.0.4; charset=utf-8", req.version(), req.keep_alive()));
  }

  if (from.admin) return fail(errc::not_found, "the operator's listener serves /metrics, /healthz and /readyz only");

  constexpr std::string_view users_prefix = "/api/v1/users/";
  if (path.starts_with(users_prefix) && path.ends_with("/revoke")) {
    if (req.method() != http::verb::post) return fail(errc::bad_request, "use POST");
    auto raw = std::string_view(path).substr(users_prefix.size());
    raw.remove_suffix(std::string_view("/revoke").size());
    auto user_id = percent_decode(raw);
    if (!user_id || user_id->empty() || user_id->size() > 128) return fail(errc::bad_request, "malformed user id");
    auto who = authorize();
    if (!who) return;
    if (who->who.role != user_role::service) return fail(errc::forbidden, "revoking tokens is for service tokens");
    return h.revoke(*user_id, [respond, version = req.version(), keep = req.keep_alive()](result<revocation> r) {
      if (!r) return respond(http_error_response(r.err(), version, keep));
      boost::json::object o{{"user", r->user_id}, {"valid_after", r->valid_after}};
      respond(json_reply(boost::json::serialize(o), version, keep));
    });
  }

  if (path == "/api/v1/keys") {
    if (!get) return fail(errc::bad_request, "use GET");
    // Public keys for anyone who checks an export (protocol §9.11), also from
    // another origin's page: nothing here is secret and no credential is used.
    auto res = json_reply(h.cfg().jwks, req.version(), req.keep_alive());
    res.set(http::field::access_control_allow_origin, "*");
    return respond(std::move(res));
  }

  constexpr std::string_view channels_prefix = "/api/v1/channels/";
  constexpr std::string_view engagements_prefix = "/api/v1/engagements/";
  if (auto raw = path_middle(path, channels_prefix, "/events")) {
    auto ch = percent_decode(*raw);
    if (!ch) return fail(errc::bad_request, "malformed channel name");
    auto who = authorize();
    if (!who) return;

    if (req.method() == http::verb::post) {
      auto body = parse_http_post(req.body());
      if (!body) return fail(body.err().code, body.err().message);
      return h.post(*who, *ch, body->kind, body->body, body->cid,
                    [respond, version = req.version(), keep = req.keep_alive()](result<post_ack> r) {
                      if (!r) return respond(http_error_response(r.err(), version, keep));
                      boost::json::object o{{"seq", r->seq}, {"ts", r->ts}};
                      if (r->duplicate) o["duplicate"] = true;
                      // A replayed cid created nothing: 200, not 201.
                      respond(json_reply(boost::json::serialize(o), version, keep,
                                         r->duplicate ? http::status::ok : http::status::created));
                    });
    }
    if (!get) return fail(errc::bad_request, "use GET or POST");
    auto after = query_int(*t, "after", 0, INT64_MAX);
    auto before = query_int(*t, "before", 1, INT64_MAX);
    auto limit = query_int(*t, "limit", 1, 500);
    for (auto* r : {&after, &before, &limit})
      if (!*r) return fail(r->err().code, r->err().message);
    if (after->has_value() && before->has_value()) return fail(errc::bad_request, "give 'after' or 'before', not both");
    read_query q;
    q.ch = *ch;
    q.after = after.value();
    q.before = before.value();
    q.limit = static_cast<int>(limit->value_or(50));
    q.max_bytes = h.cfg().max_reply;
    return h.read(*who, std::move(q), [respond, max_reply = h.cfg().max_reply, version = req.version(),
                                       keep = req.keep_alive()](read_outcome out) {
      if (out.err) return respond(http_error_response(*out.err, version, keep));
      std::vector<std::shared_ptr<const std::string>> events;
      for (const auto& e : out.events) events.push_back(e.json);
      // Bounded like a WebSocket reply: the oldest events that fit and "more": true.
      auto body =
          object_with_events_within({{"epoch", out.epoch}, {"head", out.head}}, events, max_reply, out.truncated);
      respond(json_reply(std::move(body.frame), version, keep));
    });
  }

  if (path.starts_with(engagements_prefix) && path.find('/', engagements_prefix.size()) == std::string::npos) {
    if (!get) return fail(errc::bad_request, "use GET");
    auto who = authorize();
    if (!who) return;
    auto ch = "eng:" + path.substr(engagements_prefix.size());
    return h.state_of(*who, ch, [respond, version = req.version(), keep = req.keep_alive()](result<boost::json::value> s) {
      if (!s) return respond(http_error_response(s.err(), version, keep));
      respond(json_reply(boost::json::serialize(s.value()), version, keep));
    });
  }

  if (auto eng = path_middle(path, engagements_prefix, "/decisions")) {
    if (!get) return fail(errc::bad_request, "use GET");
    auto ch = parse_channel("eng:" + std::string(*eng));
    if (!ch) return fail(errc::bad_request, "invalid engagement id");
    auto who = authorize();
    if (!who) return;
    auto format = t->query.count("format") ? t->query.at("format") : std::string("json");
    if (format != "json" && format != "jsonl") return fail(errc::bad_request, "format is json or jsonl");
    auto after = query_int(*t, "after", 0, INT64_MAX);
    auto limit = query_int(*t, "limit", 1, max_records_page);
    for (auto* r : {&after, &limit})
      if (!*r) return fail(r->err().code, r->err().message);
    auto first = after->value_or(0);
    return h.decisions(*who, ch->eng, first, static_cast<int>(limit->value_or(max_records_page)),
                          [respond, format, first, max_reply = h.cfg().max_reply, version = req.version(),
                           keep = req.keep_alive()](records_outcome out) {
      if (out.err) return respond(http_error_response(*out.err, version, keep));
      auto page = decisions_page(std::move(out.records), first, out.next, max_reply);
      if (format == "jsonl") {
        // One record a line; where the next page starts travels in a header.
        std::string lines;
        for (const auto& r : page.at("records").as_array()) lines += boost::json::serialize(r) + "\n";
        auto res = json_reply(std::move(lines), version, keep);
        res.set(http::field::content_type, "application/x-ndjson");
        if (page.at("next").is_int64()) res.set("Parley-Next", std::to_string(page.at("next").as_int64()));
        return respond(std::move(res));
      }
      respond(json_reply(boost::json::serialize(page), version, keep));
    });
  }

  if (path.starts_with("/api/")) return fail(errc::not_found, "no such API route");
  if (!get) return fail(errc::bad_request, "use GET");
  const static_file* file = h.assets().find(path);
  if (!file) return fail(errc::not_found, "not found");
  bool cached = etag_matches(req, file->etag);
  auto res = make_response(cached ? http::status::not_modified : http::status::ok, cached ? std::string() : file->body,
                           file->content_type, req.version(), req.keep_alive());
  res.set("Content-Security-Policy", content_security_policy);
  res.set(http::field::cache_control, "no-cache");
  res.set(http::field::etag, file->etag);
  respond(std::move(res));
}

}  // namespace parley
