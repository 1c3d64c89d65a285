#include "server/ws_session.hpp"

#include "protocol/access.hpp"
#include "protocol/channel.hpp"
#include "protocol/event.hpp"
#include "protocol/reply.hpp"
#include "protocol/version.hpp"
#include "storage/clock.hpp"
#include "storage/log.hpp"

#include "server/completion.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/json/array.hpp>

namespace parley {
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

namespace {

constexpr std::uint16_t close_slow_consumer = 4001;
constexpr std::uint16_t close_auth = 4003;
constexpr std::uint16_t close_policy = 4008;
// Garbage frames (not JSON objects) tolerated: a burst of 10, then one per second.
constexpr double garbage_burst = 10;
constexpr double garbage_rate = 1;
// Requests a connection may have waiting for storage before it is read no further.
constexpr int max_unanswered = 32;
// Heavy requests (join, history, decisions) each hold a window of events or
// records until answered: beyond two at once the connection is read no further
// until one is answered, so a pipelining client cannot multiply that memory.
constexpr int max_heavy_in_flight = 2;
// A typing push per user and channel at most this often.
constexpr std::int64_t typing_interval_ms = 1000;

bool wants_subprotocol(const http::request<http::string_body>& req) {
  auto offered = req[http::field::sec_websocket_protocol];
  std::size_t pos = 0;
  while (pos <= offered.size()) {
    auto comma = offered.find(',', pos);
    auto item = offered.substr(pos, comma == beast::string_view::npos ? beast::string_view::npos : comma - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == "parley.v1") return true;
    if (comma == beast::string_view::npos) break;
    pos = comma + 1;
  }
  return false;
}

std::string remote_address_of(const net::ip::tcp::socket& socket) {
  beast::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  return ec ? std::string("unknown") : endpoint.address().to_string();
}

// A non-blocking read or send that found nothing to read or no room.
bool would_block(const boost::system::error_code& ec) {
  return ec == net::error::would_block || ec == net::error::try_again;
}

op_class class_of(op o) {
  switch (o) {
    case op::post: return op_class::post;
    case op::typing: return op_class::typing;
    case op::read: return op_class::read;
    case op::availability: return op_class::availability;
    case op::hello:
    case op::join:
    case op::leave:
    case op::history:
    case op::decisions: return op_class::channel;
  }
  return op_class::channel;
}


// Storage knows only the user's id: the client names it from presence and events.
boost::json::array read_markers_json(const std::vector<read_marker>& markers) {
  boost::json::array a;
  a.reserve(markers.size());
  for (const auto& m : markers) a.push_back(boost::json::object{{"user", {{"id", m.user_id}}}, {"seq", m.seq}});
  return a;
}

}  // namespace

ws_session::ws_session(hub& h, worker& w, net::ip::tcp::socket&& socket, std::string early,
                       connection_limits::ticket connection, connection_limits::ticket unauthenticated)
    : hub_(h),
      worker_(w),
      socket_(std::move(socket)),
      reader_(h.cfg().max_frame),
      unread_(std::move(early)),
      last_heard_(std::chrono::steady_clock::now()),
      connection_ticket_(std::move(connection)),
      unauth_ticket_(std::move(unauthenticated)),
      remote_address_(remote_address_of(socket_)),
      garbage_bucket_(garbage_rate, garbage_burst),
      outbound_(h.cfg().max_queue) {}

ws_session::~ws_session() { hub_.stats().ws_connections.fetch_sub(1, std::memory_order_relaxed); }

template <class F>
void ws_session::run_on_worker(F&& fn) {
  net::post(worker_.ioc, [self = shared_from_this(), fn = std::forward<F>(fn)]() mutable { fn(*self); });
}

void ws_session::run(const http::request<http::string_body>& req) {
  hub_.stats().ws_connections.fetch_add(1, std::memory_order_relaxed);
  bump(hub_.stats().ws_connections_total);
  beast::error_code ec;
  socket_.non_blocking(true, ec);
  socket_.set_option(net::ip::tcp::no_delay(true), ec);
  // The answer to the upgrade is the first thing written.
  control_ = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
             websocket::accept_key(req[http::field::sec_websocket_key]) + "\r\nServer: " + hub_.cfg().server_header +
             "\r\n";
  if (wants_subprotocol(req)) control_ += "Sec-WebSocket-Protocol: parley.v1\r\n";
  control_ += "\r\n";
  worker_.members.emplace(this, weak_from_this());
  hello_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(hub_.cfg().hello_timeout_s);
  flush();
  reading_ = true;
  read_available();
}

void ws_session::read_available() {
  // Per turn at most this much is read, so that one busy client cannot hold its worker.
  constexpr std::size_t read_per_turn = 256 * 1024;
  // The worker's buffer: a read that holds whole frames needs no memory of the session's own.
  thread_local std::array<char, 64 * 1024> chunk;
  reading_ = false;
  if (closed_ || read_paused_) return;
  // Frames left unread when reading paused come first.
  if (!unread_.empty()) {
    unread_.erase(0, handle_bytes(unread_.data(), unread_.size()));
    if (closed_) return;
    if (read_paused_) return;
  }
  std::size_t turn = 0;
  while (turn < read_per_turn) {
    beast::error_code ec;
    std::size_t n = socket_.read_some(net::buffer(chunk), ec);
    if (would_block(ec)) {
      // Nothing more for now: wait until the socket is readable.
      if (unread_.empty()) std::string().swap(unread_);
      reading_ = true;
      socket_.async_wait(net::ip::tcp::socket::wait_read, [self = shared_from_this()](beast::error_code wait_ec) {
        self->reading_ = false;
        if (wait_ec) return self->on_closed();
        self->read_available();
      });
      return;
    }
    if (ec) return on_closed();  // the end of the stream, or a reset
    turn += n;
    last_heard_ = std::chrono::steady_clock::now();
    pinged_ = false;
    if (unread_.empty()) {
      auto used = handle_bytes(chunk.data(), n);
      if (used < n && !closed_) unread_.assign(chunk.data() + used, n - used);
    } else {
      // Part of a frame is kept: what came joins it (the copy holds only the bytes that came).
      unread_.append(chunk.data(), n);
      unread_.erase(0, handle_bytes(unread_.data(), unread_.size()));
    }
    if (closed_ || read_paused_) return;
  }
  // More may be waiting: the rest of the worker's handlers go first.
  reading_ = true;
  net::post(worker_.ioc, [self = shared_from_this()] { self->read_available(); });
}

std::size_t ws_session::handle_bytes(char* data, std::size_t size) {
  std::size_t taken = 0;
  while (!closed_) {
    // After the peer's close (or its broken frame) what it sends is dropped.
    if (peer_closed_) return size;
    if (read_paused_) return taken;
    std::size_t used = 0;
    auto e = reader_.next(data + taken, size - taken, used);
    taken += used;
    using kind = websocket::frame_event::kind;
    switch (e.what) {
      case kind::need_more: return taken;
      case kind::message:
        if (closing_) break;  // after our close frame, only the peer's close matters
        if (!e.text) {
          close(close_policy, "binary frames are not accepted");
        } else {
          handle_frame(e.payload);
          if (reading_should_pause()) read_paused_ = true;
        }
        break;
      case kind::ping: send_control(websocket::opcode::pong, e.payload); break;
      case kind::pong: break;
      case kind::close:
      case kind::fail: on_peer_close(e); break;
    }
  }
  return taken;
}

bool ws_session::reading_should_pause() const {
  return unanswered_ >= max_unanswered || heavy_in_flight_ >= max_heavy_in_flight ||
         outbound_.over_limit();
}

void ws_session::resume_reading_if_paused() {
  if (!read_paused_ || closed_ || reading_should_pause()) return;
  read_paused_ = false;
  // Posted: this runs inside the handling of a reply, not the place to read more requests.
  if (reading_) return;
  reading_ = true;
  net::post(worker_.ioc, [self = shared_from_this()] { self->read_available(); });
}

void ws_session::handle_frame(std::string_view text) {
  auto parsed = parse_client_frame(text);
  if (auto* bad = std::get_if<frame_error>(&parsed)) {
    if (!claims_) return close(close_auth, "the first frame must be hello");
    ++unanswered_;
    send_error(bad->id, bad->err);
    if (bad->garbage && !garbage_bucket_.take(now_ms())) close(close_policy, "repeated malformed frames");
    return;
  }
  auto& f = std::get<client_frame>(parsed);
  if (f.op != op::typing || f.id) ++unanswered_;  // every request but an id-less typing gets one reply
  if (!claims_ && f.op != op::hello) {
    send_error(f.id, make_error(errc::unauthorized, "the first frame must be hello"));
    return close(close_auth, "the first frame must be hello");
  }
  if (!admit(class_of(f.op), f)) return;
  switch (f.op) {
    case op::hello: return handle_hello(f);
    case op::join: return handle_join(std::move(f));
    case op::leave: return handle_leave(f);
    case op::post: return handle_post(std::move(f));
    case op::history: return handle_history(std::move(f));
    case op::typing: return handle_typing(f);
    case op::read: return handle_read_marker(f);
    case op::decisions: return handle_decisions(f);
    case op::availability: return handle_availability(f);
  }
}

bool ws_session::admit(op_class c, const client_frame& f) {
  // The first hello has no user yet; it is bounded by the hello timeout.
  if (!claims_) return true;
  auto& in_a_row = rate_limited_in_a_row_[static_cast<std::size_t>(c)];
  if (hub_.rates().take(claims_->who.id, c, now_ms())) {
    in_a_row = 0;
    return true;
  }
  bump(hub_.stats().rate_limited);
  // An id-less typing asks for no reply, and gets none.
  if (f.op != op::typing || f.id) send_error(f.id, make_error(errc::rate_limited, "too many requests; slow down"));
  // Going on at full speed after being told: the connection is closed.
  if (++in_a_row > hub_.rates().limit(c).burst) close(close_policy, "rate limit abused");
  return false;
}

void ws_session::handle_hello(const client_frame& f) {
  auto verified = hub_.authenticate(f.token);
  // Not yet able to check revocations (storage unreachable): the client may say hello again.
  if (!verified && verified.err().code == errc::unavailable) return send_error(f.id, verified.err());
  if (!verified) {
    bump(hub_.stats().auth_failures);
    log_event(log_level::warn, "auth_failed",
              {{"via", "hello"}, {"ip", remote_address_}, {"reason", verified.err().message}});
    send_error(f.id, verified.err());
    return close(close_auth, verified.err().message);
  }
  // A later hello renews the token of the same user in the same role (before it expires).
  if (claims_ && claims_->who.id != verified->who.id) {
    return send_error(f.id, make_error(errc::forbidden, "a connection cannot change its user"));
  }
  if (claims_ && claims_->who.role != verified->who.role) {
    return send_error(f.id, make_error(errc::forbidden, "a connection cannot change its role"));
  }
  if (!claims_) {
    user_ticket_ = hub_.limits().websocket_of(verified->who.id);
    if (!user_ticket_) {
      send_error(f.id, make_error(errc::rate_limited, "too many connections of this user (limit " +
                                                         std::to_string(hub_.cfg().max_ws_per_user) + ")"));
      return close(close_policy, "too many connections of this user");
    }
    unauth_ticket_.release();
  }
  bool renewal = claims_.has_value();
  claims_ = std::move(verified.value());
  if (!renewal) hub_.user_connected(claims_->who.id);
  if (renewal) leave_channels_not_allowed();
  hello_deadline_ = std::chrono::steady_clock::time_point::max();
  // A token that expires while connected is closed by sweep().
  if (token_expired(now_ms())) return close(close_auth, "token expired");
  boost::json::object server{{"protocol", protocol_version}};
  if (hub_.cfg().expose_version) server["version"] = version;
  if (hub_.cfg().instance_named || hub_.cfg().expose_version) server["instance"] = hub_.cfg().instance;
  send(reply_ok(f.id, {{"user", user_json(claims_->who)}, {"server", std::move(server)}}));
}

void ws_session::leave_channels_not_allowed() {
  std::vector<std::string> gone;
  for (const auto& [ch, jc] : channels_) {
    auto parsed = parse_channel(ch);
    if (!parsed || !check_read(*claims_, *parsed)) gone.push_back(ch);
  }
  for (const auto& ch : gone) {
    leave_channel(ch);
    push(std::make_shared<const std::string>(presence_frame(ch, {}, {claims_->who})));
  }
}

void ws_session::revoked(const revocation& r) {
  if (!claims_ || claims_->who.id != r.user_id) return;
  if (claims_->iat && *claims_->iat >= r.valid_after) return;
  close(close_auth, "token revoked");
}

void ws_session::handle_join(client_frame f) {
  auto ch = parse_channel(f.ch);
  if (!ch) return send_error(f.id, make_error(errc::bad_request, "unknown channel '" + f.ch + "'"));
  if (auto r = check_read(*claims_, *ch); !r) return send_error(f.id, r.err());
  if (auto room = channel_limit_allows(f.ch); !room) return send_error(f.id, room.err());
  ++heavy_in_flight_;
  auto j = std::make_shared<pending_join>();
  j->ch = f.ch;
  j->f = std::move(f);
  net::co_spawn(worker_.ioc, join(shared_from_this(), std::move(j)), net::detached);
}

result<void> ws_session::channel_limit_allows(const std::string& ch) const {
  if (channels_.count(ch) || channels_.size() < hub_.cfg().max_channels) return {};
  return make_error(errc::bad_request, "channel limit of " + std::to_string(hub_.cfg().max_channels) + " reached");
}

// A join goes through four steps, each possibly on another thread: the
// engagement's state (which opens the engagement on first use), the members
// present on every instance, the watch of the channel's live events, and the
// read of its recent events. The coroutine runs on this session's worker
// (every co_await resumes there); `self` keeps the session alive.
net::awaitable<void> ws_session::join(std::shared_ptr<ws_session> self, std::shared_ptr<pending_join> j) {
  auto state = co_await completion<result<boost::json::value>>(
      [&](auto done) { hub_.state_of(*claims_, j->ch, std::move(done)); });
  if (!state) co_return send_heavy_error(j->f.id, state.err());
  j->state = std::move(state.value());
  auto present = co_await completion<result<std::vector<user>>>([&](auto done) { hub_.present(j->ch, std::move(done)); });
  if (closing_) co_return;
  if (!present) co_return send_heavy_error(j->f.id, present.err());
  j->presence = std::move(present.value());
  auto reads = co_await completion<result<std::vector<read_marker>>>(
      [&](auto done) { hub_.read_markers_of(j->ch, std::move(done)); });
  if (closing_) co_return;
  if (!reads) co_return send_heavy_error(j->f.id, reads.err());
  j->reads = std::move(reads.value());
  {
    // Presence entries and absent readers carry availability and last_seen (protocol §9.3).
    std::vector<std::string> ids{claims_->who.id};
    for (const auto& u : j->presence) ids.push_back(u.id);
    for (const auto& m : j->reads) ids.push_back(m.user_id);
    co_await completion<bool>([&](auto done) { hub_.learn_availability(std::move(ids), [done] { done(true); }); });
    if (closing_) co_return;
  }

  if (auto room = channel_limit_allows(j->ch); !room) co_return send_heavy_error(j->f.id, room.err());
  bool first = !channels_.count(j->ch);
  j->generation = ++join_generation_;
  channels_[j->ch].start_join(j->generation);
  if (first) {
    // The join's read starts once the channel's live events reach this
    // instance, so that nothing falls between the two.
    auto watched = co_await completion<result<void>>(
        [&](auto done) { hub_.join(worker_, j->ch, self, claims_->who, std::move(done)); });
    if (!watched) {
      on_join_read(j, watched.err());
      co_return;
    }
  }
  for (;;) {
    read_query q;
    q.ch = j->ch;
    q.limit = static_cast<int>(j->f.limit.value_or(50));
    q.max_bytes = hub_.cfg().max_reply;  // never more of the window in memory than a reply may carry
    q.after = j->f.since;
    auto out = co_await completion<result<channel_window>>([&](auto done) { hub_.read(*claims_, std::move(q), std::move(done)); });
    if (!on_join_read(j, std::move(out))) co_return;
  }
}

bool ws_session::on_join_read(std::shared_ptr<pending_join> j, result<channel_window> read) {
  if (closing_) return false;
  const std::string& ch = j->ch;
  client_frame& f = j->f;
  auto it = channels_.find(ch);
  if (it == channels_.end()) {
    send_heavy_error(f.id, make_error(errc::conflict, "left before the join completed"));
    return false;
  }
  // Joining again while a join is under way answers both like first joins;
  // the latest one decides where live delivery starts.
  bool latest = it->second.generation() == j->generation;
  if (!read) {
    send_heavy_error(f.id, read.err());
    if (latest) leave_channel(ch);
    return false;
  }
  channel_window& out = *read;
  bool epoch_matches = f.since && f.epoch == out.epoch;
  bool recovered = false;
  if (f.since && ((!f.epoch.empty() && !epoch_matches) || *f.since > out.head)) {
    // The client's position belongs to another log (or is beyond ours): it gets the latest events.
    // Without an epoch the position is taken as given, but never reported as recovered.
    f.since.reset();
    return true;
  }
  if (f.since) {
    std::int64_t last = out.events.empty() ? *f.since : out.events.back().seq;
    recovered = epoch_matches && last == out.head;
  }
  std::vector<std::shared_ptr<const std::string>> events;
  events.reserve(out.events.size());
  for (auto& e : out.events) events.push_back(std::move(e.json));

  // The joiner is present from its own join on, whatever the snapshot said.
  auto& present = j->presence;
  if (std::none_of(present.begin(), present.end(), [&](const user& u) { return u.id == claims_->who.id; }))
    present.push_back(claims_->who);
  boost::json::object fields{{"ch", ch},
                             {"epoch", out.epoch},
                             {"head", out.head},
                             {"recovered", recovered},
                             {"state", std::move(j->state)},
                             {"presence", presence_json(present)},
                             {"absent", absent_json(present, j->reads)},
                             {"reads", read_markers_json(j->reads)}};
  // A window larger than the reply may take holds its oldest events and
  // "more": true; live events still start after the head, and the client pages
  // the rest with history.
  send_heavy(reply_with_events_within(f.id, fields, events, reply_budget(), out.truncated).frame);
  if (!latest) return false;

  // Live events from here on: those after the head the read saw.
  for (auto& e : it->second.read_done(out.head)) deliver(ch, e.seq, e.json);
  return false;
}

void ws_session::handle_leave(const client_frame& f) {
  if (!channels_.count(f.ch)) return send_error(f.id, make_error(errc::not_found, "not joined to '" + f.ch + "'"));
  leave_channel(f.ch);
  send(reply_ok(f.id));
}

void ws_session::leave_channel(const std::string& ch) {
  channels_.erase(ch);
  last_typing_.erase(ch);
  hub_.leave(worker_, ch, *this, claims_->who);
}

void ws_session::leave_all_channels() {
  std::vector<std::string> joined;
  for (const auto& [ch, jc] : channels_) joined.push_back(ch);
  for (const auto& ch : joined) leave_channel(ch);
}

void ws_session::handle_post(client_frame f) {
  hub_.post(*claims_, f.ch, f.kind, f.body, f.cid, [self = shared_from_this(), id = f.id](result<post_ack> r) {
    self->run_on_worker([id, r = std::move(r)](ws_session& s) {
      if (!r) return s.send_error(id, r.err());
      boost::json::object fields{{"seq", r->seq}, {"ts", r->ts}};
      if (r->duplicate) fields["duplicate"] = true;
      s.send(reply_ok(id, fields));
    });
  });
}

void ws_session::handle_history(client_frame f) {
  ++heavy_in_flight_;
  read_query q;
  q.ch = f.ch;
  q.after = f.after;
  q.before = f.before;
  q.limit = static_cast<int>(f.limit.value_or(50));
  q.max_bytes = hub_.cfg().max_reply;
  hub_.read(*claims_, std::move(q), [self = shared_from_this(), id = f.id](result<channel_window> out) {
    self->run_on_worker([id, out = std::move(out)](ws_session& s) {
      if (!out) return s.send_heavy_error(id, out.err());
      std::vector<std::shared_ptr<const std::string>> events;
      for (const auto& e : out->events) events.push_back(e.json);
      boost::json::object fields{{"epoch", out->epoch}, {"head", out->head}};
      s.send_heavy(reply_with_events_within(id, fields, events, s.reply_budget(), out->truncated).frame);
    });
  });
}

void ws_session::handle_typing(const client_frame& f) {
  auto it = channels_.find(f.ch);
  if (it == channels_.end()) {
    if (f.id) send_error(f.id, make_error(errc::not_found, "not joined to '" + f.ch + "'"));
    return;
  }
  // Typing pushes are advisory: extra ones within the interval are dropped.
  auto now = now_ms();
  auto& last = last_typing_[f.ch];
  if (now - last >= typing_interval_ms) {
    last = now;
    hub_.broadcast(f.ch, std::make_shared<const std::string>(typing_frame(f.ch, claims_->who)), this);
  }
  if (f.id) send(reply_ok(f.id));
}

void ws_session::handle_read_marker(const client_frame& f) {
  if (auto marked = hub_.mark_read(*claims_, f.ch, f.seq, this); !marked) return send_error(f.id, marked.err());
  send(reply_ok(f.id));
}

void ws_session::handle_availability(const client_frame& f) {
  hub_.set_availability(*claims_, f.body, [self = shared_from_this(), id = f.id](result<boost::json::object> r) {
    self->run_on_worker([id, r = std::move(r)](ws_session& s) {
      if (!r) return s.send_error(id, r.err());
      s.send(reply_ok(id, *r));
    });
  });
}

boost::json::array ws_session::presence_json(const std::vector<user>& present) const {
  boost::json::array a;
  a.reserve(present.size());
  for (const auto& u : present) a.push_back(hub_.presence_entry(u, true));
  return a;
}

// The readers of a join's `reads` who are not present: when they were last
// seen, and their availability (a client shows "last seen 2 h ago").
boost::json::array ws_session::absent_json(const std::vector<user>& present, const std::vector<read_marker>& reads) const {
  boost::json::array a;
  for (const auto& m : reads) {
    if (std::any_of(present.begin(), present.end(), [&](const user& u) { return u.id == m.user_id; })) continue;
    a.push_back(hub_.absent_entry(m.user_id));
  }
  return a;
}

void ws_session::handle_decisions(const client_frame& f) {
  auto ch = parse_channel(channel::main(f.eng));
  if (!ch) return send_error(f.id, make_error(errc::bad_request, "invalid engagement id"));
  if (auto r = check_read(*claims_, *ch); !r) return send_error(f.id, r.err());
  ++heavy_in_flight_;
  auto after = f.after.value_or(0);
  auto limit = static_cast<int>(f.limit.value_or(max_records_page));
  hub_.decisions(*claims_, f.eng, after, limit, [self = shared_from_this(), id = f.id, after](result<records_page> out) {
    self->run_on_worker([id, after, out = std::move(out)](ws_session& s) mutable {
      if (!out) return s.send_heavy_error(id, out.err());
      s.send_heavy(reply_ok(id, decisions_page(std::move(out->records), after, out->next, s.reply_budget())));
    });
  });
}

void ws_session::send_error(std::optional<std::int64_t> id, const error& e) { send(parley::reply_error(id, e)); }

void ws_session::send_heavy(std::string frame) {
  if (heavy_in_flight_ > 0) --heavy_in_flight_;
  send(std::move(frame));
}

void ws_session::send_heavy_error(std::optional<std::int64_t> id, const error& e) {
  send_heavy(parley::reply_error(id, e));
}

std::size_t ws_session::reply_budget() const { return std::min(outbound_.room(), hub_.cfg().max_reply); }

void ws_session::deliver(const std::string& ch, std::int64_t seq, const std::shared_ptr<const std::string>& json) {
  auto it = channels_.find(ch);
  if (it == channels_.end() || closing_) return;
  switch (it->second.deliver(seq, json)) {
    case joined_channel::delivery::queue:
      bump(hub_.stats().deliveries);
      return enqueue(json, true);
    case joined_channel::delivery::gap: return close(close_slow_consumer, "missed events; join again with since");
    case joined_channel::delivery::buffer:
    case joined_channel::delivery::skip: return;
  }
}

bool ws_session::live_on(const std::string& ch) const {
  auto it = channels_.find(ch);
  return it != channels_.end() && it->second.ready() && !closing_;
}

void ws_session::push(std::shared_ptr<const std::string> frame) {
  if (!closing_) enqueue(std::move(frame), true);
}

void ws_session::send(std::string frame) {
  if (unanswered_ > 0) --unanswered_;
  enqueue(std::make_shared<const std::string>(std::move(frame)), false);
  resume_reading_if_paused();
}

void ws_session::going_away() { close(websocket::close_code::going_away, "server shutting down"); }

void ws_session::enqueue(std::shared_ptr<const std::string> frame, bool push) {
  if (closing_ || closed_) return;
  bool over_limit = outbound_.push(std::move(frame));
  if (push && over_limit) {
    bump(hub_.stats().slow_consumer_closes);
    return close(close_slow_consumer, "outbound queue overflow; reconnect and resume");
  }
  flush_soon(!push);
}

void ws_session::flush_soon(bool reply) {
  if (flush_pending_ || waiting_writable_ || closed_) return;
  flush_pending_ = true;
  worker_.flush_later(shared_from_this(), reply);
}

void ws_session::send_control(websocket::opcode op, std::string_view payload) {
  // A peer that pings and never reads gets no more than a few pongs queued.
  constexpr std::size_t max_control_bytes = 1024;
  if (closing_ || control_.size() > max_control_bytes) return;
  control_ += websocket::control_frame(op, payload);
  flush_soon();
}

void ws_session::flush() {
  flush_pending_ = false;
  if (closed_ || waiting_writable_) return;
  while (wire_busy_ || next_write()) {
    std::array<net::const_buffer, 2> wire{net::buffer(wire_head_), wire_body_};
    auto rest = beast::buffers_suffix<std::array<net::const_buffer, 2>>(wire);
    rest.consume(wire_sent_);
    beast::error_code ec;
    auto n = socket_.write_some(rest, ec);
    if (would_block(ec)) {
      // The peer is not reading as fast: wait for room, within the write deadline.
      if (write_deadline_ == std::chrono::steady_clock::time_point::max())
        write_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(hub_.cfg().write_timeout_s);
      waiting_writable_ = true;
      socket_.async_wait(net::ip::tcp::socket::wait_write, [self = shared_from_this()](beast::error_code wait_ec) {
        self->waiting_writable_ = false;
        if (wait_ec) return self->abort();
        self->flush();
      });
      return;
    }
    if (ec) return abort();  // the read side sees the reset too
    wire_sent_ += n;
    if (wire_sent_ == wire_head_.size() + wire_body_.size()) write_done();
  }
}

bool ws_session::next_write() {
  wire_sent_ = 0;
  wire_body_ = {};
  wire_is_batch_ = wire_is_close_ = false;
  if (!control_.empty()) {
    wire_head_ = std::move(control_);
    control_ = std::string();
  } else if (!outbound_.empty()) {
    wire_body_ = outbound_.next_write();
    std::uint8_t header[websocket::max_header];
    auto n = websocket::frame_header(websocket::opcode::text, wire_body_.size(), header);
    wire_head_.assign(reinterpret_cast<const char*>(header), n);
    wire_is_batch_ = true;
  } else if (!close_frame_.empty() && !close_sent_) {
    wire_head_.swap(close_frame_);
    wire_is_close_ = true;
  } else {
    return false;
  }
  wire_busy_ = true;
  return true;
}

void ws_session::write_done() {
  wire_busy_ = false;
  // The upgrade's answer and control frames may have grown it past a header's size.
  if (wire_head_.capacity() > 2 * websocket::max_header) std::string().swap(wire_head_);
  // A write that ends is progress: the deadline starts again with the next one that waits.
  write_deadline_ = std::chrono::steady_clock::time_point::max();
  if (wire_is_batch_) {
    bump(hub_.stats().frames_sent);
    outbound_.written();
    resume_reading_if_paused();
  }
  if (wire_is_close_) {
    close_sent_ = true;
    // Our close is out: nothing more is sent. The peer answers with its
    // close and the end of its stream, read (and dropped) by the read side
    // until then, within the close deadline.
    beast::error_code ignored;
    socket_.shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    close_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(peer_closed_ ? 2 : 10);
  }
}

void ws_session::sweep(std::chrono::steady_clock::time_point now, std::int64_t wall_ms) {
  if (closed_) return;
  const auto idle = std::chrono::seconds(hub_.cfg().idle_timeout_s);
  if (now >= write_deadline_) {
    bump(hub_.stats().write_timeouts);
    abort();
  } else if (now >= close_deadline_ || now - last_heard_ >= idle) {
    abort();
  } else if (now >= hello_deadline_) {
    hello_deadline_ = std::chrono::steady_clock::time_point::max();
    close(close_auth, "no hello in time");
  } else if (token_expired(wall_ms)) {
    close(close_auth, "token expired");
  } else if (!pinged_ && now - last_heard_ >= idle / 2) {
    // Quiet for half the idle timeout: a ping asks the peer for a sign of life.
    pinged_ = true;
    send_control(websocket::opcode::ping, {});
  }
}

// 30 s of grace past `exp`, for clocks a little apart.
bool ws_session::token_expired(std::int64_t wall_ms) const { return claims_ && claims_->exp + 30 <= wall_ms / 1000; }

void ws_session::close(std::uint16_t code, std::string_view reason) {
  if (closing_ || closed_) return;
  closing_ = true;
  if (code == close_slow_consumer || code == close_auth || code == close_policy) {
    if (code != close_slow_consumer) bump(hub_.stats().policy_closes);
    log_event(log_level::warn, "ws_closed",
              {{"code", std::to_string(code)}, {"ip", remote_address_}, {"user", claims_ ? claims_->who.id : ""},
               {"reason", std::string(reason)}});
  }
  // A closing member gets nothing more: it leaves its channels now, not when
  // the TCP connection ends. Posted, since close() may run inside a fan-out
  // over the very registry that leaving changes.
  net::post(worker_.ioc, [self = shared_from_this()] { self->leave_all_channels(); });
  // What is queued goes before the close frame (the reply that says why, the
  // rest of a drain), except for a queue that overflowed.
  if (code == close_slow_consumer) outbound_.drop_unsent();
  close_frame_ = websocket::close_frame(code, reason);
  flush_soon();
}

void ws_session::on_peer_close(const websocket::frame_event& e) {
  if (peer_closed_) return;
  peer_closed_ = true;
  const bool failed = e.what == websocket::frame_event::kind::fail;
  if (failed) {
    log_event(log_level::warn, "ws_closed",
              {{"code", std::to_string(e.code)}, {"ip", remote_address_}, {"reason", std::string(e.payload)}});
  }
  if (close_sent_) return abort();  // the answer to ours: the connection is done
  if (closing_) return;             // ours is on its way
  // The peer's close is answered with its code (none when it gave none); a
  // broken frame with the code that says why.
  closing_ = true;
  net::post(worker_.ioc, [self = shared_from_this()] { self->leave_all_channels(); });
  outbound_.drop_unsent();
  if (e.code == websocket::close_code::no_status)
    close_frame_ = websocket::control_frame(websocket::opcode::close, {});
  else
    close_frame_ = websocket::close_frame(e.code, failed ? e.payload : std::string_view{});
  flush_soon();
}

void ws_session::abort() {
  if (closed_) return;
  beast::error_code ignored;
  socket_.shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  on_closed();
}

// The connection is gone: leave every channel.
void ws_session::on_closed() {
  if (closed_) return;
  closed_ = true;
  closing_ = true;
  hello_deadline_ = write_deadline_ = close_deadline_ = std::chrono::steady_clock::time_point::max();
  beast::error_code ignored;
  socket_.close(ignored);
  leave_all_channels();
  if (claims_) hub_.user_disconnected(claims_->who.id);
  worker_.members.erase(this);
  outbound_.clear();
  std::string().swap(unread_);
  std::string().swap(control_);
}

}  // namespace parley
