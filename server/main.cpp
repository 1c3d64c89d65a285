// parley: the server, and `parley verify-log FILE` to check an exported decision log.
#include "server/config.hpp"
#include "server/dev_secret.hpp"
#include "server/hub.hpp"
#include "server/listener.hpp"
#include "server/signing_keys.hpp"
#include "server/sla_watcher.hpp"
#include "server/verify_log.hpp"
#include "server/ws_session.hpp"
#include "storage/local_engine.hpp"
#include "storage/log.hpp"
#include "storage/redis_engine.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json/serialize.hpp>

#include <cstring>
#include <future>
#include <iostream>
#include <thread>

namespace net = boost::asio;
using namespace parley;

namespace {

// How long a drain waits for WebSocket clients to complete their close handshake.
constexpr auto drain_deadline = std::chrono::seconds(5);

void close_all_sessions(hub& h) {
  for (auto& w : h.workers()) {
    net::post(w->ioc, [w = w.get()] {
      for (auto& [key, weak] : w->sessions)
        if (auto s = weak.lock()) s->going_away();
    });
  }
}

int serve(config cfg) {
  std::filesystem::create_directories(cfg.data_dir);
  if (cfg.secret.empty()) {
    cfg.secret = load_or_create_dev_secret(cfg.data_dir);
    cfg.dev_secret = true;
  }
  // Development mode: the one place that decides it for the signing key.
  const bool dev = cfg.dev_secret;
  signing_keys keys;
  try {
    keys = load_signing_keys(cfg, dev);
  } catch (const std::exception& e) {
    // A missing or bad key is bad configuration: one line, exit status 2.
    std::cerr << "parley: " << e.what() << "\n";
    return 2;
  }
  cfg.jwks = boost::json::serialize(keys.keys.to_jwks());
  std::unique_ptr<engine> storage;
  if (cfg.redis_url.empty()) {
    local_engine_options options;
    options.db_path = cfg.data_dir / "parley.db";
    options.signer = keys.signer;
    storage = make_local_engine(options);
  } else {
    redis_engine_options options;
    options.url = cfg.redis_url;
    options.instance = cfg.instance;
    options.signer = keys.signer;
    storage = make_redis_engine(options);
  }
  hub h(cfg, *storage, cfg.threads);
  sla_watcher watcher(h.workers().front()->ioc, *storage, h.engagements(), cfg.sla);
  h.engagements().set_on_change([&watcher](const engagement_state& s) { watcher.schedule(s); });
  watcher.start();

  auto address = net::ip::make_address(cfg.listen_host);
  auto server = std::make_shared<listener>(h, h.workers().front()->ioc, net::ip::tcp::endpoint(address, cfg.listen_port));
  server->run();

  std::promise<int> stop_signal;
  net::signal_set signals(h.workers().front()->ioc, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (!ec) stop_signal.set_value(sig);
  });

  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  for (auto& w : h.workers()) {
    guards.push_back(net::make_work_guard(w->ioc));
    threads.emplace_back([&ioc = w->ioc] { ioc.run(); });
  }

  auto port = server->local_endpoint().port();
  std::string host = address.is_v6() ? "[" + cfg.listen_host + "]" : cfg.listen_host;
  std::string url = "http://" + host + ":" + std::to_string(port) + "/";
  std::cout << "parley: listening on " << url << std::endl;
  std::cerr << "parley: instance " << cfg.instance << ", " << cfg.threads << " threads, "
            << (cfg.redis_url.empty() ? "embedded storage in " + cfg.data_dir.string() : "Redis at " + cfg.redis_url)
            << "\n";
  log_event(log_level::info, "signing_key",
            {{"kid", keys.signer->kid()},
             {"source", cfg.signing_key_file.empty() ? "development" : "file"},
             {"published_keys", std::to_string(keys.keys.size())}});
  if (cfg.dev_secret) print_demo_tokens(std::cerr, url, cfg.secret);

  int sig = stop_signal.get_future().get();
  std::cerr << "parley: " << strsignal(sig) << ": draining\n";
  server->stop();
  watcher.stop();
  close_all_sessions(h);
  auto deadline = std::chrono::steady_clock::now() + drain_deadline;
  while (h.stats().ws_connections.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  storage->stop();  // every pending append is committed and answered
  for (auto& g : guards) g.reset();
  for (auto& w : h.workers()) w->ioc.stop();
  for (auto& t : threads) t.join();
  std::cerr << "parley: stopped\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "verify-log") == 0) {
    return verify_log_command(std::vector<std::string>(argv + 2, argv + argc), std::cout, std::cerr);
  }
  config cfg;
  switch (parse_config(argc, argv, cfg)) {
    case parse_outcome::exit_ok: return 0;
    case parse_outcome::exit_error: return 2;
    case parse_outcome::run: break;
  }
  try {
    return serve(std::move(cfg));
  } catch (const std::exception& e) {
    std::cerr << "parley: " << e.what() << "\n";
    return 1;
  }
}
