#pragma once
// One load run against one or more servers: opens subscriber and publisher
// connections (hello, then join for subscribers), posts on an open-loop
// schedule (or a closed loop with a window), and counts what comes back:
// deliveries with their latency from the scheduled send time, replies with
// theirs, errors and closes. Single-threaded on one epoll set.
#include "tests/bench/load_options.hpp"
#include "tests/bench/stats.hpp"
#include "tests/bench/ws_client.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace parley::bench {

// What a measurement window saw.
struct load_figures {
  std::int64_t start_ns = 0, posting_end_ns = 0, end_ns = 0;
  std::uint64_t posts_sent = 0, posts_acked = 0, posts_refused = 0;
  std::uint64_t deliveries = 0, expected_deliveries = 0;
  std::uint64_t out_of_order = 0;  // a subscriber saw a seq not above its previous one
  std::int64_t last_ack_ns = 0, last_delivery_ns = 0;
  latency_histogram delivery_latency, ack_latency;
};

class load_run final : public ws_events {
 public:
  explicit load_run(const load_options& options);
  ~load_run() override;

  // Opens subscriber connections up to `count` in all, each hello + join, and
  // waits until they are all joined. A failure here breaks the run (exit 2).
  void open_subscribers(std::size_t count);
  // Opens the publishers (hello only).
  void open_publishers();
  // Runs the loop for `seconds` without posting (pushes of the set-up drain).
  void idle_for(double seconds);
  // Posts for options.duration, then waits up to options.drain for the rest.
  load_figures measure();

  // Errors seen (error replies by code, closes by code and reason).
  const std::map<std::string, std::uint64_t>& errors() const { return errors_; }
  std::size_t open_connections() const;
  std::uint64_t fragmented_messages() const;

  void on_open(ws_client& c) override;
  void on_line(ws_client& c, std::string_view line, std::int64_t received_ns) override;
  void on_closed(ws_client& c, int close_code, std::string_view why) override;

 private:
  enum class step { connecting, hello, join, ready, closed };
  struct peer {
    bool publisher = false;
    std::size_t index = 0;    // among subscribers or publishers
    std::size_t channel = 0;  // a subscriber's channel
    step at = step::connecting;
    std::int64_t last_seq = 0;
  };
  struct publisher_state {
    std::size_t conn = 0;
    std::uint64_t sent = 0;
    std::uint64_t outstanding = 0;
    std::int64_t next_due = 0;
    std::vector<std::int64_t> scheduled;  // by post number
    std::vector<std::uint32_t> channel;   // by post number
  };

  void connect_peer(peer p);
  void wait_until_ready(const char* what);
  void loop_once(std::int64_t deadline_ns);
  void post_due(std::int64_t now);
  void send_post(publisher_state& pub, std::int64_t scheduled_ns);
  void on_reply(peer& p, std::string_view line, std::int64_t received_ns);
  void on_event(peer& p, std::string_view line, std::int64_t received_ns);
  void setup_failed(const std::string& why);
  std::string channel_name(std::size_t c) const;
  std::string token_for(const peer& p) const;

  load_options options_;
  int epoll_fd_;
  std::vector<peer> peers_;
  std::vector<std::unique_ptr<ws_client>> clients_;
  std::vector<publisher_state> publishers_;
  std::vector<std::uint64_t> subscribers_per_channel_;
  std::size_t in_setup_ = 0;
  std::size_t subscribers_opened_ = 0;
  bool measuring_ = false;
  bool posting_ = false;
  std::int64_t posting_start_ns_ = 0, posting_end_ns_ = 0;
  load_figures figures_;
  std::map<std::string, std::uint64_t> errors_;
  std::string padding_;
};

}  // namespace parley::bench
