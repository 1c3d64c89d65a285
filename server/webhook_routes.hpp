#pragma once
// The operator's view of the webhook outbox (protocol §9.8), for service and
// support tokens (anyone else: 403):
//   GET  /api/v1/webhooks?state=pending|failed[&after=ID][&limit=N]
//        {"webhooks": [entry...], "next": ID|null}, oldest first
//   POST /api/v1/webhooks/<id>/retry
//        the entry, pending again (404 unknown, 409 not failed)
// An entry is {id, eng, type, ts, state, attempts, next_at, last_error,
// delivered_at}: its body (what is POSTed) is not shown, only what became of it.
#include "protocol/token.hpp"
#include "protocol/http_target.hpp"
#include "server/http_api.hpp"
#include "storage/webhook_outbox.hpp"

#include <functional>
#include <string_view>

namespace parley {

// Listings page by this many entries unless `limit` says otherwise.
constexpr int default_webhook_page = 50;

// `who` was authenticated (and its HTTP rate taken) by the caller. `respond`
// is called once, possibly from a storage thread.
void handle_webhook_list(webhook_outbox& outbox, const claims& who, const http_request& req, const http_target& target,
                         std::function<void(http_response)> respond);
// `id` is the path's segment, still percent-encoded.
void handle_webhook_retry(webhook_outbox& outbox, const claims& who, const http_request& req, std::string_view id,
                          std::function<void(http_response)> respond);

// The JSON of an entry in those replies.
boost::json::object webhook_entry_json(const webhook_entry& e);

}  // namespace parley
