#pragma once
// The client side of RFC 6455 on one non-blocking socket, for the load tool:
// the HTTP upgrade (Sec-WebSocket-Key checked against Sec-WebSocket-Accept),
// masked client frames, reassembly of fragmented messages, ping → pong and the
// close handshake. No TLS, no extensions: a client much cheaper than the server
// it measures. The socket is driven by the caller's epoll loop.
#include <cstdint>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <vector>

namespace parley::bench {

class ws_client;

// What the connection reports. `on_line` gets each JSON text of a server
// message: a message may hold several separated by '\n' (protocol §3).
struct ws_events {
  virtual ~ws_events() = default;
  virtual void on_open(ws_client& c) = 0;
  virtual void on_line(ws_client& c, std::string_view line, std::int64_t received_ns) = 0;
  // The connection is over: `close_code` is the server's close code (0: none,
  // the socket failed or was cut), `why` says what happened.
  virtual void on_closed(ws_client& c, int close_code, std::string_view why) = 0;
};

class ws_client {
 public:
  enum class state { connecting, upgrading, open, closed };

  // Starts a non-blocking connect to `server` (from `source` when it is not
  // null) and registers the socket with `epoll_fd`. `tag` is the caller's.
  ws_client(int epoll_fd, const sockaddr* server, socklen_t server_len, const sockaddr* source,
            socklen_t source_len, std::string host_header, std::size_t tag);
  ~ws_client();
  ws_client(const ws_client&) = delete;
  ws_client& operator=(const ws_client&) = delete;

  std::size_t tag() const { return tag_; }
  state current() const { return state_; }
  int fd() const { return fd_; }
  // Server messages that came in several frames (reassembled here).
  std::uint64_t fragmented_messages() const { return fragmented_messages_; }

  // Queues one masked text frame and writes what the socket takes now.
  void send_text(std::string_view text, ws_events& events);
  // Called by the loop for the socket's epoll events.
  void on_ready(std::uint32_t epoll_events, ws_events& events);
  // Closes the socket at once (no close handshake): the end of a run.
  void shut();

 private:
  void fail(ws_events& events, int close_code, std::string_view why);
  void on_connected(ws_events& events);
  void read_some(ws_events& events);
  // Each returns how many bytes it consumed.
  std::size_t parse_upgrade(const char* bytes, std::size_t size, ws_events& events);
  std::size_t parse_frames(const char* bytes, std::size_t size, ws_events& events, std::int64_t received_ns);
  void deliver_message(ws_events& events, std::string_view message, std::int64_t received_ns);
  void queue_frame(std::uint8_t opcode, std::string_view payload);
  void flush(ws_events& events);
  void watch_writable(bool on);

  int epoll_fd_;
  int fd_ = -1;
  std::size_t tag_;
  state state_ = state::connecting;
  std::string host_header_;
  std::string key_;  // Sec-WebSocket-Key sent
  std::vector<char> in_;  // the start of a frame not yet complete
  std::string out_;
  std::size_t out_begin_ = 0;
  std::string fragments_;  // a fragmented message so far
  bool in_fragmented_ = false;
  std::uint64_t fragmented_messages_ = 0;
  bool watching_writable_ = false;
  std::uint64_t mask_seed_;
};

// CLOCK_MONOTONIC in nanoseconds: the clock of scheduled send times and receipts.
std::int64_t monotonic_ns();

}  // namespace parley::bench
