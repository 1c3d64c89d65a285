#pragma once
// The load tool's command line: what to open, how fast to post, for how long.
#include <cstddef>
#include <netinet/in.h>
#include <string>
#include <vector>

namespace parley::bench {

struct load_options {
  std::string mode = "fanout";  // fanout | posts | idle
  std::string label;            // the scenario's name in the RESULT line
  std::vector<sockaddr_in> targets;  // servers; subscribers spread over them in turn
  std::size_t publish_target = 0;    // the server publishers post to
  std::vector<int> server_pids;      // processes whose CPU and RSS are read
  std::string secret;                // PARLEY_SECRET: signs the tokens
  std::string eng_prefix;            // engagement ids are <prefix><n>
  std::size_t subscribers = 1000;
  std::size_t channels = 1;
  std::size_t publishers = 1;
  double rate = 10;          // posts/s per publisher, open loop (0 with --window: closed loop)
  std::size_t window = 0;    // closed loop: posts outstanding per publisher
  double duration = 10;      // seconds of posting
  double drain = 5;          // seconds after the last post to wait for deliveries and replies
  double settle = 1;         // seconds between set-up and measurement
  std::size_t size = 200;    // bytes of each post's text
  std::size_t sources = 1;   // source addresses 127.0.0.1 .. 127.0.0.<sources>
  std::size_t max_setup = 256;            // connections in set-up at once
  std::size_t poll_quantum_us = 250;      // busy: read sockets at most this often (0: at once)
  std::vector<std::size_t> checkpoints;   // idle: connection counts at which RSS is read
  bool expect_all = false;   // exit 1 unless every post reached every subscriber, in order
};

// Parses argv; prints the usage and exits 2 on a bad option.
load_options parse_load_options(int argc, char** argv);

}  // namespace parley::bench
