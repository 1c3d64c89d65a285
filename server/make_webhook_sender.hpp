#pragma once
// The one place that builds the webhook sender (protocol §9.8) from the
// configuration: the HTTP(S) client for --webhook-url, the signing secret,
// the retry budget and the concurrency, and this instance's name as the
// lease owner.
#include "server/config.hpp"
#include "server/metrics.hpp"
#include "server/webhook_sender.hpp"
#include "storage/webhook_outbox.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <memory>

namespace parley {

// Throws std::runtime_error when the URL or the CA file is unusable (the
// options were checked at start, so only a file gone since then).
std::shared_ptr<webhook_sender> make_webhook_sender(const config& cfg, webhook_outbox& outbox,
                                                    boost::asio::any_io_executor executor, metrics& stats);

}  // namespace parley
