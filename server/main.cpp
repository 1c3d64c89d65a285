// parley: the server; `parley verify-log FILE` to check an exported decision log;
// `parley backup` and `parley restore` of the embedded engine's data.
#include "server/backup_command.hpp"
#include "server/config.hpp"
#include "server/dev_demo.hpp"
#include "server/dev_secret.hpp"
#include "server/http_api.hpp"
#include "server/hub.hpp"
#include "server/make_blob_store.hpp"
#include "server/listener.hpp"
#include "server/listening_socket.hpp"
#include "server/service_notify.hpp"
#include "server/redirect_listener.hpp"
#include "server/tls_context.hpp"
#include "server/signing_keys.hpp"
#include "server/verify_log.hpp"
#include "server/make_webhook_sender.hpp"
#include "server/webhook_verify.hpp"
#include "storage/clock.hpp"
#include "storage/local_engine.hpp"
#include "storage/log.hpp"
#include "storage/redis_engine.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>

#include <csignal>
#include <cstring>
#include <sys/resource.h>
#include <sys/stat.h>
#include <functional>
#include <future>
#include <optional>
#include <iostream>
#include <sstream>
#include <thread>

namespace net = boost::asio;
using namespace parley;

namespace {

// How long a drain waits for WebSocket clients to complete their close handshake.
constexpr auto drain_deadline = std::chrono::seconds(5);
// With --reuse-port, how long the embedded engine waits for a draining
// process to let go of the database: its drain, then its last commits.
constexpr auto database_handover = std::chrono::seconds(30);

// Raises the descriptor limit to its hard limit and returns it: connections
// are capped below it, so that running out never happens on the hot path.
rlim_t raise_descriptor_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return lim.rlim_cur;
}

// A reason the server cannot run, as the log's format wants it.
void report_fatal(const config& cfg, const std::string& why) {
  if (cfg.log_json)
    log_event(log_level::error, "fatal", {{"reason", why}});
  else
    std::cerr << "parley: " << why << "\n";
}

int serve(config cfg) {
  // Everything the server creates (database, secret, keys) is its user's alone.
  ::umask(077);
  std::filesystem::create_directories(cfg.data_dir);
  // The data directory holds the database and secrets: this user's alone, also when it existed before.
  std::filesystem::permissions(cfg.data_dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace);
  auto fd_limit = raise_descriptor_limit();
  if (!cfg.max_connections) cfg.max_connections = static_cast<std::size_t>(fd_limit / 10 * 8);
  bool dev_secret = false;
  if (cfg.secret.empty()) {
    cfg.secret = load_or_create_dev_secret(cfg.data_dir);  // only with --dev: checked with the options
    dev_secret = true;
  }
  // Development mode (--dev) makes a signing key when none is configured.
  const bool dev = cfg.dev;
  signing_keys keys;
  try {
    keys = load_signing_keys(cfg, dev);
  } catch (const std::exception& e) {
    // A missing or bad key is bad configuration: one line, exit status 2.
    report_fatal(cfg, e.what());
    return 2;
  }
  cfg.jwks = boost::json::serialize(keys.keys.to_jwks());
  // TLS: a certificate or key that cannot be used is bad configuration, found before anything starts.
  std::unique_ptr<tls_credentials> tls;
  if (!cfg.tls_cert_file.empty()) {
    tls = std::make_unique<tls_credentials>(cfg.tls_cert_file, cfg.tls_key_file);
    std::string why;
    if (!tls->load(why)) {
      report_fatal(cfg, why);
      return 2;
    }
  }
  // Bound before storage opens: the port is known, and with --reuse-port
  // connections wait in this process's backlog while the previous process
  // drains and hands over the database.
  auto address = net::ip::make_address(cfg.listen_host);
  listening_socket main_socket(net::ip::tcp::endpoint(address, cfg.listen_port), cfg.reuse_port);
  std::optional<listening_socket> admin_socket;
  if (!cfg.admin_host.empty())
    admin_socket.emplace(net::ip::tcp::endpoint(net::ip::make_address(cfg.admin_host), cfg.admin_port), cfg.reuse_port);
  std::optional<listening_socket> redirect_socket;
  if (!cfg.redirect_host.empty())
    redirect_socket.emplace(net::ip::tcp::endpoint(net::ip::make_address(cfg.redirect_host), cfg.redirect_port),
                            cfg.reuse_port);
  std::unique_ptr<engine> storage;
  if (cfg.redis_url.empty()) {
    local_engine_options options;
    options.db_path = cfg.data_dir / "parley.db";
    options.max_queue = cfg.storage_queue;
    options.signer = keys.signer;
    options.webhooks = !cfg.webhook_url.empty();
    if (cfg.reuse_port) options.lock_wait = database_handover;
    storage = make_local_engine(options);
  } else {
    redis_engine_options options;
    options.url = cfg.redis_url;
    options.cluster = cfg.redis_cluster;
    options.wait_replicas = cfg.redis_wait_replicas;
    options.wait_timeout = cfg.redis_wait_timeout;
    options.instance = cfg.instance;
    options.max_in_flight = cfg.storage_queue;
    options.signer = keys.signer;
    options.webhooks = !cfg.webhook_url.empty();
    storage = make_redis_engine(options);
  }
  set_server_header(cfg.server_header);
  hub h(cfg, *storage, cfg.threads);
  h.use_files(make_blob_store(cfg));
  h.start_service_levels();

  h.load_revocations();
  // Read markers reach storage in batches: at least once a second, and at the end.
  net::steady_timer marker_timer(h.workers().front()->ioc);
  std::function<void()> arm_marker_flush = [&] {
    marker_timer.expires_after(std::chrono::seconds(1));
    marker_timer.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      h.flush_read_markers();
      arm_marker_flush();
    });
  };
  arm_marker_flush();

  // Webhooks (protocol §9.8): sent from the first worker, woken by every commit.
  std::shared_ptr<webhook_sender> webhooks;
  if (!cfg.webhook_url.empty()) {
    webhooks = make_webhook_sender(cfg, *storage, h.workers().front()->ioc.get_executor(), h.stats());
    h.on_commit([webhooks] { webhooks->poke(); });
  }

  // Connections are accepted from run() on, once the server is ready for them.
  auto server = std::make_shared<listener>(h, h.workers().front()->ioc, std::move(main_socket),
                                           listener_role::public_port, tls.get());
  // The admin listener stays plain HTTP even with TLS: it is meant for loopback and operator networks.
  std::shared_ptr<listener> admin;
  if (admin_socket)
    admin = std::make_shared<listener>(h, h.workers().front()->ioc, std::move(*admin_socket), listener_role::admin_port);

  std::shared_ptr<redirect_listener> redirect;
  if (redirect_socket) {
    redirect = std::make_shared<redirect_listener>(h.workers().front()->ioc, std::move(*redirect_socket), cfg.listen_host,
                                                   server->local_endpoint().port(), h.limits());
  }

  std::promise<int> stop_signal;
  net::signal_set signals(h.workers().front()->ioc, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (!ec) stop_signal.set_value(sig);
  });
  // SIGHUP reloads the TLS pair: connections open keep theirs, new
  // handshakes use the new one; a pair that does not load is refused (one
  // log line) and the one in use kept. Signals that come during a reload
  // are merged into one by the signal_set, so a storm costs a reload at a time.
  net::signal_set hangups(h.workers().front()->ioc, SIGHUP);
  std::function<void()> arm_reload = [&] {
    hangups.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      if (!tls) {
        log_event(log_level::info, "reload", {{"result", "nothing to reload (no --tls-cert)"}});
      } else if (std::string why; tls->load(why)) {
        log_event(log_level::info, "tls_reloaded", {{"cert", cfg.tls_cert_file}});
      } else {
        log_event(log_level::error, "tls_reload_refused", {{"reason", why}, {"kept", "the pair in use"}});
      }
      arm_reload();
    });
  };
  arm_reload();

  // Under systemd's watchdog (WatchdogSec=), pinged from the first worker's
  // loop, where the listeners and timers run: if it wedges, the pings stop.
  service_watchdog watchdog(h.workers().front()->ioc);

  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  for (auto& w : h.workers()) {
    guards.push_back(net::make_work_guard(w->ioc));
    threads.emplace_back([&ioc = w->ioc] { ioc.run(); });
  }

  // Tokens are accepted once the revocations are read: wait for that (a few
  // seconds at most; storage that is down at start is waited for in the background).
  for (int i = 0; i < 500 && !h.revocations_loaded(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  // The demo engagement exists before the first connection is accepted, so
  // that no early client creates it on first use instead of by invitation.
  if (cfg.dev && dev_secret) create_demo_engagement(h, cfg.secret, std::cerr);
  server->run();
  if (admin) admin->run();
  if (redirect) redirect->run();
  if (webhooks) webhooks->start();

  auto port = server->local_endpoint().port();
  std::string host = address.is_v6() ? "[" + cfg.listen_host + "]" : cfg.listen_host;
  std::string url = std::string(tls ? "https://" : "http://") + host + ":" + std::to_string(port) + "/";
  std::cout << "parley: listening on " << url << std::endl;
  if (admin) {
    std::ostringstream endpoint;
    endpoint << admin->local_endpoint();
    log_event(log_level::info, "operator_endpoints", {{"address", endpoint.str()}});
  }
  if (redirect) {
    std::ostringstream endpoint;
    endpoint << redirect->local_endpoint();
    log_event(log_level::info, "redirect_listening", {{"address", endpoint.str()}});
  }
  log_event(log_level::info, "started",
            {{"url", url},
             {"instance", cfg.instance},
             {"threads", std::to_string(cfg.threads)},
             {"max_connections", std::to_string(*cfg.max_connections)},
             {"storage", cfg.redis_url.empty() ? "embedded:" + cfg.data_dir.string() : redact_redis_url(cfg.redis_url)}});
  log_event(log_level::info, "signing_key",
            {{"kid", keys.signer->kid()},
             {"source", cfg.signing_key_file.empty() ? "development" : "file"},
             {"published_keys", std::to_string(keys.keys.size())}});
  if (cfg.dev && dev_secret) print_demo_tokens(std::cerr, url, cfg.secret);
  // Type=notify: units ordered after parley.service start once it accepts.
  notify_ready("listening on " + url);

  int sig = stop_signal.get_future().get();
  log_event(log_level::info, "draining", {{"signal", strsignal(sig)}});
  notify_stopping();
  server->stop();
  if (admin) admin->stop();
  if (redirect) redirect->stop();
  net::post(h.workers().front()->ioc, [&] {
    boost::system::error_code ignored;
    hangups.cancel(ignored);
  });
  h.stop_service_levels();
  if (webhooks) webhooks->stop();  // POSTs in flight are sent again after their lease (at least once)
  h.close_all_members();
  auto deadline = std::chrono::steady_clock::now() + drain_deadline;
  while (h.stats().ws_connections.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  net::post(h.workers().front()->ioc, [&] { marker_timer.cancel(); });
  h.flush_read_markers();
  storage->stop();  // every pending append is committed and answered
  for (auto& g : guards) g.reset();
  for (auto& w : h.workers()) w->ioc.stop();
  for (auto& t : threads) t.join();
  log_event(log_level::info, "stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // hiredis writes to Redis with plain send(): a Redis that goes away mid-write
  // must be a connection error (EPIPE), not a signal that kills the server.
  std::signal(SIGPIPE, SIG_IGN);
  if (argc >= 2 && std::strcmp(argv[1], "verify-log") == 0) {
    return verify_log_command(std::vector<std::string>(argv + 2, argv + argc), std::cout, std::cerr);
  }
  if (argc >= 2 && std::strcmp(argv[1], "backup") == 0)
    return backup_command(std::vector<std::string>(argv + 2, argv + argc), std::cout, std::cerr);
  if (argc >= 2 && std::strcmp(argv[1], "restore") == 0)
    return restore_command(std::vector<std::string>(argv + 2, argv + argc), std::cout, std::cerr);
  if (argc >= 2 && std::strcmp(argv[1], "webhook-verify") == 0) {
    return webhook_verify_command(std::vector<std::string>(argv + 2, argv + argc), std::cin, std::cout, std::cerr,
                                  now_ms() / 1000);
  }
  config cfg;
  switch (parse_config(argc, argv, cfg)) {
    case parse_outcome::exit_ok: return 0;
    case parse_outcome::exit_error: return 2;
    case parse_outcome::run: break;
  }
  if (cfg.log_json) set_log_format(log_format::json);
  try {
    return serve(cfg);
  } catch (const std::exception& e) {
    report_fatal(cfg, e.what());
    return 1;
  }
}
