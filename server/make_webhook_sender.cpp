#include "server/make_webhook_sender.hpp"

#include "server/webhook_client.hpp"

#include <stdexcept>

namespace parley {

std::shared_ptr<webhook_sender> make_webhook_sender(const config& cfg, webhook_outbox& outbox,
                                                    boost::asio::any_io_executor executor, metrics& stats) {
  auto to = parse_webhook_url(cfg.webhook_url);
  if (!to) throw std::runtime_error("--webhook-url: " + to.err().message);
  webhook_client_settings client_settings;
  client_settings.to = std::move(to.value());
  client_settings.ca_file = cfg.webhook_ca_file;
  auto client = std::make_shared<webhook_client>(executor, std::move(client_settings));

  webhook_sender_settings settings;
  settings.owner = cfg.instance;
  settings.secret = cfg.webhook_secret;
  settings.retry.budget_ms = cfg.webhook_retry_for_ms;
  settings.concurrency = cfg.webhook_concurrency;
  auto transport = [client](webhook_request request, std::function<void(result<void>)> done) {
    client->post(std::move(request), std::move(done));
  };
  return std::make_shared<webhook_sender>(std::move(executor), outbox, std::move(transport), std::move(settings), stats);
}

}  // namespace parley
