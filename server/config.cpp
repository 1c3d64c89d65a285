#include "server/config.hpp"

#include "protocol/version.hpp"
#include "server/config_file.hpp"
#include "server/s3_client.hpp"
#include "server/webhook_client.hpp"
#include "storage/redis_engine.hpp"

#include <boost/any.hpp>
#include <boost/program_options.hpp>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>
#include <unistd.h>

namespace parley {
namespace po = boost::program_options;

namespace {

// Flags map to PARLEY_<FLAG> with dashes as underscores (--max-queue ↔ PARLEY_MAX_QUEUE).
std::string env_to_option(const po::options_description& desc, const std::string& env_name) {
  static const std::string prefix = "PARLEY_";
  if (env_name.rfind(prefix, 0) != 0) return {};
  std::string name = env_name.substr(prefix.size());
  for (char& c : name) c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // PARLEY_SECRET is read separately: it is a value, not a flag.
  if (name == "secret") return {};
  return desc.find_nothrow(name, false) ? name : std::string{};
}

bool split_listen(const std::string& text, std::string& host, unsigned short& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  try {
    std::size_t used = 0;
    unsigned long p = std::stoul(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1 || p > 65535) return false;
    port = static_cast<unsigned short>(p);
  } catch (...) {
    return false;
  }
  return true;
}

std::string read_secret_file(const std::string& path, std::string& why) {
  std::ifstream in(path);
  if (!in) {
    why = "cannot read secret file " + path;
    return {};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  if (s.empty()) why = "secret file " + path + " is empty";
  return s;
}

// Uploaded files in an S3-compatible object store (s3_blob_store).
void add_s3_options(po::options_description& desc, config& out) {
  // clang-format off
  desc.add_options()
    ("s3-endpoint", po::value(&out.s3_endpoint), "http(s)://HOST[:PORT] of an S3-compatible object store for uploaded files (AWS S3, MinIO); credentials from PARLEY_S3_ACCESS_KEY and PARLEY_S3_SECRET_KEY")
    ("s3-bucket", po::value(&out.s3_bucket), "bucket of the object store (path-style: /BUCKET/files/...); required with --s3-endpoint")
    ("s3-region", po::value(&out.s3_region)->default_value(out.s3_region), "region the object store signs for")
    ("s3-cache-size", po::value(&out.s3_cache_size)->default_value(out.s3_cache_size), "bytes of downloaded files kept on local disk (least recently used beyond are removed)")
    ("s3-timeout", po::value(&out.s3_timeout_s)->default_value(out.s3_timeout_s), "seconds one step of a request to the object store may take (connect, one read or write)");
  // clang-format on
}

// Empty when the S3 options are consistent; otherwise why not.
std::string check_s3_options(const po::variables_map& vm, config& out) {
  if (out.s3_endpoint.empty()) {
    for (const char* name : {"s3-bucket", "s3-region", "s3-cache-size", "s3-timeout"})
      if (vm.count(name) && !vm[name].defaulted()) return std::string("--") + name + " needs --s3-endpoint";
    return {};
  }
  auto endpoint = parse_s3_endpoint(out.s3_endpoint);
  if (!endpoint) return "--s3-endpoint: " + endpoint.err().message;
  // S3's bucket naming rules; path-style addressing puts the name in the path.
  auto& b = out.s3_bucket;
  if (b.empty()) return "--s3-endpoint needs --s3-bucket";
  if (b.size() < 3 || b.size() > 63 || b.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") != std::string::npos ||
      b.front() == '.' || b.front() == '-' || b.back() == '.' || b.back() == '-')
    return "--s3-bucket must be 3-63 characters of a-z, 0-9, '.' and '-', got '" + b + "'";
  auto& r = out.s3_region;
  if (r.empty() || r.size() > 64 || r.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos)
    return "--s3-region must be a region name like us-east-1, got '" + r + "'";
  const char* access = std::getenv("PARLEY_S3_ACCESS_KEY");
  const char* secret = std::getenv("PARLEY_S3_SECRET_KEY");
  if (!access || !*access || !secret || !*secret)
    return "--s3-endpoint needs credentials: set PARLEY_S3_ACCESS_KEY and PARLEY_S3_SECRET_KEY";
  out.s3_access_key = access;
  out.s3_secret_key = secret;
  if (out.s3_cache_size < 1024 * 1024) return "--s3-cache-size must be at least 1048576 bytes";
  if (out.s3_timeout_s < 1) return "--s3-timeout must be at least 1 second";
  return {};
}

// Webhooks to the platform (protocol §9.8).
void add_webhook_options(po::options_description& desc, config& out, std::string& secret_file, std::string& retry_for) {
  // clang-format off
  desc.add_options()
    ("webhook-url", po::value(&out.webhook_url), "http(s)://HOST[:PORT][/PATH] the platform receives signed webhooks on (none: no webhooks are stored or sent)")
    ("webhook-secret-file", po::value(&secret_file), "file holding the secret that signs webhooks (Parley-Signature); required with --webhook-url")
    ("webhook-ca-file", po::value(&out.webhook_ca_file), "PEM file of the certificate authorities an https webhook URL is verified against (default: the system's)")
    ("webhook-retry-for", po::value(&retry_for)->default_value(retry_for), "how long a webhook is retried after it was made, then failed (units ms, s, m, h, d)")
    ("webhook-concurrency", po::value(&out.webhook_concurrency)->default_value(out.webhook_concurrency), "engagements whose webhooks are in flight at once on an instance");
  // clang-format on
}

// Empty when the webhook options are consistent; otherwise why not.
std::string check_webhook_options(const po::variables_map& vm, config& out, const std::string& secret_file,
                                  const std::string& retry_for) {
  if (out.webhook_url.empty()) {
    for (const char* name : {"webhook-secret-file", "webhook-ca-file", "webhook-retry-for", "webhook-concurrency"})
      if (vm.count(name) && !vm[name].defaulted()) return std::string("--") + name + " needs --webhook-url";
    return {};
  }
  auto url = parse_webhook_url(out.webhook_url);
  if (!url) return "--webhook-url: " + url.err().message;
  if (!out.webhook_ca_file.empty() && !url->endpoint.tls) return "--webhook-ca-file needs an https --webhook-url";
  if (!out.webhook_ca_file.empty() && !std::ifstream(out.webhook_ca_file)) return "cannot read --webhook-ca-file " + out.webhook_ca_file;
  if (secret_file.empty()) return "--webhook-url needs --webhook-secret-file";
  std::string why;
  out.webhook_secret = read_secret_file(secret_file, why);
  if (!why.empty()) return "--webhook-secret-file: " + why;
  if (out.webhook_secret.size() < 16) return "--webhook-secret-file: the webhook secret must be at least 16 characters";
  auto budget = parse_duration(retry_for);
  if (!budget) return "--webhook-retry-for: " + budget.err().message;
  out.webhook_retry_for_ms = *budget;
  if (out.webhook_concurrency < 1 || out.webhook_concurrency > 1000) return "--webhook-concurrency must be between 1 and 1000";
  return {};
}

// Options that steer the command itself: never read from a file nor printed as configuration.
bool command_only(const std::string& name) {
  return name == "help" || name == "version" || name == "config" || name == "print-config";
}

// --config FILE, stored after the flags and the environment so that they win
// (po::store keeps the first value stored for an option). Empty when it was
// read; otherwise why not, naming the file and line.
std::string store_config_file(const po::options_description& desc, const std::string& path, po::variables_map& vm,
                              std::set<std::string>& from_file) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "--config: cannot read " + path;
  std::stringstream text;
  text << in.rdbuf();
  auto entries = parse_config_text(text.str(), path);
  if (!entries) return entries.err().message;
  std::map<std::string, int> first_line;
  for (const auto& e : *entries) {
    auto where = path + ":" + std::to_string(e.line) + ": ";
    const auto* option = desc.find_nothrow(e.option, false);
    if (!option || command_only(e.option)) return where + "unknown option '" + e.option + "'";
    auto [first, fresh] = first_line.try_emplace(e.option, e.line);
    if (!fresh && !option->semantic()->is_composing())
      return where + "'" + e.option + "' is set again (first on line " + std::to_string(first->second) + ")";
    po::parsed_options one(&desc);
    one.options.emplace_back(e.option, std::vector<std::string>{e.value});
    try {
      po::store(one, vm);
    } catch (const std::exception& ex) {
      return where + ex.what();
    }
    from_file.insert(e.option);
  }
  return {};
}

// A URL's password (or its whole user part when it has no ':') as ****.
std::string mask_credentials(std::string value) {
  auto scheme = value.find("://");
  if (scheme == std::string::npos) return value;
  auto start = scheme + 3;
  auto at = value.find('@', start);
  if (at == std::string::npos || value.find('/', start) < at) return value;
  auto colon = value.find(':', start);
  auto from = colon != std::string::npos && colon < at ? colon + 1 : start;
  return value.replace(from, at - from, "****");
}

// An option's values as the file writes them: none when it has no value.
std::vector<std::string> option_texts(const boost::any& v) {
  if (v.empty()) return {};
  if (const auto* x = boost::any_cast<std::string>(&v)) return {*x};
  if (const auto* x = boost::any_cast<std::filesystem::path>(&v)) return {x->string()};
  if (const auto* x = boost::any_cast<std::vector<std::string>>(&v)) return *x;
  if (const auto* x = boost::any_cast<bool>(&v)) return {*x ? "true" : "false"};
  if (const auto* x = boost::any_cast<int>(&v)) return {std::to_string(*x)};
  if (const auto* x = boost::any_cast<unsigned>(&v)) return {std::to_string(*x)};
  if (const auto* x = boost::any_cast<unsigned long>(&v)) return {std::to_string(*x)};
  if (const auto* x = boost::any_cast<double>(&v)) {
    std::ostringstream out;
    out << *x;
    return {out.str()};
  }
  return {"?"};
}

// A value as the configuration file reads it back: in double quotes when it
// has what would otherwise be trimmed or taken for a comment.
std::string file_value(const std::string& value) {
  bool plain = !value.empty() && value.front() != ' ' && value.back() != ' ' && value.front() != '"' &&
               value.find(" #") == std::string::npos && value.find(" ;") == std::string::npos &&
               value.front() != '#' && value.front() != ';';
  return plain ? value : "\"" + value + "\"";
}

// --print-config: every option as a line of a configuration file, with where
// its value came from; credentials in URLs masked. Defaults are printed as
// comments, so that the output read back with --config sets the same.
void print_config(const po::options_description& desc, const po::variables_map& vm,
                  const std::map<std::string, const char*>& source, const config& out) {
  std::cout << "# parley " << version << ": the configuration in effect (flags > environment > file > defaults)\n";
  const char* secret = !out.secret.empty() ? "set" : out.dev ? "made in the data directory (--dev)" : "none";
  std::cout << "# token secret: " << secret << " (PARLEY_SECRET or secret-file; never printed)\n";
  for (const auto& option : desc.options()) {
    const auto& name = option->long_name();
    if (command_only(name)) continue;
    auto found = vm.find(name);
    auto texts = found == vm.end() ? std::vector<std::string>{} : option_texts(found->second.value());
    auto from = source.find(name);
    if (texts.empty() || from == source.end()) {
      std::cout << "# " << name << " =" << (texts.empty() ? "" : " " + file_value(texts.front())) << "\n";
      continue;
    }
    for (const auto& text : texts)
      std::cout << name << " = " << file_value(mask_credentials(text)) << "  # " << from->second << "\n";
  }
}

}  // namespace

parse_outcome parse_config(int argc, char** argv, config& out) {
  std::string listen, secret_file, admin_listen, redirect_listen, token_lifetime = "30d";
  std::size_t max_connections = 0;
  std::string proposal_ttl = "72h";
  std::string redis_wait_timeout = "1s";
  std::string review_window = "3d", review_warning = "24h";
  std::string review_period = "14d";
  std::string digest_after = "15m", digest_every = "1h";
  std::string webhook_secret_file, webhook_retry_for = "3d";
  std::string log_format = "text";
  std::string reply_sla = "24h", status_sla = "72h",
              phase_limits_text = "invited=2d,discovery=2d,agreement=3d,active=28d,completion=5d";
  po::options_description desc(
      // "  or:" lines, as GNU tools write them, so that help2man makes each a SYNOPSIS line of parley(1).
      "Usage: parley [options]\n  or:  parley verify-log FILE [--keys JWKS_FILE] [--head HASH] [--min-records N]\n"
      "  or:  parley webhook-verify --secret-file F [--tolerance SECONDS] < REQUEST\n"
      "  or:  parley backup --data-dir DIR [--files-dir DIR] DEST\n"
      "  or:  parley restore --data-dir DIR [--files-dir DIR] [--force] SRC\n\n"
      "Every option can also be set as PARLEY_<OPTION> in the environment\n"
      "(--max-queue as PARLEY_MAX_QUEUE) or as `option = value` in the file\n"
      "named by --config; flags win over the environment, which wins over the\n"
      "file. The token secret comes from PARLEY_SECRET or --secret-file.\n\nOptions");
  // clang-format off
  desc.add_options()
    ("help,h", "print this help and exit")
    ("version", "print the version and exit")
    ("config", po::value<std::string>(), "FILE of `option = value` lines (# comments); flags and PARLEY_* win over it")
    ("print-config", "print the configuration in effect, as a configuration file with secrets masked, and exit")
    ("listen", po::value(&listen)->default_value("127.0.0.1:8080"), "HOST:PORT to serve WebSocket and HTTP on (port 0: any free port)")
    ("data-dir", po::value(&out.data_dir)->default_value(out.data_dir), "directory of the embedded database")
    ("redis", po::value(&out.redis_url), "redis://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...][/DB]: share events with other instances through Redis instead of the embedded database (credentials percent-encoded; required off loopback); several hosts: the nodes of a Redis Cluster to ask for its map")
    ("redis-cluster", po::bool_switch(&out.redis_cluster), "the --redis URL names a node of a Redis Cluster (implied by several hosts)")
    ("redis-wait-replicas", po::value(&out.redis_wait_replicas)->default_value(out.redis_wait_replicas), "acknowledge an append only once this many Redis replicas have it (WAIT; 0: once the master has it)")
    ("redis-wait-timeout", po::value(&redis_wait_timeout)->default_value(redis_wait_timeout), "how long an append waits for those replicas before it is answered unavailable (at most 1.5 s; units ms, s)")
    ("threads", po::value(&out.threads)->default_value(0), "worker threads (0: one per core)")
    ("instance", po::value(&out.instance), "name of this instance (default: host name and pid)")
    ("web-root", po::value(&out.web_root)->default_value(out.web_root), "directory served at /")
    ("secret-file", po::value(&secret_file), "file holding the token secret (instead of PARLEY_SECRET)")
    ("dev", po::bool_switch(&out.dev), "development mode: without a secret, make one in the data directory and print sign-in links")
    ("expose-version", po::bool_switch(&out.expose_version), "name the version and host in Server headers and hello replies")
    ("log-format", po::value(&log_format)->default_value(log_format), "text (`parley: level=… event=… key=value`) or json (one object a line, for journald and log shippers)")
    ("admin-listen", po::value(&admin_listen), "HOST:PORT of a separate listener for /metrics, /healthz and /readyz (always plain HTTP)")
    ("reuse-port", po::bool_switch(&out.reuse_port), "share the listening ports with another Parley process of this user (SO_REUSEPORT), for a restart without downtime: start the new process, then stop the old one (the embedded engine waits up to 30 s for the old one to let go of the database)")
    ("tls-cert", po::value(&out.tls_cert_file), "PEM certificate chain (leaf first, e.g. fullchain.pem): serve https:// and wss:// on --listen; reloaded on SIGHUP")
    ("tls-key", po::value(&out.tls_key_file), "PEM private key of --tls-cert; reloaded on SIGHUP")
    ("redirect-listen", po::value(&redirect_listen), "HOST:PORT of a plain HTTP listener that answers every request with 308 to https:// (needs --tls-cert)")
    ("allowed-origin", po::value(&out.allowed_origins)->composing(), "an Origin allowed to open WebSockets (repeatable; default: the server's own)")
    ("max-connections", po::value(&max_connections), "open sockets in all (default: 80 % of the descriptor limit; 0: no cap)")
    ("max-unauth-per-ip", po::value(&out.max_unauth_per_ip)->default_value(out.max_unauth_per_ip), "sockets not yet authenticated per client address (0: no cap)")
    ("max-ws-per-user", po::value(&out.max_ws_per_user)->default_value(out.max_ws_per_user), "WebSocket connections per user (0: no cap)")
    ("storage-timeout", po::value(&out.storage_timeout_s)->default_value(out.storage_timeout_s), "seconds an HTTP request may wait on storage (503 after)")
    ("token-audience", po::value(&out.token_audience), "when set, tokens must carry this `aud`")
    ("token-issuer", po::value(&out.token_issuer), "when set, tokens must carry this `iss`")
    ("max-token-lifetime", po::value(&token_lifetime)->default_value(token_lifetime), "longest token lifetime accepted (exp - iat; units s, m, h, d)")
    ("signing-key-file", po::value(&out.signing_key_file), "Ed25519 private key (PEM PKCS#8, `openssl genpkey -algorithm ed25519`) that signs decision records; required unless in development mode")
    ("verify-key-file", po::value(&out.verify_key_files)->composing(), "Ed25519 key (PEM) of a retired signing key, still published for old records; repeatable")
    ("max-frame", po::value(&out.max_frame)->default_value(out.max_frame), "largest WebSocket message in bytes (close 1009 above)")
    ("max-body", po::value(&out.max_body)->default_value(out.max_body), "largest HTTP request body in bytes (413 above)")
    ("files-dir", po::value(&out.files_dir), "directory of uploaded files (default <data-dir>/files); every instance of a cluster names the same shared directory")
    ("max-file-size", po::value(&out.max_file_size)->default_value(out.max_file_size), "largest uploaded file in bytes (413 above)")
    ("max-engagement-files", po::value(&out.max_engagement_files)->default_value(out.max_engagement_files), "bytes of one engagement's distinct files (413 above)")
    ("upload-rate", po::value(&out.upload_rate)->default_value(out.upload_rate), "file uploads per second per user (429 above)")
    ("upload-burst", po::value(&out.upload_burst)->default_value(out.upload_burst), "burst of file uploads per user")
    ("max-channels", po::value(&out.max_channels)->default_value(out.max_channels), "channels one connection may join")
    ("post-rate", po::value(&out.post_rate)->default_value(out.post_rate), "posts per second per user")
    ("post-burst", po::value(&out.post_burst)->default_value(out.post_burst), "burst of posts per user")
    ("ephemeral-rate", po::value(&out.ephemeral_rate)->default_value(out.ephemeral_rate), "read markers per second per user, and as many typing ops")
    ("ephemeral-burst", po::value(&out.ephemeral_burst)->default_value(out.ephemeral_burst), "burst of read markers, and of typing ops, per user")
    ("request-rate", po::value(&out.request_rate)->default_value(out.request_rate), "join, leave, history and decisions requests per second per user")
    ("request-burst", po::value(&out.request_burst)->default_value(out.request_burst), "burst of join, leave, history and decisions requests per user")
    ("http-rate", po::value(&out.http_rate)->default_value(out.http_rate), "HTTP API requests per second per token subject (429 above)")
    ("http-burst", po::value(&out.http_burst)->default_value(out.http_burst), "burst of HTTP API requests per token subject")
    ("storage-queue", po::value(&out.storage_queue)->default_value(out.storage_queue), "storage requests waiting at most (unavailable above)")
    ("max-queue", po::value(&out.max_queue)->default_value(out.max_queue), "outbound bytes queued per connection (close 4001 above)")
    ("max-reply", po::value(&out.max_reply)->default_value(out.max_reply), "largest reply in bytes: join, history and decisions answers hold fewer items above it")
    ("engagement-cache", po::value(&out.engagement_cache)->default_value(out.engagement_cache), "engagements whose state is kept in memory (the least recently used beyond are rebuilt on use)")
    ("snapshot-every", po::value(&out.snapshot_every)->default_value(out.snapshot_every), "events after which an engagement's state is snapshotted again (loading reads the snapshot and the events after it)")
    ("max-open-proposals", po::value(&out.open_limits.open_proposals)->default_value(out.open_limits.open_proposals), "open proposals per engagement (conflict above)")
    ("max-open-flags", po::value(&out.open_limits.open_flags)->default_value(out.open_limits.open_flags), "open flags per engagement (conflict above)")
    ("max-open-proposal-bytes", po::value(&out.open_limits.open_proposal_bytes)->default_value(out.open_limits.open_proposal_bytes), "bytes of text and terms (as JSON) the open proposals of an engagement hold together (conflict above)")
    ("max-open-flag-bytes", po::value(&out.open_limits.open_flag_bytes)->default_value(out.open_limits.open_flag_bytes), "bytes of text (as JSON) the open flags of an engagement hold together (conflict above)")
    ("hello-timeout", po::value(&out.hello_timeout_s)->default_value(out.hello_timeout_s), "seconds a new connection has to say hello (close 4003)")
    ("idle-timeout", po::value(&out.idle_timeout_s)->default_value(out.idle_timeout_s), "seconds without any traffic before a connection is closed; pinged at half")
    ("write-timeout", po::value(&out.write_timeout_s)->default_value(out.write_timeout_s), "seconds a write may take before the socket is closed")
    ("proposal-ttl", po::value(&proposal_ttl)->default_value(proposal_ttl), "time an open proposal waits for its decision before it expires (units ms, s, m, h, d; positive)")
    ("review-window", po::value(&review_window)->default_value(review_window), "time a delivery waits for the client's answer before it is accepted automatically, under the default settings.review_days (3); an engagement naming N days gets N/3 of it")
    ("review-warning", po::value(&review_warning)->default_value(review_warning), "how long before a delivery's review window ends the client is warned (review_due_soon)")
    ("review-period", po::value(&review_period)->default_value(review_period), "time after closing in which each party may review once; the reviews are revealed at its end (units ms, s, m, h, d; positive)")
    ("reply-sla", po::value(&reply_sla)->default_value(reply_sla), "time a party has to answer the other's message (units s, m, h, d)")
    ("status-sla", po::value(&status_sla)->default_value(status_sla), "time without a status update during active")
    ("phase-limits", po::value(&phase_limits_text)->default_value(phase_limits_text), "upper bound of each phase");
  add_s3_options(desc, out);
  desc.add_options()
    ("digest-after", po::value(&digest_after)->default_value(digest_after), "time a party not connected has had unread events before a notify.digest webhook tells the platform (units ms, s, m, h, d)")
    ("digest-every", po::value(&digest_every)->default_value(digest_every), "shortest time between two digests to one party of one engagement");
  add_webhook_options(desc, out, webhook_secret_file, webhook_retry_for);
  // clang-format on

  po::variables_map vm;
  std::map<std::string, const char*> source;  // where each option's value came from, for --print-config
  try {
    auto flags = po::parse_command_line(argc, argv, desc);
    auto environment = po::parse_environment(desc, [&](const std::string& env) { return env_to_option(desc, env); });
    po::store(flags, vm);
    po::store(environment, vm);
    for (const auto& o : environment.options) source[o.string_key] = "environment";
    for (const auto& o : flags.options) source[o.string_key] = "flag";
    if (vm.count("config")) {
      std::set<std::string> from_file;
      auto why = store_config_file(desc, vm["config"].as<std::string>(), vm, from_file);
      if (!why.empty()) {
        std::cerr << "parley: " << why << "\n";
        return parse_outcome::exit_error;
      }
      for (const auto& name : from_file) source.try_emplace(name, "file");
    }
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "parley: " << e.what() << " (see parley --help)\n";
    return parse_outcome::exit_error;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return parse_outcome::exit_ok;
  }
  if (vm.count("version")) {
    std::cout << "parley " << version << "\n";
    return parse_outcome::exit_ok;
  }

  auto fail = [](const std::string& why) {
    std::cerr << "parley: " << why << "\n";
    return parse_outcome::exit_error;
  };
  if (!split_listen(listen, out.listen_host, out.listen_port)) return fail("--listen must be HOST:PORT, got '" + listen + "'");
  if (out.threads > 256) return fail("--threads must be between 0 and 256");
  if (log_format != "text" && log_format != "json") return fail("--log-format must be text or json, got '" + log_format + "'");
  out.log_json = log_format == "json";
  if (out.max_frame < 1024) return fail("--max-frame must be at least 1024 bytes");
  if (out.max_body < 1024) return fail("--max-body must be at least 1024 bytes");
  if (out.max_channels < 1) return fail("--max-channels must be at least 1");
  if (out.max_file_size < 1) return fail("--max-file-size must be at least 1 byte");
  for (auto [rate, burst, name] : {std::tuple{out.post_rate, out.post_burst, "post"},
                                   std::tuple{out.ephemeral_rate, out.ephemeral_burst, "ephemeral"},
                                   std::tuple{out.request_rate, out.request_burst, "request"},
                                   std::tuple{out.http_rate, out.http_burst, "http"},
                                   std::tuple{out.upload_rate, out.upload_burst, "upload"}}) {
    if (!(rate > 0) || !(burst >= 1))
      return fail(std::string("--") + name + "-rate must be positive and --" + name + "-burst at least 1");
  }
  if (out.storage_queue < 1) return fail("--storage-queue must be at least 1");
  if (out.max_queue < 64 * 1024) return fail("--max-queue must be at least 65536 bytes");
  if (out.max_reply < 64 * 1024) return fail("--max-reply must be at least 65536 bytes");
  if (out.engagement_cache < 1) return fail("--engagement-cache must be at least 1");
  if (out.snapshot_every < 1) return fail("--snapshot-every must be at least 1");
  if (out.open_limits.open_proposals < 1 || out.open_limits.open_flags < 1)
    return fail("--max-open-proposals and --max-open-flags must be at least 1");
  if (out.open_limits.open_proposal_bytes < 1024 || out.open_limits.open_flag_bytes < 1024)
    return fail("--max-open-proposal-bytes and --max-open-flag-bytes must be at least 1024");
  if (out.hello_timeout_s < 1 || out.idle_timeout_s < 2 || out.write_timeout_s < 1)
    return fail("--hello-timeout, --write-timeout must be at least 1 and --idle-timeout at least 2 seconds");

  if (!admin_listen.empty() && !split_listen(admin_listen, out.admin_host, out.admin_port))
    return fail("--admin-listen must be HOST:PORT, got '" + admin_listen + "'");
  if (out.tls_cert_file.empty() != out.tls_key_file.empty()) return fail("--tls-cert and --tls-key go together");
  if (!redirect_listen.empty()) {
    if (out.tls_cert_file.empty()) return fail("--redirect-listen needs --tls-cert and --tls-key");
    if (!split_listen(redirect_listen, out.redirect_host, out.redirect_port))
      return fail("--redirect-listen must be HOST:PORT, got '" + redirect_listen + "'");
  }
  if (vm.count("max-connections")) out.max_connections = max_connections;
  if (out.storage_timeout_s < 1) return fail("--storage-timeout must be at least 1 second");
  auto lifetime = parse_duration(token_lifetime);
  if (!lifetime) return fail("--max-token-lifetime: " + lifetime.err().message);
  out.max_token_lifetime_s = std::max<std::int64_t>(1, *lifetime / 1000);

  if (!out.redis_url.empty()) {
    auto nodes = parse_redis_urls(out.redis_url);
    if (!nodes) return fail("--redis: " + nodes.err().message);
    // Anyone who can reach an open Redis can rewrite every log: off loopback it must ask for a password.
    for (const auto& r : *nodes)
      if (r.password.empty() && !is_loopback_host(r.host))
        return fail("--redis: Redis at " + r.host + " is not on loopback and the URL has no credentials "
                    "(redis://user:password@host:port, or redis://:password@host:port)");
    if (out.redis_cluster && nodes->front().db != 0) return fail("--redis: a Redis Cluster has database 0 only");
  }
  if (out.redis_cluster && out.redis_url.empty()) return fail("--redis-cluster needs --redis");
  if (out.redis_wait_replicas < 0 || out.redis_wait_replicas > 16)
    return fail("--redis-wait-replicas must be between 0 and 16");
  if (out.redis_wait_replicas > 0 && out.redis_url.empty()) return fail("--redis-wait-replicas needs --redis");
  auto wait_timeout = parse_duration(redis_wait_timeout);
  if (!wait_timeout) return fail("--redis-wait-timeout: " + wait_timeout.err().message);
  // WAIT blocks the command connection, on which a command fails after 3 s.
  if (*wait_timeout < 1 || *wait_timeout > 1500) return fail("--redis-wait-timeout must be between 1 ms and 1.5 s");
  out.redis_wait_timeout = std::chrono::milliseconds(*wait_timeout);
  auto reply = parse_duration(reply_sla);
  if (!reply) return fail("--reply-sla: " + reply.err().message);
  auto status = parse_duration(status_sla);
  if (!status) return fail("--status-sla: " + status.err().message);
  auto phases = parse_phase_limits(phase_limits_text);
  if (!phases) return fail("--phase-limits: " + phases.err().message);
  out.sla.reply_ms = *reply;
  out.sla.status_ms = *status;
  out.sla.phases = *phases;
  auto ttl = parse_duration(proposal_ttl);
  if (!ttl) return fail("--proposal-ttl: " + ttl.err().message);
  out.sla.proposal_ttl_ms = *ttl;
  auto window = parse_duration(review_window);
  if (!window) return fail("--review-window: " + window.err().message);
  out.open_limits.review_window_ms = *window;
  auto warning = parse_duration(review_warning);
  if (!warning) return fail("--review-warning: " + warning.err().message);
  out.sla.review_warning_ms = *warning;
  auto period = parse_duration(review_period);
  if (!period) return fail("--review-period: " + period.err().message);
  out.sla.phases.review_period_ms = out.open_limits.review_period_ms = *period;
  auto after = parse_duration(digest_after);
  if (!after) return fail("--digest-after: " + after.err().message);
  auto every = parse_duration(digest_every);
  if (!every) return fail("--digest-every: " + every.err().message);
  out.digests = {*after, *every};

  if (auto why = check_s3_options(vm, out); !why.empty()) return fail(why);
  if (auto why = check_webhook_options(vm, out, webhook_secret_file, webhook_retry_for); !why.empty()) return fail(why);

  if (out.threads == 0) out.threads = std::max(1u, std::thread::hardware_concurrency());
  if (out.expose_version) out.server_header = std::string("parley/") + version;
  out.instance_named = !out.instance.empty();
  if (out.instance.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    out.instance = std::string(host) + "-" + std::to_string(getpid());
  }
  if (!secret_file.empty()) {
    std::string why;
    out.secret = read_secret_file(secret_file, why);
    if (!why.empty()) return fail(why);
  } else if (const char* s = std::getenv("PARLEY_SECRET"); s && *s) {
    out.secret = s;
  }
  if (!out.secret.empty() && out.secret.size() < 16) return fail("the token secret must be at least 16 characters");
  if (vm.count("print-config")) {
    print_config(desc, vm, source, out);
    return parse_outcome::exit_ok;
  }
  if (out.secret.empty() && !out.dev)
    return fail("no token secret: set PARLEY_SECRET or --secret-file (or --dev for a development secret)");
  return parse_outcome::run;
}

}  // namespace parley
