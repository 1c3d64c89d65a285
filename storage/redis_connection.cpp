// hiredis on Asio: the socket hiredis opened is watched through a
// posix::stream_descriptor with async_wait, and hiredis does the reading and
// writing itself. The descriptor is released, never closed, when hiredis
// frees its context: the fd is hiredis' own and it closes it.
#include "storage/redis_connection.hpp"

#include "protocol/hex.hpp"
#include "storage/error_counts.hpp"
#include "storage/log.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

namespace parley {

namespace net = boost::asio;

// ---- event_loop ----

struct event_loop::impl {
  net::io_context io{1};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> guard;
  std::thread thread;
  std::thread::id id;
  std::mutex join_mutex;
  bool joined = false;
};

event_loop::event_loop() : impl_(std::make_unique<impl>()) {
  impl_->guard.emplace(impl_->io.get_executor());
  impl_->thread = std::thread([io = &impl_->io] { io->run(); });
  impl_->id = impl_->thread.get_id();
}

event_loop::~event_loop() { join(); }

void event_loop::post(std::function<void()> fn) { net::post(impl_->io, std::move(fn)); }

bool event_loop::in_loop_thread() const { return std::this_thread::get_id() == impl_->id; }

void event_loop::join() {
  std::lock_guard lock(impl_->join_mutex);
  if (impl_->joined) return;
  impl_->guard.reset();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->joined = true;
}

// ---- loop_timer ----

struct loop_timer::impl {
  explicit impl(net::io_context& io) : timer(io) {}
  net::steady_timer timer;
  // Bumped by every start and cancel: a completion of an older start does nothing.
  std::uint64_t generation = 0;
  bool armed = false;
};

loop_timer::loop_timer(event_loop& loop) : impl_(std::make_shared<impl>(loop.get().io)) {}

loop_timer::~loop_timer() { cancel(); }

void loop_timer::start(std::chrono::milliseconds delay, std::function<void()> fn) {
  std::uint64_t generation = ++impl_->generation;
  impl_->armed = true;
  impl_->timer.expires_after(delay);
  impl_->timer.async_wait([weak = std::weak_ptr<impl>(impl_), generation,
                           fn = std::move(fn)](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (!self || ec || self->generation != generation) return;
    self->armed = false;
    fn();
  });
}

void loop_timer::cancel() {
  ++impl_->generation;
  impl_->armed = false;
  impl_->timer.cancel();
}

bool loop_timer::armed() const { return impl_->armed; }

// ---- redis_connection ----

namespace {

struct pending_command {
  redis_connection::reply_handler handler;
  std::chrono::steady_clock::time_point deadline;
  bool done = false;  // answered: a later reply or NULL callback is ignored
};

// One hiredis context and the Asio watcher of its socket. hiredis calls the
// hooks below with a pointer to it; it keeps itself alive (self_ref) until
// hiredis' cleanup hook, and each pending wait holds it too.
struct link : std::enable_shared_from_this<link> {
  explicit link(net::io_context& io) : socket(io) {}

  // Only dereferenced while `alive`: after hiredis' cleanup hook it is kept to
  // recognise the context in the disconnect callback that follows the hook.
  redisAsyncContext* ac = nullptr;
  net::posix::stream_descriptor socket;
  std::shared_ptr<link> self_ref;
  bool alive = true;
  bool reading = false, writing = false;
  bool read_waiting = false, write_waiting = false;

  // Waits for the socket to be readable while hiredis wants to read, then
  // lets hiredis read (which may free the context: `alive` says).
  void arm_read() {
    if (!alive || !reading || read_waiting) return;
    read_waiting = true;
    socket.async_wait(net::posix::descriptor_base::wait_read, [self = shared_from_this()](const boost::system::error_code& ec) {
      self->read_waiting = false;
      if (!self->alive || ec == net::error::operation_aborted) return;
      redisAsyncHandleRead(self->ac);
      self->arm_read();
    });
  }

  void arm_write() {
    if (!alive || !writing || write_waiting) return;
    write_waiting = true;
    socket.async_wait(net::posix::descriptor_base::wait_write, [self = shared_from_this()](const boost::system::error_code& ec) {
      self->write_waiting = false;
      if (!self->alive || ec == net::error::operation_aborted) return;
      redisAsyncHandleWrite(self->ac);
      self->arm_write();
    });
  }

  static void add_read(void* p) {
    auto* l = static_cast<link*>(p);
    l->reading = true;
    l->arm_read();
  }
  static void del_read(void* p) { static_cast<link*>(p)->reading = false; }
  static void add_write(void* p) {
    auto* l = static_cast<link*>(p);
    l->writing = true;
    l->arm_write();
  }
  static void del_write(void* p) { static_cast<link*>(p)->writing = false; }

  // hiredis is about to free the context and close its fd: stop watching,
  // and give the fd back without closing it.
  static void cleanup(void* p) {
    auto* l = static_cast<link*>(p);
    l->alive = false;
    l->reading = l->writing = false;
    boost::system::error_code ec;
    l->socket.cancel(ec);
    if (l->socket.is_open()) l->socket.release();
    auto keep = std::move(l->self_ref);  // may be the last reference: released on return
  }
};

}  // namespace

struct redis_connection::impl : std::enable_shared_from_this<impl> {
  impl(event_loop& l, redis_endpoint ep, std::chrono::milliseconds t, backoff_policy policy, std::string n)
      : loop(l),
        endpoint(std::move(ep)),
        timeout(t),
        retry(policy),
        name(std::move(n)),
        deadline_timer(l),
        reconnect_timer(l),
        connect_timer(l) {}

  event_loop& loop;
  redis_endpoint endpoint;
  std::chrono::milliseconds timeout;
  backoff retry;
  std::string name;
  state_handler state_cb;
  push_handler push_cb;

  std::shared_ptr<link> current;  // the context being made or in use; null between attempts
  bool is_connected = false;  // connected, authenticated and on its database
  bool tcp_up = false;         // hiredis reported the connection made
  std::size_t handshake_left = 0;  // AUTH / SELECT replies still awaited
  bool running = false;
  std::deque<std::shared_ptr<pending_command>> inflight;  // in send order: replies come in this order
  loop_timer deadline_timer, reconnect_timer, connect_timer;

  struct command_box {
    std::weak_ptr<impl> owner;
    std::shared_ptr<pending_command> pending;
  };

  error unavailable(std::string_view reason) const {
    return storage_unavailable("redis " + name + ": " + std::string(reason));
  }

  // Up and down are told through the loop, never from inside hiredis: the
  // listener may then send commands or drop the connection freely.
  void notify(bool up) {
    loop.post([weak = weak_from_this(), up] {
      if (auto self = weak.lock(); self && self->state_cb) self->state_cb(up);
    });
  }

  void connect_now() {
    if (!running || current) return;
    tcp_up = false;
    redisAsyncContext* ac = redisAsyncConnect(endpoint.host.c_str(), endpoint.port);
    if (!ac) return schedule_reconnect();
    if (ac->err) {
      redisAsyncFree(ac);
      return schedule_reconnect();
    }
    auto l = std::make_shared<link>(loop.get().io);
    boost::system::error_code ec;
    l->socket.assign(ac->c.fd, ec);
    if (ec) {
      redisAsyncFree(ac);  // no hooks yet: hiredis closes its fd
      return schedule_reconnect();
    }
    l->ac = ac;
    l->self_ref = l;
    ac->ev.data = l.get();
    ac->ev.addRead = &link::add_read;
    ac->ev.delRead = &link::del_read;
    ac->ev.addWrite = &link::add_write;
    ac->ev.delWrite = &link::del_write;
    ac->ev.cleanup = &link::cleanup;
    ac->data = this;
    current = l;
    // The hooks must be in place first: setting the connect callback asks for write readiness.
    redisAsyncSetConnectCallback(ac, &impl::on_connect);
    redisAsyncSetDisconnectCallback(ac, &impl::on_disconnect);
    // hiredis has no connect timeout of its own.
    connect_timer.start(timeout, [this] {
      if (current && !is_connected) drop("no connection within " + std::to_string(timeout.count()) + " ms");
    });
    handshake(l);
  }

  // AUTH and SELECT, queued first so that they run before anything sent
  // while connecting. The connection counts as up only once both are
  // answered OK: a wrong password never makes the engine ready.
  void handshake(const std::shared_ptr<link>& l) {
    std::vector<std::vector<std::string>> steps;
    if (!endpoint.password.empty()) {
      if (endpoint.user.empty())
        steps.push_back({"AUTH", endpoint.password});
      else
        steps.push_back({"AUTH", endpoint.user, endpoint.password});
    }
    if (endpoint.db != 0) steps.push_back({"SELECT", std::to_string(endpoint.db)});
    handshake_left = steps.size();
    for (auto& step : steps) {
      // What failed is named by its command alone: the password never reaches a log.
      std::string what = step.front() == "AUTH" ? (endpoint.user.empty() ? "AUTH" : "AUTH " + endpoint.user)
                                                : "SELECT " + std::to_string(endpoint.db);
      send(step, [this, weak = std::weak_ptr<link>(l), what](result<redis_value> r) {
        if (weak.lock() != current || !current) return;  // an older context
        if (!r) return;  // the connection went down: reconnected anyway
        if (r->is_error()) {
          log_event(log_level::error, "redis_handshake_failed",
                    {{"connection", name}, {"command", what}, {"reply", r->str}});
          return drop(what + " failed: " + r->str);
        }
        if (--handshake_left == 0 && tcp_up) up();
      });
    }
  }

  void up() {
    is_connected = true;
    retry.reset();
    notify(true);
  }

  void schedule_reconnect() {
    if (!running) return;
    reconnect_timer.start(retry.next(), [this] { connect_now(); });
  }

  static void on_connect(const redisAsyncContext* ac, int status) {
    static_cast<impl*>(ac->data)->connected(ac, status);
  }

  static void on_disconnect(const redisAsyncContext* ac, int status) {
    static_cast<impl*>(ac->data)->disconnected(ac, status);
  }

  void connected(const redisAsyncContext* ac, int status) {
    if (!current || current->ac != ac) return;  // a context already dropped
    connect_timer.cancel();
    if (status != REDIS_OK) {
      // hiredis frees the context right after this callback.
      std::string reason = ac->errstr[0] ? ac->errstr : "cannot connect";
      current.reset();
      handshake_left = 0;
      fail_all(reason);
      schedule_reconnect();
      return;
    }
    tcp_up = true;
    if (handshake_left == 0) up();
  }

  void disconnected(const redisAsyncContext* ac, int status) {
    if (!current || current->ac != ac) return;  // freed by drop() or close()
    std::string reason = status == REDIS_OK ? "connection closed" : (ac->errstr[0] ? ac->errstr : "connection lost");
    went_down(reason);
  }

  void went_down(const std::string& reason) {
    bool was_up = is_connected;
    is_connected = false;
    tcp_up = false;
    handshake_left = 0;
    current.reset();
    connect_timer.cancel();
    fail_all(reason);
    schedule_reconnect();
    if (was_up) notify(false);
  }

  void drop(const std::string& reason) {
    if (!current) return;
    auto l = current;
    went_down(reason);
    // Inside a hiredis callback of this context the free is deferred until
    // the callback returns; the NULL replies it produces are already answered.
    if (l->alive) redisAsyncFree(l->ac);
  }

  void close() {
    running = false;
    reconnect_timer.cancel();
    connect_timer.cancel();
    if (!current) return;
    auto l = current;
    bool was_up = is_connected;
    is_connected = false;
    tcp_up = false;
    handshake_left = 0;
    current.reset();
    fail_all("connection closed");
    if (l->alive) redisAsyncFree(l->ac);
    if (was_up) notify(false);
  }

  void fail_all(const std::string& reason) {
    deadline_timer.cancel();
    auto failed = std::move(inflight);
    inflight.clear();
    for (auto& p : failed) {
      if (p->done) continue;
      p->done = true;
      p->handler(unavailable(reason));
    }
  }

  void send(const std::vector<std::string>& args, reply_handler handler) {
    if (!current || !current->alive) {
      // Answered through the loop so that a caller never sees its handler run inside its own call.
      loop.post([handler = std::move(handler), err = unavailable("not connected")] { handler(err); });
      return;
    }
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto p = std::make_shared<pending_command>();
    p->handler = std::move(handler);
    p->deadline = std::chrono::steady_clock::now() + timeout;
    auto* box = new command_box{weak_from_this(), p};
    int rc = redisAsyncCommandArgv(current->ac, &impl::on_reply, box, static_cast<int>(argv.size()), argv.data(),
                                   lens.data());
    if (rc != REDIS_OK) {
      delete box;
      p->done = true;
      loop.post([p, err = unavailable("cannot send a command")] { p->handler(err); });
      return;
    }
    inflight.push_back(std::move(p));
    if (inflight.size() == 1) arm_deadline();
  }

  // The oldest command decides: replies come in order, so when it is late
  // every command behind it is late too.
  void arm_deadline() {
    while (!inflight.empty() && inflight.front()->done) inflight.pop_front();
    if (inflight.empty()) {
      deadline_timer.cancel();
      return;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(inflight.front()->deadline -
                                                                      std::chrono::steady_clock::now());
    deadline_timer.start(std::max(left, std::chrono::milliseconds(0)) + std::chrono::milliseconds(1), [this] {
      while (!inflight.empty() && inflight.front()->done) inflight.pop_front();
      if (inflight.empty()) return;
      if (inflight.front()->deadline <= std::chrono::steady_clock::now())
        drop("no reply within " + std::to_string(timeout.count()) + " ms");
      else
        arm_deadline();
    });
  }

  void answered(const std::shared_ptr<pending_command>& p) {
    bool was_front = !inflight.empty() && inflight.front() == p;
    if (was_front) {
      inflight.pop_front();
      arm_deadline();
    } else {
      auto it = std::find(inflight.begin(), inflight.end(), p);
      if (it != inflight.end()) inflight.erase(it);
    }
  }

  static void on_reply(redisAsyncContext* ac, void* reply, void* privdata) {
    std::unique_ptr<command_box> box(static_cast<command_box*>(privdata));
    auto& p = box->pending;
    if (p->done) return;
    p->done = true;
    auto owner = box->owner.lock();
    if (owner) owner->answered(p);
    if (!reply) {
      std::string reason = ac->err && ac->errstr[0] ? ac->errstr : "connection lost";
      p->handler(storage_unavailable("redis " + (owner ? owner->name : std::string()) + ": " + reason));
      return;
    }
    p->handler(from_hiredis(static_cast<redisReply*>(reply)));
  }

  static void on_push(redisAsyncContext* ac, void* reply, void* privdata) {
    auto* self = static_cast<impl*>(privdata);
    if (!reply || !self->current || self->current->ac != ac) return;
    if (self->push_cb) self->push_cb(from_hiredis(static_cast<redisReply*>(reply)));
  }

  bool pubsub(const std::vector<std::string>& args) {
    if (!current || !current->alive) return false;
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    return redisAsyncCommandArgv(current->ac, &impl::on_push, this, static_cast<int>(argv.size()), argv.data(),
                                 lens.data()) == REDIS_OK;
  }
};

redis_connection::redis_connection(event_loop& loop, redis_endpoint endpoint, std::chrono::milliseconds timeout,
                                   backoff_policy policy, std::string name)
    : impl_(std::make_shared<impl>(loop, std::move(endpoint), timeout, policy, std::move(name))) {}

redis_connection::~redis_connection() { impl_->close(); }

void redis_connection::on_state(state_handler handler) { impl_->state_cb = std::move(handler); }
void redis_connection::on_push(push_handler handler) { impl_->push_cb = std::move(handler); }

void redis_connection::start() {
  impl_->running = true;
  impl_->connect_now();
}

void redis_connection::close() { impl_->close(); }
void redis_connection::drop(std::string reason) { impl_->drop(reason); }

void redis_connection::command(const std::vector<std::string>& args, reply_handler handler) {
  impl_->send(args, std::move(handler));
}

bool redis_connection::pubsub(const std::vector<std::string>& args) { return impl_->pubsub(args); }

bool redis_connection::connected() const { return impl_->is_connected; }
std::size_t redis_connection::in_flight() const { return impl_->inflight.size(); }
const std::string& redis_connection::name() const { return impl_->name; }

std::string script_sha1(std::string_view source) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(source.data(), source.size(), md, &len, EVP_sha1(), nullptr);
  return to_hex(md, len);
}

}  // namespace parley
