// The shared engine on Redis (DESIGN §2). Key layout and scripts: redis_scripts.hpp.
//
// Appending. One Lua script per request checks the cid idempotency key and
// the expected heads, gives each event the next seq of its channel and one
// ts (never older than the channel's head), stores the events in the
// channel's stream, and PUBLISHes them, all in one atomic step: the publish
// order of a channel is its seq order on every instance. The event JSON is
// written by serialize_event() here, with seq and ts left out: the script
// splices the numbers it assigns between the three parts, so the stored
// bytes are exactly serialize_event() of the final event.
//
// Decision records. A record's hash covers its n, prev, ts and decision_seq,
// and is SHA-256 over canonical JSON, signed with Ed25519 (kid, sig), which
// Lua in Redis cannot compute. So a
// request with a record is optimistic: a first script reads the log's tail and
// the heads, the record and every event are completed here with the seqs and
// ts they will get, and the append script is told to refuse ("retry", nothing
// written) unless exactly those values still hold. A few retries, then
// `unavailable`.
//
// Durability (protocol §6): a reply means the script ran, so the events are
// in Redis with the durability Redis is configured with (`appendonly yes`,
// `appendfsync always`: on disk before the reply). A command without a reply
// fails with `unavailable`; it may still have been stored, which the cid of a
// retried post then finds.
//
// Delivery. The sink gets the committed events of watched channels from
// every instance, in seq order, without gaps or duplicates: each watched
// channel keeps the last seq delivered; a message past a gap waits while the
// gap is read from the stream; older ones are dropped. After the subscribe
// connection comes back, every channel is re-subscribed and read from its
// last delivered seq. A changed epoch (Redis lost its data) restarts the
// channel at seq 1 of the new log. The messages held while a gap is read are
// capped (max_gap_buffer): past it they are dropped and read from the stream.
//
// Threads: everything runs on the engine's event loop; the public methods post
// to it. Handlers and the sink run on it.
#include "storage/redis_engine.hpp"

#include "protocol/channel.hpp"
#include "protocol/decision_log.hpp"
#include "protocol/ephemeral.hpp"
#include "storage/delivery_order.hpp"
#include "storage/log.hpp"
#include "storage/redis_connection.hpp"
#include "storage/redis_reply.hpp"
#include "storage/redis_scripts.hpp"

#include <openssl/rand.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <future>
#include <set>
#include <utility>
#include <limits>
#include <map>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

namespace parley {
namespace {

constexpr int max_read_limit = 1000;
constexpr int max_record_attempts = 8;

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string random_hex(std::size_t bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) throw std::runtime_error("no random bytes");
  std::string out;
  for (unsigned char b : raw) {
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

// ---- key names ----

// The hash tag of a channel: an engagement's channels share one slot.
std::string tag_of(std::string_view ch) {
  if (auto c = parse_channel(ch)) {
    if (c->type == channel_type::support) return "{support}";
    return "{eng:" + c->eng + "}";
  }
  return "{" + std::string(ch) + "}";
}

std::string channel_key(std::string_view ch, std::string_view what) {
  return "parley:" + tag_of(ch) + ":" + std::string(what) + ":" + std::string(ch);
}

std::string log_key(std::string_view eng) { return "parley:{eng:" + std::string(eng) + "}:log"; }
const std::string engagements_key = "parley:engagements";

// Presence entries live this long unless their instance writes them again,
// which it does every presence_refresh: a crashed instance's members are gone
// within presence_ttl.
constexpr std::chrono::milliseconds presence_ttl{15000};
constexpr std::chrono::milliseconds presence_refresh{5000};
// Ephemeral pushes share a channel's pub/sub channel with its events.
constexpr std::string_view ephemeral_prefix = "e ";

std::string presence_field(std::string_view instance, std::string_view user_id) {
  return std::string(instance) + "\n" + std::string(user_id);
}

// A presence value: "<expiry ms> <user json>".
std::string presence_value(const user& who) {
  auto expiry = now_ms() + presence_ttl.count();
  return std::to_string(expiry) + " " + boost::json::serialize(user_json(who));
}

struct presence_entry {
  std::int64_t expiry = 0;
  user who;
};

std::optional<presence_entry> parse_presence(std::string_view value) {
  auto space = value.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  auto expiry = decimal_int64(value.substr(0, space));
  boost::system::error_code ec;
  auto v = boost::json::parse(value.substr(space + 1), ec);
  if (!expiry || ec || !v.is_object()) return std::nullopt;
  const auto& o = v.get_object();
  auto str = [&](const char* k) -> std::string {
    const auto* f = o.if_contains(k);
    return f && f->is_string() ? std::string(f->get_string()) : std::string();
  };
  auto role = parse_role(str("role"));
  if (!role) return std::nullopt;
  return presence_entry{*expiry, user{str("id"), str("name"), *role}};
}

// The engagement whose set entry an event in `ch` maintains (main channels only).
std::string engagement_of(std::string_view ch) {
  auto c = parse_channel(ch);
  return c && c->type == channel_type::engagement ? c->eng : std::string();
}

// The idempotency key's field: length-prefixed, so no sender/cid pair can
// spell another's.
std::string cid_field_of(std::string_view sender, std::string_view cid) {
  return std::to_string(sender.size()) + ":" + std::string(sender) + std::string(cid);
}

// ---- event JSON around seq and ts ----

struct event_parts {
  std::string prefix;  // up to `"seq":`
  std::string middle;  // from after seq up to `"ts":`
  std::string suffix;  // after ts to the end
};

// Splits serialize_event() of `ev` where seq and ts go. The first `,"seq":`
// and the first `,"ts":` after it are the event's own members: a quote inside
// a JSON string is always escaped, and from (which comes between) has no ts.
result<event_parts> split_event(const event& ev) {
  std::string json;
  if (ev.seq == 0 && ev.ts == 0) {
    json = serialize_event(ev);
  } else {
    event copy = ev;
    copy.seq = 0;
    copy.ts = 0;
    json = serialize_event(copy);
  }
  constexpr std::string_view seq_mark = ",\"seq\":0";
  constexpr std::string_view ts_mark = ",\"ts\":0";
  auto s = json.find(seq_mark);
  if (s == std::string::npos) return make_error(errc::internal, "event JSON without seq");
  auto t = json.find(ts_mark, s + seq_mark.size());
  if (t == std::string::npos) return make_error(errc::internal, "event JSON without ts");
  event_parts parts;
  std::size_t seq_at = s + seq_mark.size() - 1;
  std::size_t ts_at = t + ts_mark.size() - 1;
  parts.prefix = json.substr(0, seq_at);
  parts.middle = json.substr(seq_at + 1, ts_at - seq_at - 1);
  parts.suffix = json.substr(ts_at + 1);
  return parts;
}

std::string splice(const event_parts& p, std::int64_t seq, std::int64_t ts) {
  std::string out;
  out.reserve(p.prefix.size() + p.middle.size() + p.suffix.size() + 40);
  out += p.prefix;
  out += std::to_string(seq);
  out += p.middle;
  out += std::to_string(ts);
  out += p.suffix;
  return out;
}

// Redis errors that mean "not now" rather than a fault of ours.
error reply_error(const std::string& message) {
  for (std::string_view prefix : {"LOADING", "OOM", "READONLY", "MASTERDOWN", "BUSY", "TRYAGAIN", "CLUSTERDOWN",
                                  "NOREPLICAS", "MISCONF", "NOAUTH", "WRONGPASS", "NOPERM"}) {
    if (message.starts_with(prefix)) return make_error(errc::unavailable, "redis: " + message);
  }
  return make_error(errc::internal, "redis: " + message);
}

struct script {
  std::string_view source;
  std::string sha;
};

// A watched channel: its delivery order, and the reads that keep it whole.
struct watch_state {
  std::uint64_t id = 0;     // tells a re-watch apart from the state a read was started for
  std::string pub;          // its pub/sub channel
  bool reading = false;     // a catch-up read is in flight
  bool again = false;       // read once more when it is back
  bool stale = false;       // a catch-up read failed: retried when commands work again
  int idle_reads = 0;       // catch-up reads in a row that delivered nothing
  delivery_order order;
  std::vector<std::function<void(std::optional<error>)>> on_synced;  // watch() callers waiting for the start
};

using append_handler = std::function<void(append_outcome)>;

class redis_engine final : public engine {
 public:
  redis_engine(const redis_engine_options& options, redis_endpoint endpoint);
  ~redis_engine() override { stop(); }

  void set_sink(std::function<void(const committed_event&)> sink) override;
  void append(append_request req, std::function<void(append_outcome)> handler) override;
  void read(read_query q, std::function<void(read_outcome)> handler) override;
  void watch(const std::string& ch, std::function<void(std::optional<error>)> ready) override;
  void unwatch(const std::string& ch) override;
  void read_records(std::string eng, std::int64_t after, int limit,
                    std::function<void(records_outcome)> handler) override;
  void list_engagements(std::function<void(result<std::vector<std::string>>)> handler) override;
  void find_by_cid(std::string ch, std::string sender_id, std::string cid,
                   std::function<void(result<std::optional<committed_event>>)> handler) override;
  void set_read_marker(std::string user_id, std::string ch, std::int64_t seq) override;
  void presence_update(const std::string& ch, const user& who, bool present) override;
  void presence_members(const std::string& ch, std::function<void(result<std::vector<user>>)> handler) override;
  void publish_ephemeral(const std::string& ch, std::shared_ptr<const std::string> frame) override;
  void set_ephemeral_sink(
      std::function<void(const std::string& ch, std::shared_ptr<const std::string> frame)> sink) override;
  engine_stats stats() const override;
  bool ready() const override { return ready_.load() && !stopped_.load(); }
  void stop() override;

 private:
  // Runs `fn` on the loop unless the engine is stopping (then false).
  bool enter(std::function<void()> fn);
  // Posts an operation counted against max_in_flight until its end_op(). The
  // error to answer when it is refused (the cap is reached, the engine stops).
  std::optional<error> enter_op(std::function<void()> fn);
  void begin_op() { ++outstanding_; }
  void end_op();
  void finish_if_drained();

  void eval(const script& s, std::vector<std::string> args, redis_connection::reply_handler handler);

  void run_append(append_request req, append_handler done);
  void send_append(std::shared_ptr<append_request> req, std::vector<event_parts> parts, std::int64_t now,
                   const std::vector<std::int64_t>* pinned, std::string record_json, std::int64_t record_n,
                   std::function<void(result<redis_value>)> on_reply);
  void finish_append(const append_request& req, const std::vector<event_parts>& parts, result<redis_value> r,
                     const append_handler& done);
  void run_record_append(std::shared_ptr<append_request> req, append_handler done, int attempt);

  void run_read(read_query q, std::function<void(read_outcome)> done);
  void read_channel(const std::string& ch, const std::string& command, std::string from, std::string to, int count,
                    std::size_t max_bytes,
                    std::function<void(read_outcome)> done);

  void on_command_state(bool up);
  void check_durability();
  void on_subscribe_state(bool up);
  void update_ready();
  void on_push(const redis_value& v);
  void on_message(const std::string& ch, published p);
  void catch_up(const std::string& ch);
  void carry_out(const std::string& ch, delivery_order::step step);
  void probe_tick();
  void write_presence(const std::string& ch, const user& who);
  void refresh_presence();
  void sweep_presence(const std::string& ch);

  redis_engine_options options_;
  std::string probe_channel_;
  script append_script_, read_script_, state_script_, marker_script_, find_cid_script_;

  event_loop loop_;  // before everything that uses it
  redis_connection cmd_;
  redis_connection sub_;
  loop_timer probe_timer_;

  // Loop thread only.
  std::function<void(const committed_event&)> sink_;
  std::function<void(const std::string&, std::shared_ptr<const std::string>)> ephemeral_sink_;
  // This instance's present users by channel, re-written before they expire.
  std::unordered_map<std::string, std::map<std::string, user>> present_;
  std::chrono::steady_clock::time_point presence_refreshed_;
  std::unordered_map<std::string, watch_state> watched_;
  std::unordered_map<std::string, std::string> channel_of_pub_;
  std::uint64_t watch_ids_ = 0;
  bool probe_subscribed_ = false;
  bool probe_pending_ = false;
  std::uint64_t probe_token_ = 0;
  std::chrono::steady_clock::time_point probe_sent_;
  std::size_t outstanding_ = 0;
  bool stopping_ = false;
  bool durable_ = false;  // the command connection's Redis passed check_durability()
  std::string durability_problem_;  // what the last check found ("" when durable)
  std::chrono::steady_clock::time_point durability_checked_;
  std::uint64_t connection_generation_ = 0;
  std::promise<void>* drained_ = nullptr;

  std::mutex gate_mutex_;
  bool accepting_ = true;  // guarded by gate_mutex_: nothing is posted after it is cleared
  std::mutex stop_mutex_;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> ready_{false};

  std::atomic<std::size_t> in_flight_{0};  // operations entered and not yet answered
  std::atomic<std::uint64_t> appends_{0};
  std::atomic<std::uint64_t> transactions_{0};
  std::atomic<std::uint64_t> duplicates_{0};
};

redis_engine::redis_engine(const redis_engine_options& options, redis_endpoint endpoint)
    : options_(options),
      probe_channel_("parley:probe:" + options.instance + ":" + random_hex(8)),
      append_script_{redis_scripts::append, script_sha1(redis_scripts::append)},
      read_script_{redis_scripts::read, script_sha1(redis_scripts::read)},
      state_script_{redis_scripts::state, script_sha1(redis_scripts::state)},
      marker_script_{redis_scripts::read_marker, script_sha1(redis_scripts::read_marker)},
      find_cid_script_{redis_scripts::find_cid, script_sha1(redis_scripts::find_cid)},
      cmd_(loop_, endpoint, options.command_timeout, backoff_policy{}, "commands"),
      sub_(loop_, endpoint, options.command_timeout, backoff_policy{}, "subscriptions"),
      probe_timer_(loop_) {
  if (options_.command_timeout.count() < 1) options_.command_timeout = std::chrono::milliseconds(1);
  if (options_.probe_interval.count() < 1) options_.probe_interval = std::chrono::milliseconds(1);
  loop_.post([this] {
    cmd_.on_state([this](bool up) { on_command_state(up); });
    sub_.on_state([this](bool up) { on_subscribe_state(up); });
    sub_.on_push([this](const redis_value& v) { on_push(v); });
    cmd_.start();
    sub_.start();
    probe_timer_.start(options_.probe_interval, [this] { probe_tick(); });
  });
}

bool redis_engine::enter(std::function<void()> fn) {
  std::lock_guard lock(gate_mutex_);
  if (!accepting_) return false;
  loop_.post(std::move(fn));
  return true;
}

std::optional<error> redis_engine::enter_op(std::function<void()> fn) {
  if (in_flight_.fetch_add(1) >= options_.max_in_flight) {
    in_flight_.fetch_sub(1);
    log_event(log_level::warn, "storage_busy", {{"engine", "redis"}, {"limit", std::to_string(options_.max_in_flight)}});
    return make_error(errc::unavailable, "storage is busy; try again");
  }
  if (enter(std::move(fn))) return std::nullopt;
  in_flight_.fetch_sub(1);
  return make_error(errc::unavailable, "storage is stopping");
}

void redis_engine::end_op() {
  in_flight_.fetch_sub(1);
  --outstanding_;
  finish_if_drained();
}

// Once stopping and every operation is answered: close both connections
// (failing the engine's own reads and probes) and let the loop run out.
void redis_engine::finish_if_drained() {
  if (!stopping_ || outstanding_ != 0 || !drained_) return;
  probe_timer_.cancel();
  cmd_.close();
  sub_.close();
  for (auto& [ch, st] : watched_)
    for (auto& ready : std::exchange(st.on_synced, {})) ready(make_error(errc::unavailable, "storage is stopping"));
  watched_.clear();
  channel_of_pub_.clear();
  ready_.store(false);
  auto* drained = drained_;
  drained_ = nullptr;
  drained->set_value();
}

// Every operation accepted before stop() is answered (each command has its
// timeout, so this is bounded), then the loop thread ends. Must not be called
// from a handler or the sink.
void redis_engine::stop() {
  std::lock_guard stop_lock(stop_mutex_);
  if (stopped_.load()) return;
  std::promise<void> drained;
  auto done = drained.get_future();
  {
    std::lock_guard lock(gate_mutex_);
    accepting_ = false;
    loop_.post([this, &drained] {
      stopping_ = true;
      drained_ = &drained;
      finish_if_drained();
    });
  }
  done.wait();
  loop_.join();
  ready_.store(false);
  stopped_.store(true);
}

void redis_engine::set_sink(std::function<void(const committed_event&)> sink) {
  enter([this, sink = std::move(sink)] { sink_ = sink; });
}

engine_stats redis_engine::stats() const {
  engine_stats s;
  s.appends = appends_.load();
  s.transactions = transactions_.load();
  s.duplicates = duplicates_.load();
  return s;
}

// EVALSHA, and EVAL with the source when Redis does not know the script
// (first use, or after a restart emptied its script cache).
void redis_engine::eval(const script& s, std::vector<std::string> args, redis_connection::reply_handler handler) {
  auto command = std::make_shared<std::vector<std::string>>();
  command->reserve(args.size() + 2);
  command->push_back("EVALSHA");
  command->push_back(s.sha);
  for (auto& a : args) command->push_back(std::move(a));
  cmd_.command(*command, [this, command, &s, handler = std::move(handler)](result<redis_value> r) {
    if (r && r->is_error() && r->str.starts_with("NOSCRIPT")) {
      (*command)[0] = "EVAL";
      (*command)[1] = std::string(s.source);
      cmd_.command(*command, handler);
      return;
    }
    handler(std::move(r));
  });
}

// ---- append ----

void redis_engine::append(append_request req, std::function<void(append_outcome)> handler) {
  auto shared = std::make_shared<append_request>(std::move(req));
  auto refused = enter_op([this, shared, handler] {
    begin_op();
    run_append(std::move(*shared), [this, handler](append_outcome out) {
      handler(std::move(out));
      end_op();
    });
  });
  if (refused) {
    append_outcome out;
    out.err = std::move(*refused);
    handler(std::move(out));
  }
}

void redis_engine::run_append(append_request req, append_handler done) {
  auto fail = [&](error err) {
    append_outcome out;
    out.err = std::move(err);
    done(std::move(out));
  };
  if (req.events.empty()) return fail(make_error(errc::internal, "append without events"));
  if (req.record && req.record->attach_to >= req.events.size())
    return fail(make_error(errc::internal, "decision record attached to no event"));
  if (stopping_) return fail(make_error(errc::unavailable, "storage is stopping"));
  if (options_.require_durable && !durable_)
    return fail(make_error(errc::unavailable, "Redis is unreachable or not configured to keep acknowledged data"));

  auto shared = std::make_shared<append_request>(std::move(req));
  if (shared->record) return run_record_append(shared, std::move(done), 1);

  std::vector<event_parts> parts;
  parts.reserve(shared->events.size());
  for (const auto& ev : shared->events) {
    auto p = split_event(ev);
    if (!p) return fail(p.err());
    parts.push_back(std::move(*p));
  }
  auto kept = std::make_shared<std::vector<event_parts>>(parts);
  send_append(shared, std::move(parts), now_ms(), nullptr, std::string(), 0,
              [this, shared, kept, done = std::move(done)](result<redis_value> r) {
                finish_append(*shared, *kept, std::move(r), done);
              });
}

// Builds and sends the append script for `req`, whose events are `parts`.
void redis_engine::send_append(std::shared_ptr<append_request> req, std::vector<event_parts> parts, std::int64_t now,
                               const std::vector<std::int64_t>* pinned, std::string record_json,
                               std::int64_t record_n, std::function<void(result<redis_value>)> on_reply) {
  // The channels the script touches: the first event's first (its stream
  // holds the cid's event), then the other events', then expect-only ones.
  std::vector<std::string> channels;
  auto index_of = [&](const std::string& ch) {
    auto it = std::find(channels.begin(), channels.end(), ch);
    if (it != channels.end()) return static_cast<std::size_t>(it - channels.begin()) + 1;
    channels.push_back(ch);
    return channels.size();
  };
  std::vector<std::size_t> event_channel;
  for (const auto& ev : req->events) event_channel.push_back(index_of(ev.ch));
  std::vector<std::pair<std::size_t, std::int64_t>> expect;
  for (const auto& [ch, head] : req->expect_heads) expect.emplace_back(index_of(ch), head);

  const event& first = req->events.front();
  const std::string& first_ch = first.ch;
  std::string cid_field = first.cid.empty() ? std::string() : cid_field_of(first.from.id, first.cid);
  std::string record_eng;
  if (req->record) {
    const auto* eng = req->record->fields.if_contains("eng");
    if (eng && eng->is_string()) record_eng = std::string(eng->get_string());
  }

  std::vector<std::string> args;
  args.reserve(2 + 2 * channels.size() + 12 + channels.size() + 2 * expect.size() + 5 * parts.size() +
               (pinned ? pinned->size() : 0));
  args.push_back(std::to_string(2 + 2 * channels.size()));
  args.push_back(channel_key(first_ch, "cids"));
  args.push_back(record_json.empty() ? channel_key(first_ch, "cids") : log_key(record_eng));
  for (const auto& ch : channels) {
    args.push_back(channel_key(ch, "meta"));
    args.push_back(channel_key(ch, "events"));
  }
  args.push_back(std::to_string(now));
  args.push_back(random_hex(8));
  args.push_back(std::move(cid_field));
  args.push_back(std::to_string(channels.size()));
  args.push_back(std::to_string(expect.size()));
  args.push_back(std::to_string(parts.size()));
  args.push_back(std::move(record_json));
  args.push_back(std::to_string(record_n));
  args.push_back(pinned ? "1" : "0");
  for (const auto& ch : channels) args.push_back(channel_key(ch, "pub"));
  for (const auto& [index, head] : expect) {
    args.push_back(std::to_string(index));
    args.push_back(std::to_string(head));
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    args.push_back(std::to_string(event_channel[i]));
    args.push_back(std::move(parts[i].prefix));
    args.push_back(std::move(parts[i].middle));
    args.push_back(std::move(parts[i].suffix));
    args.push_back(engagement_of(req->events[i].ch));
  }
  if (pinned)
    for (auto seq : *pinned) args.push_back(std::to_string(seq));
  eval(append_script_, std::move(args), std::move(on_reply));
}

// Turns the append script's reply into the outcome; gives this instance's
// own events to the sink at once when they are next in line.
void redis_engine::finish_append(const append_request& req, const std::vector<event_parts>& parts,
                                 result<redis_value> r, const append_handler& done) {
  append_outcome out;
  if (!r) {
    out.err = r.err();
    return done(std::move(out));
  }
  const redis_value& v = *r;
  if (v.is_error()) {
    out.err = reply_error(v.str);
    return done(std::move(out));
  }
  const auto& e = v.elements;
  if (!v.is_array() || e.empty() || !e[0].is_string()) {
    out.err = make_error(errc::internal, "redis: unexpected reply to the append script");
    return done(std::move(out));
  }
  const std::string& tag = e[0].str;
  if (tag == "dup" && e.size() == 4) {
    out.duplicate = true;
    out.committed.push_back(committed_event{req.events.front().ch, e[1].integer, e[2].integer,
                                            std::make_shared<const std::string>(e[3].str)});
    duplicates_.fetch_add(1);
    return done(std::move(out));
  }
  if (tag == "stale" && e.size() == 3) {
    // The script numbers channels as send_append listed them.
    std::vector<std::string> channels;
    for (const auto& ev : req.events)
      if (std::find(channels.begin(), channels.end(), ev.ch) == channels.end()) channels.push_back(ev.ch);
    for (const auto& [ch, head] : req.expect_heads)
      if (std::find(channels.begin(), channels.end(), ch) == channels.end()) channels.push_back(ch);
    auto index = static_cast<std::size_t>(e[1].integer);
    std::string ch = index >= 1 && index <= channels.size() ? channels[index - 1] : "a channel";
    std::int64_t expected = 0;
    for (const auto& [c, head] : req.expect_heads)
      if (c == ch) expected = head;
    out.stale_state = true;
    out.err = make_error(errc::conflict, ch + " moved on (head " + std::to_string(e[2].integer) + ", expected " +
                                             std::to_string(expected) + ")");
    return done(std::move(out));
  }
  if (tag != "ok" || e.size() != 4 || !e[2].is_array() || e[2].elements.size() != parts.size() ||
      !e[3].is_array() || e[3].elements.size() != parts.size()) {
    out.err = make_error(errc::internal, "redis: unexpected reply to the append script");
    return done(std::move(out));
  }
  std::int64_t ts = e[1].integer;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    std::int64_t seq = e[2].elements[i].integer;
    out.committed.push_back(
        committed_event{req.events[i].ch, seq, ts, std::make_shared<const std::string>(splice(parts[i], seq, ts))});
  }
  appends_.fetch_add(out.committed.size());
  transactions_.fetch_add(1);
  // The engagements set has no hash tag: a script of one engagement's slot
  // cannot write it (Redis Cluster), so it is written here, after the append.
  // Should this instance die in between, the engagement is listed by its next append.
  std::set<std::string> listed;
  for (const auto& ev : req.events)
    if (auto eng = engagement_of(ev.ch); !eng.empty() && listed.insert(eng).second)
      cmd_.command({"SADD", engagements_key, eng}, [](result<redis_value>) {});

  for (std::size_t i = 0; i < out.committed.size(); ++i) {
    const auto& c = out.committed[i];
    auto it = watched_.find(c.ch);
    if (it == watched_.end()) continue;
    watch_state& st = it->second;
    // Our own append goes to the sink at once when it is next in line; otherwise its message will.
    if (!st.order.synced() || st.reading || st.order.epoch() != e[3].elements[i].str || c.seq != st.order.last() + 1)
      continue;
    carry_out(c.ch, st.order.on_message(published{c.seq, c.ts, st.order.epoch(), c.json}, false));
  }
  done(std::move(out));
}

// A request with a decision record: read the log's tail and the heads,
// complete everything here, append only if it all still holds.
void redis_engine::run_record_append(std::shared_ptr<append_request> req, append_handler done, int attempt) {
  auto fail = [done](error err) {
    append_outcome out;
    out.err = std::move(err);
    done(std::move(out));
  };
  const auto* eng_value = req->record->fields.if_contains("eng");
  if (!eng_value || !eng_value->is_string() || eng_value->get_string().empty())
    return fail(make_error(errc::internal, "decision record without eng"));
  std::string eng(eng_value->get_string());

  std::vector<std::string> channels;
  for (const auto& ev : req->events)
    if (std::find(channels.begin(), channels.end(), ev.ch) == channels.end()) channels.push_back(ev.ch);
  std::vector<std::string> args{std::to_string(1 + channels.size()), log_key(eng)};
  for (const auto& ch : channels) args.push_back(channel_key(ch, "meta"));

  eval(state_script_, std::move(args), [this, req, done, attempt, channels, fail](result<redis_value> r) {
    if (!r) return fail(r.err());
    if (r->is_error()) return fail(reply_error(r->str));
    const auto& e = r->elements;
    if (!r->is_array() || e.size() != 2 + 2 * channels.size())
      return fail(make_error(errc::internal, "redis: unexpected reply to the state script"));

    std::int64_t n = e[0].integer + 1;
    std::string prev = genesis_prev;
    if (n > 1) {
      boost::system::error_code ec;
      auto last = boost::json::parse(e[1].str, ec);
      const boost::json::value* last_n = ec || !last.is_object() ? nullptr : last.get_object().if_contains("n");
      const boost::json::value* last_hash = ec || !last.is_object() ? nullptr : last.get_object().if_contains("hash");
      if (!last_n || !last_n->is_int64() || last_n->get_int64() != n - 1 || !last_hash || !last_hash->is_string())
        return fail(make_error(errc::internal, "redis: the decision log's last record is malformed"));
      prev = std::string(last_hash->get_string());
    }

    // The seqs and the ts the script will give, if nothing moves meanwhile.
    std::map<std::string, std::int64_t> heads;
    std::int64_t ts = now_ms();
    for (std::size_t c = 0; c < channels.size(); ++c) {
      heads[channels[c]] = e[2 + 2 * c].integer;
      ts = std::max<std::int64_t>(ts, e[3 + 2 * c].integer);
    }
    std::vector<event> events = req->events;
    std::vector<std::int64_t> seqs;
    for (auto& ev : events) {
      ev.seq = ++heads[ev.ch];
      ev.ts = ts;
      seqs.push_back(ev.seq);
    }

    event& attached = events[req->record->attach_to];
    boost::json::object record = req->record->fields;
    record["n"] = n;
    record["prev"] = prev;
    record["ts"] = ts;
    record["decision_seq"] = attached.seq;
    std::string hash = seal_record(record, options_.signer.get());
    attached.body["record"] = boost::json::object{{"n", n}, {"hash", hash}, {"prev", prev}};

    std::vector<event_parts> parts;
    for (const auto& ev : events) {
      auto p = split_event(ev);
      if (!p) return fail(p.err());
      parts.push_back(std::move(*p));
    }
    auto kept = std::make_shared<std::vector<event_parts>>(parts);
    auto final_req = std::make_shared<append_request>(*req);
    final_req->events = std::move(events);
    send_append(final_req, std::move(parts), ts, &seqs, boost::json::serialize(record), n,
                [this, req, final_req, kept, done, attempt, fail](result<redis_value> r) {
                  if (r && r->is_array() && !r->elements.empty() && r->elements[0].str == "retry") {
                    if (attempt >= max_record_attempts || stopping_)
                      return fail(make_error(errc::unavailable, "the decision log of this engagement is busy"));
                    return run_record_append(req, done, attempt + 1);
                  }
                  finish_append(*final_req, *kept, std::move(r), done);
                });
  });
}

// ---- reads ----

void redis_engine::read(read_query q, std::function<void(read_outcome)> handler) {
  auto shared = std::make_shared<read_query>(std::move(q));
  auto refused = enter_op([this, shared, handler] {
    begin_op();
    run_read(std::move(*shared), [this, handler](read_outcome out) {
      handler(std::move(out));
      end_op();
    });
  });
  if (refused) {
    read_outcome out;
    out.err = std::move(*refused);
    handler(std::move(out));
  }
}

// The windows of read_query as stream ranges: ids are "<seq>-0", and a bare
// "<seq>" means <seq>-0 as a start and the whole of <seq> as an end.
void redis_engine::run_read(read_query q, std::function<void(read_outcome)> done) {
  int limit = std::clamp(q.limit, 1, max_read_limit);
  constexpr auto max = std::numeric_limits<std::int64_t>::max();
  auto after_start = [](std::int64_t after) { return after < 0 ? std::string("-") : std::to_string(after + 1); };
  if (q.after && *q.after == max) return read_channel(q.ch, "", "", "", 0, 0, std::move(done));
  if (q.before && *q.before <= 1) return read_channel(q.ch, "", "", "", 0, 0, std::move(done));
  if (q.after && q.before && *q.after + 1 > *q.before - 1) return read_channel(q.ch, "", "", "", 0, 0, std::move(done));
  if (q.max_bytes > 0) {
    return read_channel(q.ch, "BOUNDED", q.after ? std::to_string(std::max<std::int64_t>(*q.after, -1)) : "",
                        q.before ? std::to_string(*q.before) : "", limit, q.max_bytes, std::move(done));
  }
  if (q.after && q.before) {
    return read_channel(q.ch, "XRANGE", after_start(*q.after), std::to_string(*q.before - 1), limit, 0,
                        std::move(done));
  }
  if (q.after) return read_channel(q.ch, "XRANGE", after_start(*q.after), "+", limit, 0, std::move(done));
  if (q.before) return read_channel(q.ch, "XREVRANGE", std::to_string(*q.before - 1), "-", limit, 0, std::move(done));
  read_channel(q.ch, "XREVRANGE", "+", "-", limit, 0, std::move(done));
}

void redis_engine::read_channel(const std::string& ch, const std::string& command, std::string from, std::string to,
                                int count, std::size_t max_bytes, std::function<void(read_outcome)> done) {
  std::vector<std::string> args{"2",     channel_key(ch, "meta"), channel_key(ch, "events"), random_hex(8), command,
                                std::move(from), std::move(to), std::to_string(count), std::to_string(max_bytes)};
  bool descending = command == "XREVRANGE";
  eval(read_script_, std::move(args), [descending, done = std::move(done)](result<redis_value> r) {
    read_outcome out;
    if (!r) {
      out.err = r.err();
      return done(std::move(out));
    }
    if (r->is_error()) {
      out.err = reply_error(r->str);
      return done(std::move(out));
    }
    done(decode_read_reply(*r, descending));
  });
}

void redis_engine::read_records(std::string eng, std::int64_t after, int limit,
                                std::function<void(records_outcome)> handler) {
  after = std::max<std::int64_t>(after, 0);
  limit = std::clamp(limit, 1, max_records_page);
  auto refused = enter_op([this, eng, after, limit, handler] {
    begin_op();
    // Record n is at index n - 1 of the list: the page and one more, which
    // tells whether there is a next page.
    cmd_.command({"LRANGE", log_key(eng), std::to_string(after), std::to_string(after + limit)},
                 [this, eng, after, limit, handler](result<redis_value> r) {
      records_outcome out;
      if (!r) {
        out.err = r.err();
      } else if (r->is_error()) {
        out.err = reply_error(r->str);
      } else {
        for (const auto& item : r->elements) {
          if (out.records.size() == static_cast<std::size_t>(limit)) {
            out.next = after + limit;
            break;
          }
          auto record = parse_record(item.str);
          if (!record) {
            out.records.clear();
            out.next.reset();
            out.err = make_error(errc::internal, "decision log of " + eng + " holds a malformed record");
            break;
          }
          out.records.push_back(std::move(*record));
        }
      }
      handler(std::move(out));
      end_op();
    });
  });
  if (refused) {
    records_outcome out;
    out.err = std::move(*refused);
    handler(std::move(out));
  }
}

void redis_engine::list_engagements(std::function<void(result<std::vector<std::string>>)> handler) {
  auto refused = enter_op([this, handler] {
    begin_op();
    cmd_.command({"SMEMBERS", engagements_key}, [this, handler](result<redis_value> r) {
      if (!r) {
        handler(r.err());
      } else if (r->is_error()) {
        handler(reply_error(r->str));
      } else {
        std::vector<std::string> ids;
        for (const auto& item : r->elements) ids.push_back(item.str);
        std::sort(ids.begin(), ids.end());
        handler(std::move(ids));
      }
      end_op();
    });
  });
  if (refused) handler(std::move(*refused));
}

void redis_engine::find_by_cid(std::string ch, std::string sender_id, std::string cid,
                               std::function<void(result<std::optional<committed_event>>)> handler) {
  auto refused = enter_op([this, ch, sender_id, cid, handler] {
    begin_op();
    eval(find_cid_script_,
         {"2", channel_key(ch, "cids"), channel_key(ch, "events"), cid_field_of(sender_id, cid)},
         [this, ch, handler](result<redis_value> r) {
           if (!r) {
             handler(r.err());
           } else if (r->is_error()) {
             handler(reply_error(r->str));
           } else if (r->elements.empty()) {
             handler(std::optional<committed_event>{});
           } else if (r->elements.size() != 3) {
             handler(make_error(errc::internal, "redis: unexpected reply to the cid lookup"));
           } else {
             const auto& e = r->elements;
             handler(std::optional<committed_event>{
                 committed_event{ch, e[0].integer, e[1].integer, std::make_shared<const std::string>(e[2].str)}});
           }
           end_op();
         });
  });
  if (refused) handler(std::move(*refused));
}

void redis_engine::set_read_marker(std::string user_id, std::string ch, std::int64_t seq) {
  // Past the cap a marker is dropped: the next one of the user carries it.
  enter_op([this, user_id = std::move(user_id), ch = std::move(ch), seq] {
    begin_op();
    eval(marker_script_, {"1", channel_key(ch, "read"), user_id, std::to_string(seq)},
         [this](result<redis_value>) { end_op(); });
  });
}

// ---- watching ----

void redis_engine::watch(const std::string& ch, std::function<void(std::optional<error>)> ready) {
  enter([this, ch, ready = std::move(ready)]() mutable {
    if (stopping_) return ready(make_error(errc::unavailable, "storage is stopping"));
    if (auto it = watched_.find(ch); it != watched_.end()) {
      if (it->second.order.synced()) return ready(std::nullopt);
      if (!sub_.connected()) return ready(make_error(errc::unavailable, "Redis is unreachable"));
      it->second.on_synced.push_back(std::move(ready));
      return;
    }
    watch_state& st = watched_[ch];
    st.id = ++watch_ids_;
    st.order = delivery_order(options_.max_gap_buffer);
    st.pub = channel_key(ch, "pub");
    channel_of_pub_[st.pub] = ch;
    // Not connected: subscribed with every other channel once it is, but the
    // caller is told now rather than kept waiting for Redis.
    if (!sub_.connected()) return ready(make_error(errc::unavailable, "Redis is unreachable"));
    st.on_synced.push_back(std::move(ready));
    sub_.pubsub({"SUBSCRIBE", st.pub});
  });
}

void redis_engine::unwatch(const std::string& ch) {
  enter([this, ch] {
    auto it = watched_.find(ch);
    if (it == watched_.end()) return;
    if (sub_.connected()) sub_.pubsub({"UNSUBSCRIBE", it->second.pub});
    channel_of_pub_.erase(it->second.pub);
    watched_.erase(it);
  });
}

void redis_engine::on_command_state(bool up) {
  if (stopping_) return;
  log_event(up ? log_level::info : log_level::warn, "redis_link", {{"connection", "command"}, {"state", up ? "up" : "down"}});
  ++connection_generation_;
  durable_ = false;
  durability_problem_ = "not checked yet";
  ready_.store(false);
  if (!up || !cmd_.connected()) return;
  durability_checked_ = std::chrono::steady_clock::now();
  check_durability();
  for (auto& [ch, st] : watched_)
    if (st.stale) catch_up(ch);
}

// Whether Redis keeps what it acknowledges (protocol §6: acknowledged =
// durable): appendonly yes, appendfsync always (everysec may lose the last
// second), maxmemory-policy noeviction (eviction deletes stored events).
// Asked on every new command connection; a setting that cannot be read
// (CONFIG forbidden by an ACL) counts as wrong. Ready only when all hold.
void redis_engine::check_durability() {
  struct findings {
    std::vector<std::string> problems;
    int left = 3;
  };
  auto f = std::make_shared<findings>();
  const std::uint64_t generation = connection_generation_;
  static const std::pair<const char*, const char*> wanted[] = {
      {"appendonly", "yes"}, {"appendfsync", "always"}, {"maxmemory-policy", "noeviction"}};
  for (const auto& [param, want] : wanted) {
    cmd_.command({"CONFIG", "GET", param}, [this, f, generation, param = std::string(param),
                                            want = std::string(want)](result<redis_value> r) {
      if (stopping_ || generation != connection_generation_) return;
      if (!r) {
        f->problems.push_back(param + " unknown (" + r.err().message + ")");
      } else if (r->is_error()) {
        f->problems.push_back(param + " unknown (CONFIG GET refused: " + r->str + ")");
      } else if (!r->is_array() || r->elements.size() < 2) {
        f->problems.push_back(param + " unknown");
      } else if (r->elements[1].str != want) {
        f->problems.push_back(param + " is " + r->elements[1].str + ", needs " + want);
      }
      if (--f->left > 0) return;
      durable_ = f->problems.empty();
      std::string reason;
      for (const auto& p : f->problems) reason += (reason.empty() ? "" : "; ") + p;
      // Said once per connection, and again only when the answer changes.
      if (reason != durability_problem_) {
        if (!durable_)
          log_event(options_.require_durable ? log_level::error : log_level::warn, "redis_not_durable",
                    {{"reason", reason}, {"ready", options_.require_durable ? "no" : "yes"}});
        else
          log_event(log_level::info, "redis_durable", {{"connection", "commands"}});
      }
      update_ready();
      update_ready();
    });
  }
}

// Ready (readyz) when both connections are up (joins need the subscription
// too) and Redis is configured so that it cannot lose what it acknowledged.
void redis_engine::update_ready() {
  ready_.store(cmd_.connected() && sub_.connected() && (durable_ || !options_.require_durable));
}

// A new subscribe connection knows no channel: subscribe them all again. Each
// confirmation reads what was missed meanwhile (catch_up).
void redis_engine::on_subscribe_state(bool up) {
  if (!stopping_)
    log_event(up ? log_level::info : log_level::warn, "redis_link", {{"connection", "subscribe"}, {"state", up ? "up" : "down"}});
  probe_subscribed_ = false;
  probe_pending_ = false;
  if (!stopping_) update_ready();
  if (stopping_ || !up || !sub_.connected()) return;
  sub_.pubsub({"SUBSCRIBE", probe_channel_});
  for (auto& [ch, st] : watched_) sub_.pubsub({"SUBSCRIBE", st.pub});
}

// Replies of the subscribe connection: ["subscribe", channel, count] and
// ["message", channel, payload].
void redis_engine::on_push(const redis_value& v) {
  if (stopping_ || !v.is_array() || v.elements.size() < 3) return;
  const std::string& type = v.elements[0].str;
  const std::string& pub = v.elements[1].str;
  if (pub == probe_channel_) {
    if (type == "subscribe") probe_subscribed_ = true;
    if (type == "message" && v.elements[2].str == std::to_string(probe_token_)) probe_pending_ = false;
    return;
  }
  auto it = channel_of_pub_.find(pub);
  if (it == channel_of_pub_.end()) return;
  std::string ch = it->second;
  if (type == "subscribe") {
    catch_up(ch);
  } else if (type == "message") {
    const std::string& payload = v.elements[2].str;
    if (payload.starts_with(ephemeral_prefix)) {
      // "e <instance> <frame>": another instance's push; our own were delivered locally.
      auto space = payload.find(' ', ephemeral_prefix.size());
      if (space == std::string::npos || !ephemeral_sink_) return;
      if (std::string_view(payload).substr(ephemeral_prefix.size(), space - ephemeral_prefix.size()) == probe_channel_)
        return;
      auto frame = reserialize_ephemeral(std::string_view(payload).substr(space + 1), ch);
      if (!frame) return log_event(log_level::warn, "redis_malformed_push", {{"ch", ch}, {"kind", "ephemeral"}});
      return ephemeral_sink_(ch, std::make_shared<const std::string>(std::move(*frame)));
    }
    auto p = parse_published(payload);
    // Parsed and written again: what reaches clients is what this instance
    // would have written, whoever published it.
    std::optional<event> ev;
    if (p) {
      auto parsed = parse_event(*p->json);
      if (parsed && parsed->ch == ch && parsed->seq == p->seq && parsed->ts == p->ts) ev = std::move(parsed.value());
    }
    if (!ev) return log_event(log_level::warn, "redis_malformed_push", {{"ch", ch}, {"kind", "event"}});
    p->json = std::make_shared<const std::string>(serialize_event(*ev));
    on_message(ch, std::move(*p));
  }
}

void redis_engine::on_message(const std::string& ch, published p) {
  auto it = watched_.find(ch);
  if (it == watched_.end()) return;
  watch_state& st = it->second;
  carry_out(ch, st.order.on_message(std::move(p), st.reading));
}

// Hands what the order allows to the sink, and reads the stream when something is missing.
void redis_engine::carry_out(const std::string& ch, delivery_order::step step) {
  if (sink_)
    for (const auto& p : step.deliver) sink_(committed_event{ch, p.seq, p.ts, p.json});
  if (step.read_needed) catch_up(ch);
}

// Reads a watched channel from its last delivered seq (the first time: only
// its head, which becomes the starting point) and delivers what it finds.
// One read per channel at a time; it repeats while something is still missing.
void redis_engine::catch_up(const std::string& ch) {
  auto it = watched_.find(ch);
  if (it == watched_.end()) return;
  watch_state& st = it->second;
  if (st.reading) {
    st.again = true;
    return;
  }
  st.reading = true;
  st.again = false;
  st.stale = false;
  std::uint64_t id = st.id;
  auto on_read = [this, ch, id](read_outcome r) {
    if (stopping_) return;
    auto it = watched_.find(ch);
    if (it == watched_.end() || it->second.id != id) return;
    watch_state& st = it->second;
    st.reading = false;
    const std::int64_t before = st.order.last();
    if (r.err) {
      st.stale = true;
      // Whoever waits for the channel learns why it is not ready; later watchers wait for the retry.
      for (auto& ready : std::exchange(st.on_synced, {})) ready(r.err);
      return;
    }
    const bool starting = !st.order.synced();
    std::vector<published> events;
    for (const auto& ev : r.events) {
      auto parsed = parse_event(*ev.json);
      events.push_back(published{ev.seq, parsed ? parsed->ts : 0, r.epoch, ev.json});
    }
    auto step = st.order.on_read(r.epoch, r.head, std::move(events));
    if (starting)
      for (auto& ready : std::exchange(st.on_synced, {})) ready(std::nullopt);
    bool missing = step.read_needed;
    step.read_needed = false;
    carry_out(ch, std::move(step));
    // A read that moved nothing on is tried again a few times (a message can
    // overtake the reply of a read that Redis ran before its append), then
    // left to the next probe tick.
    st.idle_reads = st.order.last() == before ? st.idle_reads + 1 : 0;
    if (st.again || (missing && st.idle_reads < 3)) return catch_up(ch);
    if (missing) st.stale = true;
  };
  if (!st.order.synced())
    read_channel(ch, "", "", "", 0, 0, std::move(on_read));
  else
    read_channel(ch, "XRANGE", std::to_string(st.order.last() + 1), "+", max_read_limit, 0, std::move(on_read));
}

// ---- presence and ephemeral pushes ----

void redis_engine::presence_update(const std::string& ch, const user& who, bool present) {
  enter([this, ch, who, present] {
    if (present) {
      present_[ch][who.id] = who;
      return write_presence(ch, who);
    }
    if (auto it = present_.find(ch); it != present_.end()) {
      it->second.erase(who.id);
      if (it->second.empty()) present_.erase(it);
    }
    if (cmd_.connected())
      cmd_.command({"HDEL", channel_key(ch, "presence"), presence_field(probe_channel_, who.id)},
                   [](result<redis_value>) {});
  });
}

void redis_engine::write_presence(const std::string& ch, const user& who) {
  if (!cmd_.connected()) return;  // written again by the next refresh
  cmd_.command({"HSET", channel_key(ch, "presence"), presence_field(probe_channel_, who.id), presence_value(who)},
               [](result<redis_value>) {});
}

// Re-writes this instance's entries before they expire, and clears the
// expired entries of the channels it has members in.
void redis_engine::refresh_presence() {
  for (const auto& [ch, users] : present_) {
    for (const auto& [id, who] : users) write_presence(ch, who);
    sweep_presence(ch);
  }
}

// Removes expired entries (their instance stopped reporting). The instance
// whose HDEL removes one tells every member that the user left, unless the
// user is still present through another instance.
void redis_engine::sweep_presence(const std::string& ch) {
  auto key = channel_key(ch, "presence");
  cmd_.command({"HGETALL", key}, [this, ch, key](result<redis_value> r) {
    if (stopping_ || !r || !r->is_array()) return;
    auto now = now_ms();
    std::set<std::string> live;
    std::vector<std::pair<std::string, user>> expired;
    for (std::size_t i = 0; i + 1 < r->elements.size(); i += 2) {
      auto entry = parse_presence(r->elements[i + 1].str);
      if (entry && entry->expiry > now) {
        live.insert(entry->who.id);
      } else {
        expired.emplace_back(r->elements[i].str, entry ? entry->who : user{});
      }
    }
    for (auto& [field, who] : expired) {
      bool announce = !who.id.empty() && !live.count(who.id);
      cmd_.command({"HDEL", key, field}, [this, ch, who, announce](result<redis_value> d) {
        if (stopping_ || !announce || !d || d->integer != 1) return;
        auto frame = std::make_shared<const std::string>(presence_frame(ch, {}, {who}));
        if (ephemeral_sink_) ephemeral_sink_(ch, frame);
        publish_ephemeral(ch, frame);
      });
    }
  });
}

void redis_engine::presence_members(const std::string& ch, std::function<void(result<std::vector<user>>)> handler) {
  if (!enter([this, ch, handler] {
        cmd_.command({"HGETALL", channel_key(ch, "presence")}, [this, handler](result<redis_value> r) {
          if (!r) return handler(r.err());
          if (!r->is_array()) return handler(make_error(errc::internal, "unexpected presence reply"));
          auto now = now_ms();
          std::map<std::string, user> members;
          for (std::size_t i = 1; i < r->elements.size(); i += 2) {
            auto entry = parse_presence(r->elements[i].str);
            if (entry && entry->expiry > now) members.emplace(entry->who.id, entry->who);
          }
          std::vector<user> out;
          for (auto& [id, who] : members) out.push_back(std::move(who));
          handler(std::move(out));
        });
      })) {
    handler(make_error(errc::unavailable, "storage is stopping"));
  }
}

void redis_engine::publish_ephemeral(const std::string& ch, std::shared_ptr<const std::string> frame) {
  enter([this, ch, frame] {
    // Ephemeral: dropped while Redis is away, or so slow that commands pile up.
    if (!cmd_.connected() || cmd_.in_flight() >= options_.max_in_flight) return;
    cmd_.command({"PUBLISH", channel_key(ch, "pub"), std::string(ephemeral_prefix) + probe_channel_ + " " + *frame},
                 [](result<redis_value>) {});
  });
}

void redis_engine::set_ephemeral_sink(
    std::function<void(const std::string& ch, std::shared_ptr<const std::string> frame)> sink) {
  ephemeral_sink_ = std::move(sink);
}

// The liveness probe of the subscribe connection: this instance publishes to
// its own probe channel and expects the message back. A connection that lost
// its subscriptions without noticing (a peer that vanished, a killed client
// whose close never arrived) is dropped and made again. Also retries the
// catch-up reads that failed.
void redis_engine::probe_tick() {
  if (stopping_) return;
  auto now = std::chrono::steady_clock::now();
  if (probe_pending_ && now - probe_sent_ > options_.command_timeout) {
    probe_pending_ = false;
    sub_.drop("the liveness probe did not come back");
  } else if (!probe_pending_ && probe_subscribed_ && sub_.connected() && cmd_.connected()) {
    probe_pending_ = true;
    probe_sent_ = now;
    std::uint64_t token = ++probe_token_;
    cmd_.command({"PUBLISH", probe_channel_, std::to_string(token)}, [this, token](result<redis_value> r) {
      if (stopping_ || !r || r->type != redis_value::kind::integer) return;
      // Nobody received it: Redis no longer counts our subscribe connection.
      if (r->integer == 0 && probe_pending_ && probe_token_ == token) {
        probe_pending_ = false;
        sub_.drop("the liveness probe reached no subscriber");
      }
    });
  }
  if (cmd_.connected())
    for (auto& [ch, st] : watched_)
      if (st.stale) catch_up(ch);
  // Settings can change while connected (CONFIG SET): asked again now and then.
  if (cmd_.connected() && now - durability_checked_ >= options_.durability_recheck) {
    durability_checked_ = now;
    check_durability();
  }
  if (cmd_.connected() && now - presence_refreshed_ >= presence_refresh) {
    presence_refreshed_ = now;
    refresh_presence();
  }
  probe_timer_.start(options_.probe_interval, [this] { probe_tick(); });
}

result<redis_endpoint> url_error(std::string_view url, std::string why) {
  return make_error(errc::bad_request, "bad Redis URL \"" + redact_redis_url(url) + "\": " + why);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

}  // namespace

result<redis_endpoint> parse_redis_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (!url.starts_with(scheme)) return url_error(url, "it must start with redis://");
  std::string_view rest = url.substr(scheme.size());
  redis_endpoint ep;
  // The userinfo ends at the last '@' before the path: a raw '@' in a password is taken as part of it.
  auto slash_at = rest.find('/');
  auto at = rest.substr(0, slash_at).rfind('@');
  if (at != std::string_view::npos) {
    std::string_view info = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = info.find(':');
    if (colon == std::string_view::npos) return url_error(url, "a user needs a password (redis://user:password@host)");
    auto user = url_decode(info.substr(0, colon));
    auto password = url_decode(info.substr(colon + 1));
    if (!user || !password) return url_error(url, "malformed percent-encoding in the credentials");
    if (password->empty()) return url_error(url, "the password is empty");
    ep.user = std::move(*user);
    ep.password = std::move(*password);
  }
  if (rest.find_first_of("?#") != std::string_view::npos) return url_error(url, "options are not supported");

  std::string_view hostport = rest;
  std::optional<std::string_view> path;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }
  if (hostport.empty()) return url_error(url, "no host");

  std::string_view host;
  std::optional<std::string_view> port_text;
  bool v6 = false;
  if (hostport.front() == '[') {
    auto close = hostport.find(']');
    if (close == std::string_view::npos) return url_error(url, "unterminated IPv6 address");
    host = hostport.substr(1, close - 1);
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return url_error(url, "unexpected text after the IPv6 address");
      port_text = after.substr(1);
    }
    v6 = true;
  } else {
    auto colon = hostport.find(':');
    if (colon != hostport.rfind(':')) return url_error(url, "an IPv6 address must be in brackets");
    host = hostport.substr(0, colon);
    if (colon != std::string_view::npos) port_text = hostport.substr(colon + 1);
  }
  if (host.empty()) return url_error(url, "no host");

  std::string host_text(host);
  if (!v6 && host_text == "localhost") host_text = "127.0.0.1";
  unsigned char addr[16];
  if (::inet_pton(v6 ? AF_INET6 : AF_INET, host_text.c_str(), addr) != 1)
    return url_error(url, "the host must be an IP address or localhost (name resolution would block)");
  ep.host = host_text;

  if (port_text) {
    auto port = decimal_int64(*port_text);
    if (!port || *port < 1 || *port > 65535) return url_error(url, "the port must be 1..65535");
    ep.port = static_cast<int>(*port);
  }
  if (path && !path->empty()) {
    auto db = decimal_int64(*path);
    if (!db || *db < 0 || *db > 1'000'000) return url_error(url, "the database must be a number");
    ep.db = static_cast<int>(*db);
  }
  return ep;
}

std::string redact_redis_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (!url.starts_with(scheme)) return std::string(url);
  std::string_view rest = url.substr(scheme.size());
  auto at = rest.substr(0, rest.find('/')).rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  std::string_view info = rest.substr(0, at);
  auto colon = info.find(':');
  std::string user(info.substr(0, colon));
  return std::string(scheme) + user + (colon == std::string_view::npos ? "" : ":***") + std::string(rest.substr(at));
}

bool is_loopback_host(const std::string& host) {
  unsigned char addr[16];
  if (::inet_pton(AF_INET, host.c_str(), addr) == 1) return addr[0] == 127;
  if (::inet_pton(AF_INET6, host.c_str(), addr) == 1) {
    static const unsigned char loopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return std::equal(addr, addr + 16, loopback6);
  }
  return false;
}

std::unique_ptr<engine> make_redis_engine(const redis_engine_options& options) {
  auto endpoint = parse_redis_url(options.url);
  if (!endpoint) throw std::runtime_error(endpoint.err().message);
  return std::make_unique<redis_engine>(options, std::move(*endpoint));
}

}  // namespace parley
