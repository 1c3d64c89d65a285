#pragma once
// Server configuration: command-line flags with PARLEY_* environment fallbacks.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "protocol/engagement.hpp"
#include "protocol/digests.hpp"
#include "protocol/service_levels.hpp"

namespace parley {

struct config {
  std::string listen_host = "127.0.0.1";
  unsigned short listen_port = 8080;
  std::filesystem::path data_dir = "data";
  std::string redis_url;  // empty: the embedded engine
  bool redis_cluster = false;  // the URL names a Redis Cluster node (implied by several hosts)
  int redis_wait_replicas = 0;  // an append is acknowledged once this many replicas have it
  std::chrono::milliseconds redis_wait_timeout{1000};
  unsigned threads = 0;  // 0: one per core
  std::string instance;  // default: host name and pid
  bool instance_named = false;  // --instance given: it may be shown to clients
  std::filesystem::path web_root = "web-client";
  std::string secret;    // from PARLEY_SECRET or --secret-file; with --dev and none, a development secret is made
  bool dev = false;      // development mode: demo secret, keys and sign-in links
  bool log_json = false;  // --log-format json: one JSON object a log line
  bool expose_version = false;  // version and host name in Server headers and hello replies
  std::string server_header = "parley";  // with --expose-version, "parley/<version>"
  std::string admin_host;       // a separate listener for /metrics; empty: none
  unsigned short admin_port = 0;
  bool reuse_port = false;  // SO_REUSEPORT: a new process listens while the old one drains
  // TLS on the main listener (both or neither); the admin listener stays plain.
  std::string tls_cert_file;  // PEM chain: the leaf first, then intermediates
  std::string tls_key_file;
  std::string redirect_host;  // a plain listener answering 308 to https://; empty: none
  unsigned short redirect_port = 0;
  std::vector<std::string> allowed_origins;  // empty: only the server's own origin

  // Connections (protocol §9.10). max_connections: nullopt until start, when
  // it becomes 80 % of the descriptor limit; 0 means no cap.
  std::optional<std::size_t> max_connections;
  std::size_t max_unauth_per_ip = 64;
  std::size_t max_ws_per_user = 20;
  int storage_timeout_s = 10;  // an HTTP request waiting longer on storage is answered 503

  // Tokens (protocol §2): optional audience and issuer, and the longest lifetime accepted.
  std::string token_audience;
  std::string token_issuer;
  std::int64_t max_token_lifetime_s = 30 * 24 * 3600;

  // Keys of the signed decision log (protocol §9.11). Without a signing key a
  // development server makes its own; any other refuses to start.
  std::string signing_key_file;
  std::vector<std::string> verify_key_files;  // retired keys, still in GET /api/v1/keys
  std::string jwks;                           // that key set as JSON, filled at start-up

  // Limits of protocol §8.
  std::size_t max_frame = 64 * 1024;
  std::size_t max_body = 64 * 1024;
  std::size_t max_channels = 100;
  // Per user on this instance (protocol §9.10), shared by all of the user's connections.
  double post_rate = 20;
  double post_burst = 50;
  double ephemeral_rate = 5;  // read and typing (and availability), each its own bucket
  double ephemeral_burst = 10;
  double request_rate = 20;  // join, leave, history, decisions
  double request_burst = 200;  // a reconnect re-joins up to 100 channels and pages their history
  double http_rate = 20;  // HTTP API requests per token subject
  double http_burst = 40;
  // Engine queues: requests waiting for storage beyond this are answered `unavailable`.
  std::size_t storage_queue = 10000;
  std::size_t max_queue = 4 * 1024 * 1024;
  // One reply's bytes at most, whatever room the queue has (protocol §9.10).
  std::size_t max_reply = 1024 * 1024;
  // Engagements whose state is kept in memory; the least recently used beyond it are dropped and rebuilt on use.
  std::size_t engagement_cache = 10000;
  // Events an engagement may be ahead of its stored snapshot before a new one is saved.
  std::int64_t snapshot_every = 100;
  // Open proposals and open flags per engagement (protocol §9.10), and the
  // bytes of text and terms they may hold; one more is `conflict`.
  engagement_limits open_limits;
  int hello_timeout_s = 10;
  int idle_timeout_s = 60;   // a ping goes out after half of it without traffic
  int write_timeout_s = 20;  // a write that does not complete in time closes the socket

  // Files (protocol §9.6): where they are stored (empty: <data-dir>/files),
  // the largest upload, the bytes of an engagement's distinct files, and
  // uploads per second per user with their burst.
  std::filesystem::path files_dir;
  std::uint64_t max_file_size = 100ull * 1024 * 1024;
  std::uint64_t max_engagement_files = 2ull * 1024 * 1024 * 1024;
  double upload_rate = 0.5;
  double upload_burst = 10;

  // Service levels of protocol §4.
  sla_windows sla;
  // Offline digests (protocol §9.8 notify.digest), sent only with webhooks on.
  digest_settings digests;

  // Uploaded files in an S3-compatible object store instead of a directory
  // (s3_blob_store): endpoint http(s)://host:port, empty for none. The
  // credentials come from PARLEY_S3_ACCESS_KEY and PARLEY_S3_SECRET_KEY only.
  std::string s3_endpoint;
  std::string s3_bucket;
  std::string s3_region = "us-east-1";
  std::string s3_access_key;
  std::string s3_secret_key;
  std::uint64_t s3_cache_size = 1024ull * 1024 * 1024;  // bytes of downloaded files kept on local disk
  int s3_timeout_s = 30;  // longest wait for one step of a request to the store

  // Webhooks to the platform (protocol §9.8): none without a URL. The secret
  // signs every body; retries stop `webhook_retry_for_ms` after an entry was
  // made; at most `webhook_concurrency` engagements' hooks are in flight.
  std::string webhook_url;
  std::string webhook_secret;   // from --webhook-secret-file only
  std::string webhook_ca_file;  // empty: the system's certificate authorities
  std::int64_t webhook_retry_for_ms = 3ll * 24 * 3600 * 1000;
  int webhook_concurrency = 8;
};

enum class parse_outcome { run, exit_ok, exit_error };

// Parses argv and the environment. On `exit_error` the one-line reason has been
// printed to stderr; on `exit_ok` (--help, --version) the text to stdout.
parse_outcome parse_config(int argc, char** argv, config& out);

}  // namespace parley
