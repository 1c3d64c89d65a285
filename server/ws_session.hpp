#pragma once
// One WebSocket connection: reads client frames, answers requests, and writes
// replies and pushed events through a queue bounded in bytes (protocol §3, §8).
// Every member function runs on the session's worker thread.
//
// The session speaks RFC 6455 on the socket itself (protocol/websocket.hpp).
// It reads only once the socket is readable, into its worker's buffer, so an
// idle connection holds no read buffer; it writes with non-blocking sends at
// the end of its worker's round (worker::flush_later), so one send carries
// every event of the round and a send that completes costs no handler. Only
// a peer that stops reading makes it wait for the socket.
#include "protocol/frame.hpp"
#include "protocol/token.hpp"
#include "protocol/token_bucket.hpp"
#include "protocol/websocket.hpp"
#include "server/hub.hpp"
#include "server/joined_channel.hpp"
#include "server/member.hpp"
#include "server/outbound_queue.hpp"
#include "server/tls_session.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

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
  // `early` is what the client sent after its upgrade request, read with it.
  // `tls`: the connection's TLS state, null on a plain connection.
  ws_session(hub& h, worker& w, boost::asio::ip::tcp::socket&& socket, std::unique_ptr<tls_session> tls, std::string early,
             connection_limits::ticket connection, connection_limits::ticket unauthenticated);
  ~ws_session();

  // Answers the upgrade of `req` (checked by http_session) and starts reading.
  void run(const boost::beast::http::request<boost::beast::http::string_body>& req);

  // member: what the fan-out and membership call, on this session's worker.
  void deliver(const std::string& ch, std::int64_t seq, const std::shared_ptr<const std::string>& json) override;
  void push(std::shared_ptr<const std::string> frame) override;
  bool live_on(const std::string& ch) const override;
  const claims& reader() const override { return *claims_; }
  // Server going away: flush what is queued, then close with 1001.
  void going_away() override;
  // A revocation of some user's tokens: closes this session (4003) when it holds one of them.
  void revoked(const revocation& r) override;
  // Closes a connection past its hello, write, idle, close or token deadline,
  // and pings one that has been quiet for half the idle timeout.
  void sweep(std::chrono::steady_clock::time_point now, std::int64_t now_ms) override;
  // Writes what is queued, as far as the socket takes it now.
  void flush() override;

 private:
  // Close codes of the protocol (§3) beside RFC 6455's.
  static constexpr std::uint16_t close_slow_consumer = 4001;
  static constexpr std::uint16_t close_auth = 4003;
  static constexpr std::uint16_t close_policy = 4008;

  // A join on its way through its asynchronous steps.
  struct pending_join {
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::string ch;
    client_frame f;
    std::uint64_t generation = 0;
    boost::json::value state;
    std::vector<user> presence;
    std::vector<read_marker> reads;
  };

  // Reads what the socket has (a bounded amount per turn) and handles each
  // whole frame; waits for the socket only once it had nothing more.
  void read_available();
  // Handles whole frames of data[0, size); returns the bytes it took.
  std::size_t handle_bytes(char* data, std::size_t size);
  // Handles the whole frames of unread_ and keeps the rest there.
  void handle_unread();
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
  // The state, pushed after a join's events when it is newer than the reply's.
  void push_state_after_join(const std::string& ch, std::int64_t reply_revision);
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
  // Asks for a flush at the end of the worker's round; a reply's goes first.
  void flush_soon(bool reply = false);
  // Sets up the next write (a control frame, a batch of the queue, the close
  // frame); false when there is nothing to write.
  bool next_write();
  // The write set up by next_write() is on the wire.
  void write_done();
  // Queues a pong or ping; a peer's pings beyond a few pending are not answered.
  void send_control(websocket::opcode op, std::string_view payload);
  // Closes with `code`: the close frame follows what is queued, which is
  // dropped only when it overflowed (4001).
  void close(std::uint16_t code, std::string_view reason);
  // The peer closed, or broke the protocol (its frame and our answer).
  void on_peer_close(const websocket::frame_event& e);
  // The non-blocking reads and sends of the socket: straight on a plain
  // connection, through tls_ otherwise (a send returns only once its
  // ciphertext is all in the kernel, so the queue's bound holds over TLS).
  std::size_t read_some(boost::asio::mutable_buffer buf, boost::system::error_code& ec);
  template <class Buffers>
  std::size_t write_some(const Buffers& buffers, boost::system::error_code& ec);
  std::size_t tls_read_some(boost::asio::mutable_buffer buf, boost::system::error_code& ec);
  // Sends tls_'s pending ciphertext; false with `ec` when it could not all go.
  bool tls_send_output(boost::system::error_code& ec);
  // Ends our side of the stream (TLS: close_notify first).
  void shutdown_send();
  // The socket is done: closed now, whatever is unwritten.
  void abort();
  void on_closed();
  // Runs `fn(self)` on this session's worker, from any thread.
  template <class F>
  void run_on_worker(F&& fn);

  hub& hub_;
  worker& worker_;
  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<tls_session> tls_;
  std::size_t tls_plain_pending_ = 0;  // plaintext encrypted into tls_ whose ciphertext is not all sent
  websocket::frame_reader reader_;
  // The bytes of a frame not yet whole, kept between reads (none while idle),
  // and the bytes left unread while reading is paused.
  std::string unread_;
  // Checked by sweep(); max() when none is running. A peer that never reads
  // makes a write wait for ever: past its deadline the socket is closed,
  // which is what bounds the memory it holds.
  std::chrono::steady_clock::time_point hello_deadline_ = std::chrono::steady_clock::time_point::max();
  std::chrono::steady_clock::time_point write_deadline_ = std::chrono::steady_clock::time_point::max();
  std::chrono::steady_clock::time_point close_deadline_ = std::chrono::steady_clock::time_point::max();
  std::chrono::steady_clock::time_point last_heard_;  // when the peer last sent anything
  bool pinged_ = false;  // a keep-alive ping went out since then

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
  bool reading_ = false;  // read_available() runs or is posted

  // The write under way: `wire_head_` (a frame header, or a whole control
  // frame) then `wire_body_` (a batch of the queue, which keeps it valid).
  std::string wire_head_;
  boost::asio::const_buffer wire_body_;
  std::size_t wire_sent_ = 0;
  bool wire_busy_ = false;
  bool wire_is_batch_ = false;
  bool wire_is_close_ = false;
  std::string control_;  // the upgrade's answer, pongs and pings: written before the next batch
  std::string close_frame_;  // ours, written once what goes before it is
  bool flush_pending_ = false;  // flush_later() is pending
  bool waiting_writable_ = false;

  bool closing_ = false;     // no more requests or pushes
  bool close_sent_ = false;  // our close frame is on the wire
  bool peer_closed_ = false;  // the peer's close frame (or a protocol failure) was read
  bool closed_ = false;
};

}  // namespace parley
