#pragma once
// hiredis' async context on Asio (DESIGN §2): one event loop thread, and a
// connection that reconnects by itself. hiredis 0.14 has no Asio adapter and
// no timeouts; this file gives it both. Asio stays inside redis_connection.cpp
// so that it is compiled once.
#include "protocol/result.hpp"
#include "storage/backoff.hpp"
#include "storage/redis_endpoint.hpp"
#include "storage/redis_reply.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

// One io_context run by one thread, started by the constructor. Everything of
// the Redis engine happens on it, so its state needs no locks.
class event_loop {
 public:
  event_loop();
  ~event_loop();
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;

  // Runs `fn` on the loop thread. After join() nothing runs any more.
  void post(std::function<void()> fn);
  bool in_loop_thread() const;
  // Lets the thread finish once no work (timers, waits, posted handlers) is
  // left, and waits for it. Idempotent; not from the loop thread.
  void join();

  struct impl;
  impl& get() { return *impl_; }

 private:
  std::unique_ptr<impl> impl_;
};

// A one-shot timer of the loop. Used on the loop thread only.
class loop_timer {
 public:
  explicit loop_timer(event_loop& loop);
  ~loop_timer();
  loop_timer(const loop_timer&) = delete;
  loop_timer& operator=(const loop_timer&) = delete;

  // Runs `fn` on the loop after `delay`, replacing whatever was scheduled.
  void start(std::chrono::milliseconds delay, std::function<void()> fn);
  // Nothing scheduled runs any more.
  void cancel();
  bool armed() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

// One connection to Redis through a hiredis async context whose socket is
// watched by Asio. Used on the loop thread only.
//
// Every command gets a reply or an error: `unavailable` when the connection
// is down, is lost, or the command got no reply within the timeout. Replies
// come in order on a connection, so a command that times out takes the
// connection down with everything behind it, and it is made again.
class redis_connection {
 public:
  // Redis error replies arrive as values of kind::error, not as errors.
  using reply_handler = std::function<void(result<redis_value>)>;
  // SUBSCRIBE confirmations and published messages, for a subscribe connection.
  using push_handler = std::function<void(const redis_value&)>;
  // Called with true when the connection is up, with false when it went down.
  using state_handler = std::function<void(bool)>;

  redis_connection(event_loop& loop, redis_endpoint endpoint, std::chrono::milliseconds timeout,
                   backoff_policy policy, std::string name);
  ~redis_connection();
  redis_connection(const redis_connection&) = delete;
  redis_connection& operator=(const redis_connection&) = delete;

  void on_state(state_handler handler);
  void on_push(push_handler handler);

  // Connects, and reconnects with backoff whenever the connection is lost,
  // until close().
  void start();
  // Fails every pending command, frees the context and stays down.
  void close();
  // Fails every pending command with `reason`, frees the context and
  // reconnects after the backoff delay (a connection found dead).
  void drop(std::string reason);

  // Sends a command. While a connection is being made the command waits in
  // hiredis' buffer; while there is none it fails at once.
  void command(const std::vector<std::string>& args, reply_handler handler);
  // SUBSCRIBE / UNSUBSCRIBE and friends: their replies, and the messages,
  // go to the push handler. False when there is no connection.
  bool pubsub(const std::vector<std::string>& args);

  bool connected() const;
  std::size_t in_flight() const;
  const std::string& name() const;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

// The SHA-1 of a script, as EVALSHA wants it (lowercase hex).
std::string script_sha1(std::string_view source);

}  // namespace parley
