#include "server/webhook_routes.hpp"

#include "storage/clock.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

namespace parley {
namespace http = boost::beast::http;

namespace {

result<void> may_see_webhooks(const claims& who) {
  if (who.who.role != user_role::service && who.who.role != user_role::support)
    return make_error(errc::forbidden, "webhooks are for service and support tokens");
  return {};
}

// Entry ids are the outbox's ("wh_" and hex); anything else names none.
bool plausible_id(std::string_view id) {
  return !id.empty() && id.size() <= 128 &&
         id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:") ==
             std::string_view::npos;
}

http_response json_ok(const boost::json::value& v, unsigned version, bool keep) {
  return http_json_response(boost::json::serialize(v), version, keep, http::status::ok);
}

}  // namespace

boost::json::object webhook_entry_json(const webhook_entry& e) {
  boost::json::object o{{"id", e.id},
                        {"eng", e.eng},
                        {"type", e.type},
                        {"ts", e.ts},
                        {"state", webhook_state_name(e.state)},
                        {"attempts", e.attempts},
                        {"next_at", e.next_at},
                        {"last_error", e.last_error}};
  o["delivered_at"] = e.delivered_at ? boost::json::value(e.delivered_at) : boost::json::value(nullptr);
  return o;
}

void handle_webhook_list(webhook_outbox& outbox, const claims& who, const http_request& req, const http_target& target,
                         std::function<void(http_response)> respond) {
  auto version = req.version();
  bool keep = req.keep_alive();
  auto fail = [&](errc code, std::string why) {
    respond(http_error_response(make_error(code, std::move(why)), version, keep));
  };
  if (req.method() != http::verb::get && req.method() != http::verb::head) return fail(errc::bad_request, "use GET");
  if (auto allowed = may_see_webhooks(who); !allowed) return fail(allowed.err().code, allowed.err().message);
  auto state_param = target.query.find("state");
  auto state = state_param == target.query.end() ? std::nullopt : parse_webhook_state(state_param->second);
  if (!state || *state == webhook_state::delivered) return fail(errc::bad_request, "state is pending or failed");
  std::string after;
  if (auto a = target.query.find("after"); a != target.query.end() && !a->second.empty()) {
    if (!plausible_id(a->second)) return fail(errc::bad_request, "after is a webhook id");
    after = a->second;
  }
  auto limit = query_int(target, "limit", 1, max_webhook_page);
  if (!limit) return fail(limit.err().code, limit.err().message);
  outbox.list_webhooks(*state, std::move(after), static_cast<int>(limit->value_or(default_webhook_page)),
                       [respond = std::move(respond), version, keep](result<webhook_page> page) {
                         if (!page) return respond(http_error_response(page.err(), version, keep));
                         boost::json::array items;
                         for (const auto& e : page->entries) items.push_back(webhook_entry_json(e));
                         boost::json::object o{{"webhooks", std::move(items)}};
                         o["next"] = page->next ? boost::json::value(*page->next) : boost::json::value(nullptr);
                         respond(json_ok(o, version, keep));
                       });
}

void handle_webhook_retry(webhook_outbox& outbox, const claims& who, const http_request& req, std::string_view id,
                          std::function<void(http_response)> respond) {
  auto version = req.version();
  bool keep = req.keep_alive();
  auto fail = [&](errc code, std::string why) {
    respond(http_error_response(make_error(code, std::move(why)), version, keep));
  };
  if (req.method() != http::verb::post) return fail(errc::bad_request, "use POST");
  if (auto allowed = may_see_webhooks(who); !allowed) return fail(allowed.err().code, allowed.err().message);
  auto decoded = percent_decode(id);
  if (!decoded || !plausible_id(*decoded)) return fail(errc::not_found, "no such webhook");
  outbox.retry_webhook(*decoded, now_ms(), [respond = std::move(respond), version, keep](result<webhook_entry> e) {
    if (!e) return respond(http_error_response(e.err(), version, keep));
    respond(json_ok(webhook_entry_json(*e), version, keep));
  });
}

}  // namespace parley
