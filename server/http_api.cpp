#include "server/http_api.hpp"

#include "protocol/frame.hpp"
#include "protocol/reply.hpp"
#include "protocol/version.hpp"
#include "server/static_files.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <charconv>

namespace parley {
namespace http = boost::beast::http;

namespace {

// The web client's scripts and styles come from this origin only; no inline script runs.
constexpr const char* content_security_policy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

// Every response: our Server header, nosniff, and the request's HTTP version and keep-alive.
http_response make_response(http::status status, std::string body, std::string content_type, unsigned version,
                            bool keep_alive) {
  http_response res{status, version};
  res.set(http::field::server, std::string("parley/") + parley::version);
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

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

struct target {
  std::string path;
  std::unordered_map<std::string, std::string> query;
};

std::optional<target> split_target(std::string_view t) {
  target out;
  auto q = t.find('?');
  out.path = std::string(t.substr(0, q));
  if (q == std::string_view::npos) return out;
  std::string_view rest = t.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq));
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!key || !value) return std::nullopt;
    out.query[*key] = *value;
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return out;
}

// A non-negative integer query parameter; nullopt when absent, error when malformed.
result<std::optional<std::int64_t>> query_int(const target& t, const std::string& name, std::int64_t min,
                                              std::int64_t max) {
  auto it = t.query.find(name);
  if (it == t.query.end() || it->second.empty()) return std::optional<std::int64_t>{};
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  if (ec != std::errc{} || end != it->second.data() + it->second.size() || v < min || v > max)
    return make_error(errc::bad_request, "'" + name + "' must be an integer from " + std::to_string(min) + " to " +
                                             std::to_string(max));
  return std::optional<std::int64_t>{v};
}

result<claims> bearer(hub& h, const http_request& req) {
  auto auth = req[http::field::authorization];
  constexpr std::string_view scheme = "Bearer ";
  if (auth.size() <= scheme.size() || !std::string_view(auth.data(), auth.size()).starts_with(scheme))
    return make_error(errc::unauthorized, "an Authorization: Bearer token is required");
  return h.authenticate(std::string_view(auth.data(), auth.size()).substr(scheme.size()));
}

bool is_loopback(const boost::asio::ip::address& a) { return a.is_loopback(); }

}  // namespace

http_response http_error_response(const error& e, unsigned version, bool keep_alive) {
  return json_reply(http_error_body(e), version, keep_alive, static_cast<http::status>(http_status(e.code)));
}

void handle_http(hub& h, const http_request& req, const boost::asio::ip::address& remote,
                 std::function<void(http_response)> respond) {
  bump(h.stats().http_requests);
  auto fail = [&](errc code, std::string message) {
    respond(http_error_response(make_error(code, std::move(message)), req.version(), req.keep_alive()));
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
    bool ready = h.storage().ready();
    return respond(json_reply(ready ? R"({"status":"ready"})" : R"({"status":"unavailable"})", req.version(),
                              req.keep_alive(), ready ? http::status::ok : http::status::service_unavailable));
  }
  if (path == "/metrics") {
    if (!is_loopback(remote)) {
      auto who = bearer(h, req);
      if (!who) return fail(errc::unauthorized, who.err().message);
      if (who->who.role != user_role::service) return fail(errc::forbidden, "metrics are for service tokens");
    }
    return respond(make_response(http::status::ok, h.stats().render(h.storage().stats()),
                                 "text/plain; version=0.0.4; charset=utf-8", req.version(), req.keep_alive()));
  }

  constexpr std::string_view channels_prefix = "/api/v1/channels/";
  constexpr std::string_view engagements_prefix = "/api/v1/engagements/";
  if (path.starts_with(channels_prefix) && path.ends_with("/events")) {
    auto raw = std::string_view(path).substr(channels_prefix.size());
    raw.remove_suffix(std::string_view("/events").size());
    auto ch = percent_decode(raw);
    if (!ch) return fail(errc::bad_request, "malformed channel name");
    auto who = bearer(h, req);
    if (!who) return fail(errc::unauthorized, who.err().message);

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
    auto who = bearer(h, req);
    if (!who) return fail(errc::unauthorized, who.err().message);
    auto ch = "eng:" + path.substr(engagements_prefix.size());
    return h.state_of(*who, ch, [respond, version = req.version(), keep = req.keep_alive()](result<boost::json::value> s) {
      if (!s) return respond(http_error_response(s.err(), version, keep));
      respond(json_reply(boost::json::serialize(s.value()), version, keep));
    });
  }

  if (path.starts_with(engagements_prefix) && path.ends_with("/decisions")) {
    if (!get) return fail(errc::bad_request, "use GET");
    auto eng = std::string_view(path).substr(engagements_prefix.size());
    eng.remove_suffix(std::string_view("/decisions").size());
    auto ch = parse_channel("eng:" + std::string(eng));
    if (!ch) return fail(errc::bad_request, "invalid engagement id");
    auto who = bearer(h, req);
    if (!who) return fail(errc::unauthorized, who.err().message);
    auto format = t->query.count("format") ? t->query.at("format") : std::string("json");
    if (format != "json" && format != "jsonl") return fail(errc::bad_request, "format is json or jsonl");
    auto after = query_int(*t, "after", 0, INT64_MAX);
    auto limit = query_int(*t, "limit", 1, max_records_page);
    for (auto* r : {&after, &limit})
      if (!*r) return fail(r->err().code, r->err().message);
    auto from = after->value_or(0);
    return h.read_records(*who, ch->eng, from, static_cast<int>(limit->value_or(max_records_page)),
                          [respond, format, from, max_reply = h.cfg().max_reply, version = req.version(),
                           keep = req.keep_alive()](records_outcome out) {
      if (out.err) return respond(http_error_response(*out.err, version, keep));
      auto page = decisions_page(std::move(out.records), from, out.next, max_reply);
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
  auto file = load_static_file(h.cfg().web_root, path);
  if (!file) return fail(errc::not_found, "not found");
  auto res = make_response(http::status::ok, std::move(file->body), file->content_type, req.version(), req.keep_alive());
  res.set("Content-Security-Policy", content_security_policy);
  res.set(http::field::cache_control, "no-cache");
  respond(std::move(res));
}

}  // namespace parley
