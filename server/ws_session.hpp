#pragma once
// One WebSocket connection: reads client frames, answers requests, and writes
// replies and pushed events through a queue bounded in bytes (protocol §3, §8).
// Every member function runs on the session's worker thread.
#include "protocol/frame.hpp"
#include "protocol/token.hpp"
#include "protocol/token_bucket.hpp"
#include "server/hub.hpp"
#include "server/joined_channel.hpp"
#include "server/member.hpp"
#include "server/outbound_queue.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace parley {

class ws_session : public member, public std::enable_shared_from_this<ws_session> {
 public:
  // `unauthenticated` counts against the client address until hello succeeds;
  // `connection` counts against the process's cap for the session's life.
  ws_session(hub& h, worker& w, boost::beast::tcp_stream&& stream, connection_limits::ticket connection,
             connection_limits::ticket unauthenticated);
  ~ws_session();

  // Completes the upgrade of `req` and starts reading.
  void run(boost::beast::http::request<boost::beast::http::string_body> req);

  // member: what the fan-out and membership call, on this session's worker.
  void deliver(const std::string& ch, std::int64_t seq, const std::shared_ptr<const std::string>& json) override;
  void push(std::shared_ptr<const std::string> frame) override;
  bool live_on(const std::string& ch) const override;
  const claims& reader() const override { return *claims_; }
  // Server going away: flush what is queued, then close with 1001.
  void going_away() override;
  // A revocation of some user's tokens: closes this session (4003) when it holds one of them.
  void revoked(const revocation& r) override;
  // Closes a connection past its hello, write or token deadline.
  void sweep(std::chrono::steady_clock::time_point now, std::int64_t now_ms) override;

 private:
  // A join on its way through its asynchronous steps.
  struct pending_join {
    std::string ch;
    client_frame f;
    std::uint64_t generation = 0;
    boost::json::value state;
    std::vector<user> presence;
    std::vector<read_marker> reads;
  };

  void on_accept(boost::beast::error_code ec);
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void handle_frame(std::string_view text);
  // Takes a token of the user's bucket for the op; when there is none the
  // request is answered `rate_limited`, and going on regardless closes 4008.
  bool admit(op_class c, const client_frame& f);
  void handle_hello(const client_frame& f);
  // A renewed token: channels it no longer allows are left, and the client is told.
  void leave_channels_not_allowed();
  bool token_expired(std::int64_t now_ms) const;
  void handle_join(client_frame f);
  // Checked before and after the asynchronous state lookup of a join.
  result<void> channel_limit_allows(const std::string& ch) const;
  // The join's steps after the checks of handle_join.
  boost::asio::awaitable<void> join(std::shared_ptr<ws_session> self, std::shared_ptr<pending_join> j);
  // Answers the join from its read; true when the window must be read again
  // (the client's position belongs to another log).
  bool on_join_read(std::shared_ptr<pending_join> j, result<channel_window> read);
  void handle_leave(const client_frame& f);
  void handle_post(client_frame f);
  void handle_history(client_frame f);
  void handle_typing(const client_frame& f);
  void handle_read_marker(const client_frame& f);
  void handle_availability(const client_frame& f);
  boost::json::array presence_json(const std::vector<user>& present) const;
  boost::json::array absent_json(const std::vector<user>& present, const std::vector<read_marker>& reads) const;
  void handle_decisions(const client_frame& f);
  void leave_channel(const std::string& ch);
  void leave_all_channels();

  // Replies: never a reason for 4001 (a reply is bounded by its request); a
  // client with too much unread or unanswered stops being read instead.
  void send(std::string frame);
  // Replies to heavy requests (join, history, decisions), which free their slot.
  void send_heavy(std::string frame);
  void send_heavy_error(std::optional<std::int64_t> id, const error& e);
  // The bytes a reply may take now: it never takes the queue past its limit
  // (protocol §9.10), nor past the largest reply.
  std::size_t reply_budget() const;
  bool reading_should_pause() const;
  void resume_reading_if_paused();
  void send_error(std::optional<std::int64_t> id, const error& e);
  // Pushes (events, presence, typing) past the queue limit close the connection with 4001.
  void enqueue(std::shared_ptr<const std::string> frame, bool push);
  void do_write();
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void close(std::uint16_t code, std::string reason);
  void start_close();
  // A peer that never reads never completes a write: past this deadline the
  // socket is closed, which is what bounds the memory it holds.
  void arm_write_deadline();
  void on_closed();
  // Runs `fn(self)` on this session's worker, from any thread.
  template <class F>
  void run_on_worker(F&& fn);

  hub& hub_;
  worker& worker_;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer buffer_;
  // Checked by sweep(); max() when none is running.
  std::chrono::steady_clock::time_point hello_deadline_ = std::chrono::steady_clock::time_point::max();
  std::chrono::steady_clock::time_point write_deadline_ = std::chrono::steady_clock::time_point::max();

  connection_limits::ticket connection_ticket_;
  connection_limits::ticket unauth_ticket_;
  connection_limits::ticket user_ticket_;
  std::string remote_address_;  // for log lines
  std::optional<claims> claims_;
  std::unordered_map<std::string, joined_channel> channels_;
  std::uint64_t join_generation_ = 0;
  token_bucket garbage_bucket_;
  // Requests of each op class refused in a row on this connection.
  std::array<int, op_class_count> rate_limited_in_a_row_{};
  std::unordered_map<std::string, std::int64_t> last_typing_;  // ms of the last typing push per channel

  outbound_queue outbound_;
  int unanswered_ = 0;  // requests read whose reply is not yet queued
  int heavy_in_flight_ = 0;  // joins, history and decisions reads not yet answered
  bool read_paused_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool close_after_write_ = false;
  bool closed_ = false;
  boost::beast::websocket::close_reason close_reason_;
};

}  // namespace parley
