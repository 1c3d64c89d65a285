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
#include <boost/json/array.hpp>

namespace parley {
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

namespace {

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

std::string remote_address_of(const net::ip::tcp::socket& socket) {
  beast::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  return ec ? std::string("unknown") : endpoint.address().to_string();
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

// The `revision` of an engagement's state as a join or a push carries it
// (none for a support channel's null state).
std::optional<std::int64_t> revision_of(const boost::json::value& state) {
  const auto* o = state.if_object();
  const auto* revision = o ? o->if_contains("revision") : nullptr;
  if (!revision || !revision->is_int64()) return std::nullopt;
  return revision->get_int64();
}


// Storage knows only the user's id: the client names it from presence and events.
boost::json::array read_markers_json(const std::vector<read_marker>& markers) {
  boost::json::array a;
  a.reserve(markers.size());
  for (const auto& m : markers) a.push_back(boost::json::object{{"user", {{"id", m.user_id}}}, {"seq", m.seq}});
  return a;
}

}  // namespace

ws_session::ws_session(hub& h, worker& w, net::ip::tcp::socket&& socket, std::unique_ptr<tls_session> tls,
                       std::string early, connection_limits::ticket connection,
                       connection_limits::ticket unauthenticated)
    : hub_(h),
      worker_(w),
      socket_(std::move(socket)),
      tls_(std::move(tls)),
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
  auto reply_revision = revision_of(j->state);
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
  hub_.stats().join_latency.observe_since(j->started);
  if (!latest) return false;

  // Live events from here on: those after the head the read saw.
  for (auto& e : it->second.read_done(out.head)) deliver(ch, e.seq, e.json);
  if (reply_revision) push_state_after_join(ch, *reply_revision);
  return false;
}

// The reply's state was read at the join's start. Events stored since reached
// the joiner with the window or live from the head on, but their state pushes
// did not: the member was not live yet (fanout.cpp push_state). So the state
// follows them once, when it has moved; every later event pushes its own.
void ws_session::push_state_after_join(const std::string& ch, std::int64_t reply_revision) {
  hub_.state_of(*claims_, ch, [self = shared_from_this(), ch, reply_revision](result<boost::json::value> state) {
    net::post(self->worker_.ioc, [self, ch, reply_revision, state = std::move(state)]() mutable {
      if (self->closing_ || !self->channels_.count(ch) || !state) return;
      auto revision = revision_of(*state);
      if (!revision || *revision <= reply_revision) return;
      auto eng = parse_channel(ch);
      if (!eng) return;
      self->push(std::make_shared<const std::string>(boost::json::serialize(
          boost::json::object{{"ev", "state"}, {"eng", eng->eng}, {"state", std::move(*state)}})));
    });
  });
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
