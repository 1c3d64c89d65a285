#pragma once
// Server configuration: command-line flags with PARLEY_* environment fallbacks.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "protocol/service_levels.hpp"

namespace parley {

struct config {
  std::string listen_host = "127.0.0.1";
  unsigned short listen_port = 8080;
  std::filesystem::path data_dir = "data";
  std::string redis_url;  // empty: the embedded engine
  unsigned threads = 0;  // 0: one per core
  std::string instance;  // default: host name and pid
  std::filesystem::path web_root = "web-client";
  std::string secret;    // from PARLEY_SECRET or --secret-file; empty: a development secret is made
  bool dev_secret = false;

  // Limits of protocol §8.
  std::size_t max_frame = 64 * 1024;
  std::size_t max_body = 64 * 1024;
  std::size_t max_channels = 100;
  double post_rate = 20;
  double post_burst = 50;
  std::size_t max_queue = 4 * 1024 * 1024;
  // One reply's bytes at most, whatever room the queue has (protocol §9.10).
  std::size_t max_reply = 1024 * 1024;
  // Engagements whose state is kept in memory; the least recently used beyond it are dropped and rebuilt on use.
  std::size_t engagement_cache = 10000;
  // Open proposals and open flags per engagement (protocol §9.10); one more is `conflict`.
  std::size_t max_open_proposals = 50;
  std::size_t max_open_flags = 50;
  int hello_timeout_s = 10;
  int idle_timeout_s = 60;   // a ping goes out after half of it without traffic
  int write_timeout_s = 20;  // a write that does not complete in time closes the socket

  // Service levels of protocol §4.
  sla_windows sla;
};

enum class parse_outcome { run, exit_ok, exit_error };

// Parses argv and the environment. On `exit_error` the one-line reason has been
// printed to stderr; on `exit_ok` (--help, --version) the text to stdout.
parse_outcome parse_config(int argc, char** argv, config& out);

}  // namespace parley
