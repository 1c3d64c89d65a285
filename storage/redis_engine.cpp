// The shared engine on Redis (DESIGN §2). Key layout and scripts: redis_scripts.hpp.
//
// Appending. One Lua script per request checks the cid idempotency key and
// the expected heads, gives each event the next seq of its channel and one
// ts (never older than the channel's head), stores the events in the
// channel's stream, and PUBLISHes them, all in one atomic step: the publish
// order of a channel is its seq order on every instance. The event JSON is
// written here with holes for seq and ts (event_splice.hpp), which the script
// fills; its ARGV and reply are append_args (redis_append.hpp).
//
// Decision records. A record's hash covers its n, prev, ts and decision_seq,
// and is SHA-256 over canonical JSON, signed with Ed25519 (kid, sig), which
// Lua in Redis cannot compute. So a request with a record is optimistic: a
// first script reads the log's tail and the heads, plan_append
// (append_plan.hpp, shared with the SQLite engine) completes the record and
// every event with the seqs and ts they will get, and the append script is
// told to refuse ("retry", nothing written) unless exactly those values still
// hold. A few retries, then `unavailable`.
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
// All of it is channel_watch.hpp. Presence across instances: redis_presence.hpp.
//
// Threads: everything runs on the engine's event loop; the public methods post
// to it. Handlers and the sink run on it.
#include "storage/redis_engine.hpp"

#include "protocol/decision_log.hpp"
#include "protocol/ephemeral.hpp"
#include "storage/append_plan.hpp"
#include "storage/channel_watch.hpp"
#include "storage/clock.hpp"
#include "storage/error_counts.hpp"
#include "storage/log.hpp"
#include "storage/random_hex.hpp"
#include "storage/redis_append.hpp"
#include "storage/redis_engagement_index.hpp"
#include "storage/redis_keys.hpp"
#include "storage/redis_outbox.hpp"
#include "storage/redis_presence.hpp"
#include "storage/redis_reply.hpp"
#include "storage/redis_router.hpp"
#include "storage/redis_scripts.hpp"
#include "storage/redis_subscriptions.hpp"
#include "storage/refusals.hpp"
#include "storage/webhook_hooks.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <atomic>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <utility>

namespace parley {
namespace {

constexpr int max_read_limit = 1000;
constexpr int max_record_attempts = 8;

// Ephemeral pushes share a channel's pub/sub channel with its events.
constexpr std::string_view ephemeral_prefix = "e ";

// The LRANGE reply of a records page: the page's records and, past its
// `limit`, one more that says there is a next page.
result<records_page> decode_records_page(const result<redis_value>& r, const std::string& eng, std::int64_t after,
                                         int limit) {
  if (!r) return r.err();
  if (r->is_error()) return reply_error(r->str);
  records_page out;
  for (const auto& item : r->elements) {
    if (out.records.size() == static_cast<std::size_t>(limit)) {
      out.next = after + limit;
      break;
    }
    auto record = parse_record(item.str);
    if (!record) return storage_fault("decision log of " + eng + " holds a malformed record");
    out.records.push_back(std::move(*record));
  }
  return out;
}

struct script {
  std::string_view source;
  std::string sha;
};

// On a Redis Cluster the append script publishes with SPUBLISH: the channel
// has the engagement's hash tag, so the message stays within its shard.
std::string append_script_source(redis_topology topology) {
  std::string source(redis_scripts::append);
  if (topology == redis_topology::cluster) {
    constexpr std::string_view publish = "redis.call('PUBLISH'";
    auto at = source.find(publish);
    if (at == std::string::npos || source.find(publish, at + 1) != std::string::npos)
      throw std::logic_error("the append script must publish exactly once");
    source.replace(at, publish.size(), "redis.call('SPUBLISH'");
  }
  return source;
}

using append_handler = std::function<void(result<appended>)>;

class redis_engine final : public engine {
 public:
  redis_engine(const redis_engine_options& options, std::vector<redis_endpoint> seeds, redis_topology topology);
  ~redis_engine() override { stop(); }

  void set_sink(std::function<void(const committed_event&)> sink) override;
  void append(append_request req, std::function<void(result<appended>)> handler) override;
  void read(read_query q, std::function<void(result<channel_window>)> handler) override;
  void watch(const std::string& ch, std::function<void(result<void>)> ready) override;
  void unwatch(const std::string& ch) override;
  void read_records(std::string eng, std::int64_t after, int limit,
                    std::function<void(result<records_page>)> handler) override;
  void list_engagements_after(std::string after, int limit,
                              std::function<void(result<engagement_ids_page>)> handler) override;
  void find_by_cid(std::string ch, std::string sender_id, std::string cid,
                   std::function<void(result<std::optional<committed_event>>)> handler) override;
  void sealed(std::string ch, std::vector<std::int64_t> seqs,
              std::function<void(result<sealed_payloads>)> handler) override;
  void set_due(std::string key, std::optional<std::int64_t> due) override;
  void save_snapshot(std::string eng, std::int64_t revision, std::string text,
                     std::function<void(result<void>)> done) override;
  void load_snapshot(std::string eng, std::function<void(result<std::optional<std::string>>)> handler) override;
  void claim_due(std::int64_t now, std::int64_t lease_ms, int limit,
                 std::function<void(result<std::vector<std::string>>)> handler) override;
  void due_index_complete(std::function<void(result<bool>)> handler) override;
  void mark_due_index_complete(std::function<void(result<void>)> done) override;
  void set_read_marker(std::string user_id, std::string ch, std::int64_t seq) override;
  void read_markers(std::string ch, std::function<void(result<std::vector<read_marker>>)> handler) override;
  void set_availability(std::string user_id, std::string availability, std::int64_t set_at,
                        std::function<void(result<void>)> done) override;
  void set_last_seen(std::string user_id, std::int64_t at) override;
  void user_records(std::vector<std::string> user_ids,
                    std::function<void(result<std::vector<user_record>>)> handler) override;
  void publish_user_change(const std::string& user_id) override;
  void enqueue_webhooks(std::vector<webhook_entry> entries, std::function<void(result<void>)> done) override;
  void claim_webhooks(std::string owner, std::int64_t now, std::int64_t lease_ms, int limit,
                      std::function<void(result<std::vector<webhook_entry>>)> handler) override;
  void finish_webhook(std::string owner, std::string eng, std::string id, webhook_outcome outcome,
                      std::function<void(result<void>)> done) override;
  void list_webhooks(webhook_state state, std::string after, int limit,
                     std::function<void(result<webhook_page>)> handler) override;
  void retry_webhook(std::string id, std::int64_t now, std::function<void(result<webhook_entry>)> handler) override;
  void webhook_stats(std::function<void(result<webhook_queue_stats>)> handler) override;
  void add_file(std::string eng, file_entry f, std::uint64_t max_total,
                std::function<void(result<file_added>)> done) override;
  void find_files(std::string eng, std::vector<std::string> hashes,
                  std::function<void(result<file_lookup>)> handler) override;
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
  result<void> enter_op(std::function<void()> fn);
  void begin_op() { ++outstanding_; }
  void end_op();
  void finish_if_drained();

  void eval(const script& s, std::vector<std::string> args, redis_connection::reply_handler handler);
  // The reply handler of a write that answers only whether it was stored; it ends the op.
  redis_connection::reply_handler stored(std::function<void(result<void>)> done);

  void run_append(append_request req, append_handler done);
  void finish_append(const append_args::reply& reply, const append_handler& done);
  // WAIT on the connection to the master of `key`: every write sent on it so
  // far (this append's included) reached options_.wait_replicas replicas, or the error.
  void wait_for_replicas(const std::string& key, std::function<void(result<void>)> done);
  void send_wait(const redis_node_address& node);
  void run_record_append(std::shared_ptr<const append_request> req, append_handler done, int attempt);

  struct due_claim;
  void claim_next(std::shared_ptr<due_claim> c);

  void run_read(read_query q, std::function<void(result<channel_window>)> done);
  void read_channel(const std::string& ch, const std::string& command, std::string from, std::string to, int count,
                    std::size_t max_bytes,
                    std::function<void(result<channel_window>)> done);

  // Runs `fn(done)` as a counted operation: `done` answers and ends it.
  template <class T>
  void outbox_op(std::function<void(std::function<void(result<T>)>)> fn, std::function<void(result<T>)> handler);
  void reindex_webhooks(std::string after);

  void on_command_state(const redis_node_address& node, bool up);
  void check_durability(const redis_node_address& node);
  void on_map(bool changed);
  void on_subscribe_state(const redis_node_address& node, bool up);
  void subscribe_engine_channels(const redis_node_address& node);
  void update_ready();
  void publish_links();
  void on_push(const redis_value& v);
  void probe_tick();
  void probe(const redis_node_address& node, std::chrono::steady_clock::time_point now);

  // What the engine knows of one master (of the one server, or of a shard).
  struct node_state {
    std::uint64_t generation = 0;  // of its command connection: tells late CONFIG replies apart
    bool durable = false;          // passed check_durability()
    std::string durability_problem = "not checked yet";  // what the last check found ("" when durable)
    bool wait_in_flight = false;   // a WAIT was sent and has not been answered
    std::vector<std::function<void(result<void>)>> next_wait;  // appends for the next WAIT
    // The liveness probe of its subscribe connection (probe_tick).
    std::string probe_channel;
    bool probe_subscribed = false;
    bool probe_pending = false;
    std::uint64_t probe_token = 0;
    std::chrono::steady_clock::time_point probe_sent;
  };
  node_state& state_of(const redis_node_address& node) { return nodes_[to_string(node)]; }
  // A channel this instance hears from `node` only: hashed into one of its slots.
  std::string probe_channel_for(const redis_node_address& node) const;

  redis_engine_options options_;
  // This instance among the others: its pushes and presence entries carry it.
  std::string probe_channel_;
  // The append script publishes with SPUBLISH on a Redis Cluster.
  std::string append_source_;
  script append_script_, read_script_, state_script_, marker_script_, find_cid_script_, add_file_script_,
      claim_due_script_, save_snapshot_script_;

  event_loop loop_;  // before everything that uses it
  redis_router cmd_;
  redis_subscriptions sub_;
  loop_timer probe_timer_;
  loop_timer reindex_timer_;

  // Loop thread only.
  std::function<void(const std::string&, std::shared_ptr<const std::string>)> ephemeral_sink_;
  channel_watch watch_;
  redis_presence presence_;
  redis_engagement_index engagement_index_{cmd_};
  redis_outbox outbox_;
  bool reindexing_ = false;
  std::map<std::string, node_state> nodes_;  // by "host:port"
  int due_cursor_ = 0;  // the partition the next claim starts with
  std::size_t outstanding_ = 0;
  bool stopping_ = false;
  bool durable_ = false;  // every master passed check_durability()
  std::chrono::steady_clock::time_point durability_checked_;
  std::promise<void>* drained_ = nullptr;

  std::mutex gate_mutex_;
  bool accepting_ = true;  // guarded by gate_mutex_: nothing is posted after it is cleared
  std::mutex stop_mutex_;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> ready_{false};

  std::atomic<std::size_t> in_flight_{0};  // operations entered and not yet answered
  engine_counters counters_;
  struct {
    std::atomic<bool> command{false}, subscribe{false}, durable{false};
    std::atomic<std::uint64_t> losses{0};
  } links_;
};

redis_engine::redis_engine(const redis_engine_options& options, std::vector<redis_endpoint> seeds,
                           redis_topology topology)
    : options_(options),
      probe_channel_("parley:probe:" + options.instance + ":" + random_hex(8)),
      append_source_(append_script_source(topology)),
      append_script_{append_source_, script_sha1(append_source_)},
      read_script_{redis_scripts::read, script_sha1(redis_scripts::read)},
      state_script_{redis_scripts::state, script_sha1(redis_scripts::state)},
      marker_script_{redis_scripts::read_marker, script_sha1(redis_scripts::read_marker)},
      find_cid_script_{redis_scripts::find_cid, script_sha1(redis_scripts::find_cid)},
      add_file_script_{redis_scripts::add_file, script_sha1(redis_scripts::add_file)},
      claim_due_script_{redis_scripts::claim_due, script_sha1(redis_scripts::claim_due)},
      save_snapshot_script_{redis_scripts::save_snapshot, script_sha1(redis_scripts::save_snapshot)},
      cmd_(loop_, std::move(seeds), options.command_timeout, backoff_policy{}, topology),
      sub_(loop_, cmd_, options.command_timeout, backoff_policy{}),
      probe_timer_(loop_),
      reindex_timer_(loop_),
      watch_(sub_, options.max_gap_buffer,
             [this](const std::string& ch, std::optional<std::int64_t> after,
                    std::function<void(result<channel_window>)> done) {
               if (!after) return read_channel(ch, "", "", "", 0, 0, std::move(done));
               read_channel(ch, "XRANGE", std::to_string(*after + 1), "+", max_read_limit, 0, std::move(done));
             }),
      presence_(cmd_, probe_channel_, [this](const std::string& ch, const user& who) {
        // A user gone with a crashed instance: every member is told, here and elsewhere.
        auto frame = std::make_shared<const std::string>(presence_frame(ch, {}, {who}));
        if (ephemeral_sink_) ephemeral_sink_(ch, frame);
        publish_ephemeral(ch, frame);
      }),
      outbox_(cmd_,
              [this](std::string_view source, std::vector<std::string> args, redis_connection::reply_handler done) {
                // eval keeps a reference to the script until its reply.
                auto s = std::make_shared<const script>(script{source, script_sha1(source)});
                eval(*s, std::move(args), [s, done = std::move(done)](result<redis_value> r) { done(std::move(r)); });
              },
              webhook_retention_ms) {
  if (options_.command_timeout.count() < 1) options_.command_timeout = std::chrono::milliseconds(1);
  if (options_.probe_interval.count() < 1) options_.probe_interval = std::chrono::milliseconds(1);
  loop_.post([this] {
    cmd_.on_node_state([this](const redis_node_address& node, bool up) { on_command_state(node, up); });
    cmd_.on_map([this](bool changed) { on_map(changed); });
    sub_.on_state([this](const redis_node_address& node, bool up) { on_subscribe_state(node, up); });
    sub_.on_push([this](const redis_value& v) { on_push(v); });
    cmd_.start();
    probe_timer_.start(options_.probe_interval, [this] { probe_tick(); });
  });
}

bool redis_engine::enter(std::function<void()> fn) {
  std::lock_guard lock(gate_mutex_);
  if (!accepting_) return false;
  loop_.post(std::move(fn));
  return true;
}

result<void> redis_engine::enter_op(std::function<void()> fn) {
  if (in_flight_.fetch_add(1) >= options_.max_in_flight) {
    in_flight_.fetch_sub(1);
    log_event(log_level::warn, "storage_busy", {{"engine", "redis"}, {"limit", std::to_string(options_.max_in_flight)}});
    return storage_busy();
  }
  if (enter(std::move(fn))) return {};
  in_flight_.fetch_sub(1);
  return storage_stopping();
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
  reindex_timer_.cancel();
  cmd_.close();
  sub_.close();
  watch_.close();
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
      presence_.stop();
      watch_.stopping();
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
  enter([this, sink = std::move(sink)] { watch_.set_sink(sink); });
}

engine_stats redis_engine::stats() const {
  engine_stats s = counters_.snapshot();
  s.engine = "redis";
  s.up = ready();
  s.links = {{"command", links_.command.load()}, {"subscribe", links_.subscribe.load()}};
  s.durable = links_.durable.load();
  s.link_losses = links_.losses.load();
  return s;
}

// The loop's view of the connections, copied where stats() reads it.
void redis_engine::publish_links() {
  links_.command.store(cmd_.connected());
  links_.subscribe.store(sub_.connected());
  links_.durable.store(durable_);
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

redis_connection::reply_handler redis_engine::stored(std::function<void(result<void>)> done) {
  return [this, done = std::move(done)](result<redis_value> r) {
    if (!r) {
      done(r.err());
    } else if (r->is_error()) {
      done(reply_error(r->str));
    } else {
      done({});
    }
    end_op();
  };
}

// ---- append ----

void redis_engine::append(append_request req, std::function<void(result<appended>)> handler) {
  auto shared = std::make_shared<append_request>(std::move(req));
  auto entered = enter_op([this, shared, handler] {
    begin_op();
    // Every key of an append has the engagement's hash tag: any names its master.
    std::string slot_key = shared->events.empty() ? "" : channel_key(shared->events.front().ch, "meta");
    run_append(std::move(*shared), [this, handler, slot_key](result<appended> out) {
      if (!out || options_.wait_replicas == 0) {
        handler(std::move(out));
        return end_op();
      }
      wait_for_replicas(slot_key, [this, handler, out = std::move(out)](result<void> replicated) mutable {
        if (replicated) handler(std::move(out));
        else handler(replicated.err());
        end_op();
      });
    });
  });
  if (!entered) handler(entered.err());
}

void redis_engine::run_append(append_request req, append_handler done) {
  auto fail = [&](error err) { done(std::move(err)); };
  if (auto checked = check_append(req); !checked) return fail(checked.err());
  if (stopping_) return fail(storage_stopping());
  if (options_.require_durable && !durable_)
    return fail(storage_unavailable("Redis is unreachable or not configured to keep acknowledged data"));

  // Hooks are made from the plan (seqs and ts): a request that may cause one
  // is planned like one with a record.
  if (req.record || (options_.webhooks && may_cause_webhooks(req.events)))
    return run_record_append(std::make_shared<const append_request>(std::move(req)), std::move(done), 1);

  auto call = append_args::unpinned(req, now_ms());
  if (!call) return fail(call.err());
  auto shared = std::make_shared<const append_args>(std::move(*call));
  eval(append_script_, shared->command(random_hex(8)), [this, shared, done = std::move(done)](result<redis_value> r) {
    if (!r) return finish_append({r.err(), false, {}}, done);
    if (r->is_error()) return finish_append({reply_error(r->str), false, {}}, done);
    finish_append(shared->decode(*r), done);
  });
}

// WAIT blocks the connection until it returns, and each one covers every
// write sent before it: one WAIT at a time serves every append answered
// meanwhile, so the commands behind it wait at most one wait_timeout.
// On a cluster, each master has its own: it covers the writes sent to it.
void redis_engine::wait_for_replicas(const std::string& key, std::function<void(result<void>)> done) {
  // A MOVED may have sent the append elsewhere: the map knows it by now.
  auto node = cmd_.master_of(key);
  if (!node) return done(storage_unavailable("redis: no master is known for the engagement's slot"));
  auto& st = state_of(*node);
  st.next_wait.push_back(std::move(done));
  if (!st.wait_in_flight) send_wait(*node);
}

void redis_engine::send_wait(const redis_node_address& node) {
  auto& st = state_of(node);
  auto batch = std::make_shared<std::vector<std::function<void(result<void>)>>>(std::move(st.next_wait));
  st.next_wait.clear();
  st.wait_in_flight = true;
  const int wanted = options_.wait_replicas;
  auto timeout = options_.wait_timeout;
  cmd_.command_to(node, {"WAIT", std::to_string(wanted), std::to_string(timeout.count())},
               [this, node, batch, wanted, timeout](result<redis_value> r) {
                 result<void> outcome;
                 if (!r) outcome = r.err();
                 else if (r->is_error()) outcome = reply_error(r->str);
                 else if (r->integer < wanted)
                   outcome = storage_unavailable("redis: stored, but on " + std::to_string(r->integer) + " of " +
                                                 std::to_string(wanted) + " replicas after " +
                                                 std::to_string(timeout.count()) + " ms; retry with the same cid");
                 auto& st = state_of(node);
                 st.wait_in_flight = false;
                 for (auto& done : *batch) done(outcome);
                 if (!st.next_wait.empty()) send_wait(node);
               });
}

// Counts and answers the append script's reply; gives this instance's own
// events to the sink at once when they are next in line.
void redis_engine::finish_append(const append_args::reply& reply, const append_handler& done) {
  result<appended> out = reply.outcome;
  if (!out) return done(std::move(out));
  if (out->duplicate) {
    counters_.duplicates.fetch_add(1);
    return done(std::move(out));
  }
  counters_.appends.fetch_add(out->committed.size());
  counters_.transactions.fetch_add(1);
  // The engagements set has no hash tag: a script of one engagement's slot
  // cannot write it (Redis Cluster), so it is written here, after the append.
  // Should this instance die in between, the engagement is listed by its next append.
  std::set<std::string> listed;
  for (const auto& c : out->committed)
    if (auto eng = listed_engagement_of(c.ch); !eng.empty() && listed.insert(eng).second) {
      cmd_.command({"SADD", std::string(engagements_key), eng}, [](result<redis_value>) {});
      engagement_index_.add(eng);
    }

  for (std::size_t i = 0; i < out->committed.size(); ++i) watch_.on_own_commit(out->committed[i], reply.epochs[i]);
  done(std::move(out));
}

// A request with a decision record: read the log's tail and the heads, plan
// everything here (the record's hash and signature cannot be made in Lua),
// and append only if it all still holds.
void redis_engine::run_record_append(std::shared_ptr<const append_request> req, append_handler done, int attempt) {
  auto fail = [done](error err) { done(std::move(err)); };
  std::vector<std::string> channels;
  for (const auto& ev : req->events)
    if (std::find(channels.begin(), channels.end(), ev.ch) == channels.end()) channels.push_back(ev.ch);
  // Without a record, the log is only read (any key of the slot would do).
  std::string log = log_key(req->record ? record_engagement(*req->record) : first_engagement_of(req->events));
  std::vector<std::string> args{std::to_string(1 + channels.size()), log};
  for (const auto& ch : channels) args.push_back(channel_key(ch, "meta"));

  eval(state_script_, std::move(args), [this, req, done, attempt, channels, fail](result<redis_value> r) {
    if (!r) return fail(r.err());
    if (r->is_error()) return fail(reply_error(r->str));
    const auto& e = r->elements;
    if (!r->is_array() || e.size() != 2 + 2 * channels.size())
      return fail(storage_fault("redis: unexpected reply to the state script"));

    log_tail tail;
    tail.n = e[0].integer;
    if (tail.n > 0) {
      boost::system::error_code ec;
      auto last = boost::json::parse(e[1].str, ec);
      const boost::json::value* last_n = ec || !last.is_object() ? nullptr : last.get_object().if_contains("n");
      const boost::json::value* last_hash = ec || !last.is_object() ? nullptr : last.get_object().if_contains("hash");
      if (!last_n || !last_n->is_int64() || last_n->get_int64() != tail.n || !last_hash || !last_hash->is_string())
        return fail(storage_fault("redis: the decision log's last record is malformed"));
      tail.hash = std::string(last_hash->get_string());
    }
    std::map<std::string, channel_head> heads;
    for (std::size_t c = 0; c < channels.size(); ++c) heads[channels[c]] = {e[2 + 2 * c].integer, e[3 + 2 * c].integer};
    auto plan = plan_append(req->events, req->record, heads, now_ms(), tail, options_.signer.get());

    std::vector<webhook_entry> hooks;
    if (options_.webhooks)
      hooks = webhook_entries_of(plan, {req->record ? req->record->attach_to : 0, req->closing_agreement});
    auto call = append_args::pinned(*req, plan, hooks);
    if (!call) return fail(call.err());
    auto shared = std::make_shared<const append_args>(std::move(*call));
    eval(append_script_, shared->command(random_hex(8)), [this, req, shared, done, attempt, fail,
                                                           hooks = std::move(hooks)](result<redis_value> r) {
      if (!r) return fail(r.err());
      if (r->is_error()) return fail(reply_error(r->str));
      auto reply = shared->decode(*r);
      if (reply.retry) {
        if (attempt >= max_record_attempts || stopping_)
          return fail(storage_unavailable("the engagement's channels are busy"));
        return run_record_append(req, done, attempt + 1);
      }
      if (reply.outcome && !reply.outcome->duplicate) outbox_.stored(hooks);
      finish_append(reply, done);
    });
  });
}

// ---- reads ----

void redis_engine::read(read_query q, std::function<void(result<channel_window>)> handler) {
  auto shared = std::make_shared<read_query>(std::move(q));
  auto entered = enter_op([this, shared, handler] {
    begin_op();
    run_read(std::move(*shared), [this, handler](result<channel_window> out) {
      handler(std::move(out));
      end_op();
    });
  });
  if (!entered) handler(entered.err());
}

// The windows of read_query as stream ranges: ids are "<seq>-0", and a bare
// "<seq>" means <seq>-0 as a start and the whole of <seq> as an end.
void redis_engine::run_read(read_query q, std::function<void(result<channel_window>)> done) {
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
                                int count, std::size_t max_bytes,
                                std::function<void(result<channel_window>)> done) {
  std::vector<std::string> args{"2",     channel_key(ch, "meta"), channel_key(ch, "events"), random_hex(8), command,
                                std::move(from), std::move(to), std::to_string(count), std::to_string(max_bytes)};
  bool descending = command == "XREVRANGE";
  eval(read_script_, std::move(args), [descending, done = std::move(done)](result<redis_value> r) {
    if (!r) return done(r.err());
    if (r->is_error()) return done(reply_error(r->str));
    done(decode_read_reply(*r, descending));
  });
}

void redis_engine::read_records(std::string eng, std::int64_t after, int limit,
                                std::function<void(result<records_page>)> handler) {
  after = std::max<std::int64_t>(after, 0);
  limit = std::clamp(limit, 1, max_records_page);
  auto entered = enter_op([this, eng, after, limit, handler] {
    begin_op();
    // Record n is at index n - 1 of the list: the page and one more, which
    // tells whether there is a next page.
    cmd_.command({"LRANGE", log_key(eng), std::to_string(after), std::to_string(after + limit)},
                 [this, eng, after, limit, handler](result<redis_value> r) {
      handler(decode_records_page(r, eng, after, limit));
      end_op();
    });
  });
  if (!entered) handler(entered.err());
}

void redis_engine::list_engagements_after(std::string after, int limit,
                                          std::function<void(result<engagement_ids_page>)> handler) {
  auto entered = enter_op([this, after = std::move(after), limit, handler] {
    begin_op();
    engagement_index_.page(after, limit, [this, handler](result<engagement_ids_page> page) {
      handler(std::move(page));
      end_op();
    });
  });
  if (!entered) handler(entered.err());
}

void redis_engine::find_by_cid(std::string ch, std::string sender_id, std::string cid,
                               std::function<void(result<std::optional<committed_event>>)> handler) {
  auto entered = enter_op([this, ch, sender_id, cid, handler] {
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
             handler(storage_fault("redis: unexpected reply to the cid lookup"));
           } else {
             const auto& e = r->elements;
             handler(std::optional<committed_event>{stored_commit(ch, e[0].integer, e[1].integer, e[2].str)});
           }
           end_op();
         });
  });
  if (!entered) handler(entered.err());
}

void redis_engine::sealed(std::string ch, std::vector<std::int64_t> seqs,
                          std::function<void(result<sealed_payloads>)> handler) {
  if (seqs.size() > max_sealed_lookup) seqs.resize(max_sealed_lookup);
  if (seqs.empty()) return handler(sealed_payloads{});
  auto entered = enter_op([this, ch = std::move(ch), seqs, handler] {
    begin_op();
    std::vector<std::string> command{"HMGET", channel_key(ch, "sealed")};
    for (auto seq : seqs) command.push_back(std::to_string(seq));
    cmd_.command(command, [this, seqs, handler](result<redis_value> r) {
      if (!r) {
        handler(r.err());
      } else if (r->is_error()) {
        handler(reply_error(r->str));
      } else if (!r->is_array() || r->elements.size() != seqs.size()) {
        handler(storage_fault("redis: unexpected reply to the sealed lookup"));
      } else {
        sealed_payloads out;
        for (std::size_t i = 0; i < seqs.size(); ++i)
          if (r->elements[i].is_string()) out.emplace(seqs[i], r->elements[i].str);
        handler(std::move(out));
      }
      end_op();
    });
  });
  if (!entered) handler(entered.err());
}

void redis_engine::set_read_marker(std::string user_id, std::string ch, std::int64_t seq) {
  // Past the cap a marker is dropped: the next one of the user carries it.
  enter_op([this, user_id = std::move(user_id), ch = std::move(ch), seq] {
    begin_op();
    eval(marker_script_, {"1", channel_key(ch, "read"), user_id, std::to_string(seq)},
         [this](result<redis_value>) { end_op(); });
  });
}

void redis_engine::save_snapshot(std::string eng, std::int64_t revision, std::string text,
                                 std::function<void(result<void>)> done) {
  auto entered = enter_op([this, eng = std::move(eng), revision, text = std::move(text), done]() mutable {
    begin_op();
    eval(save_snapshot_script_, {"1", snapshot_key(eng), std::to_string(revision), std::move(text)}, stored(done));
  });
  if (!entered) done(entered.err());
}

void redis_engine::load_snapshot(std::string eng,
                                 std::function<void(result<std::optional<std::string>>)> handler) {
  auto entered = enter_op([this, eng = std::move(eng), handler] {
    begin_op();
    cmd_.command({"HGET", snapshot_key(eng), "state"}, [this, handler](result<redis_value> r) {
      if (!r) {
        handler(r.err());
      } else if (r->is_error()) {
        handler(reply_error(r->str));
      } else if (r->is_string()) {
        handler(std::optional<std::string>(std::move(r->str)));
      } else {
        handler(std::optional<std::string>());
      }
      end_op();
    });
  });
  if (!entered) handler(entered.err());
}

void redis_engine::read_markers(std::string ch, std::function<void(result<std::vector<read_marker>>)> handler) {
  auto entered = enter_op([this, ch = std::move(ch), handler] {
    begin_op();
    cmd_.command({"HGETALL", channel_key(ch, "read")}, [this, handler](result<redis_value> r) {
      if (!r) {
        handler(r.err());
      } else if (r->is_error()) {
        handler(reply_error(r->str));
      } else {
        handler(decode_read_markers(*r));
      }
      end_op();
    });
  });
  if (!entered) handler(entered.err());
}

// ---- watching ----

void redis_engine::watch(const std::string& ch, std::function<void(result<void>)> ready) {
  enter([this, ch, ready = std::move(ready)]() mutable { watch_.watch(ch, std::move(ready)); });
}

void redis_engine::unwatch(const std::string& ch) {
  enter([this, ch] { watch_.unwatch(ch); });
}

void redis_engine::on_command_state(const redis_node_address& node, bool up) {
  if (stopping_) return;
  log_event(up ? log_level::info : log_level::warn, "redis_link",
            {{"connection", "command"}, {"node", to_string(node)}, {"state", up ? "up" : "down"}});
  auto& st = state_of(node);
  ++st.generation;
  st.durable = false;
  st.durability_problem = "not checked yet";
  if (!up) links_.losses.fetch_add(1);
  update_ready();
  if (!up || !cmd_.connected_to(node)) return;
  durability_checked_ = std::chrono::steady_clock::now();
  check_durability(node);
  watch_.retry_stale();
  // A new connection may be a Redis restarted from its AOF: the global
  // webhook indices are rebuilt from the queues.
  if (options_.webhooks) reindex_webhooks("");
}

// Pages through the engagements, re-adding what their queues hold to the
// global indices; then again after webhook_reindex_interval.
void redis_engine::reindex_webhooks(std::string after) {
  if (stopping_) return;
  if (after.empty()) {
    if (reindexing_) return;
    reindexing_ = true;
  }
  auto again = [this](bool ok) {
    reindexing_ = false;
    if (stopping_) return;
    auto interval = ok ? options_.webhook_reindex_interval : std::min(options_.webhook_reindex_interval,
                                                                      std::chrono::milliseconds(5000));
    reindex_timer_.start(std::max(interval, std::chrono::milliseconds(1)), [this] { reindex_webhooks(""); });
  };
  engagement_index_.page(after, max_engagements_page, [this, again](result<engagement_ids_page> page) {
    if (!page || stopping_) return again(false);
    auto next = page->next;
    outbox_.reindex(std::move(page->ids), [this, again, next](result<void> done) {
      if (!done || stopping_) return again(false);
      if (next) return reindex_webhooks(*next);
      again(true);
    });
  });
}

// Whether Redis keeps what it acknowledges (protocol §6: acknowledged =
// durable): appendonly yes, appendfsync always (everysec may lose the last
// second), maxmemory-policy noeviction (eviction deletes stored events).
// Asked on every new command connection, of each master; a setting that
// cannot be read (CONFIG forbidden by an ACL) counts as wrong. Ready only when
// all hold on every master.
void redis_engine::check_durability(const redis_node_address& node) {
  struct findings {
    std::vector<std::string> problems;
    int left = 3;
  };
  auto f = std::make_shared<findings>();
  const std::uint64_t generation = state_of(node).generation;
  static const std::pair<const char*, const char*> wanted[] = {
      {"appendonly", "yes"}, {"appendfsync", "always"}, {"maxmemory-policy", "noeviction"}};
  for (const auto& [param, want] : wanted) {
    cmd_.command_to(node, {"CONFIG", "GET", param}, [this, f, node, generation, param = std::string(param),
                                                     want = std::string(want)](result<redis_value> r) {
      auto& st = state_of(node);
      if (stopping_ || generation != st.generation) return;
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
      st.durable = f->problems.empty();
      std::string reason;
      for (const auto& p : f->problems) reason += (reason.empty() ? "" : "; ") + p;
      // Said once per connection, and again only when the answer changes.
      if (reason != st.durability_problem) {
        if (!st.durable)
          log_event(options_.require_durable ? log_level::error : log_level::warn, "redis_not_durable",
                    {{"node", to_string(node)}, {"reason", reason}, {"ready", options_.require_durable ? "no" : "yes"}});
        else
          log_event(log_level::info, "redis_durable", {{"node", to_string(node)}});
      }
      st.durability_problem = reason;
      update_ready();
    });
  }
}

// Ready (readyz) when every master's connections are up (joins need the
// subscriptions too) and each is configured so that it cannot lose what it
// acknowledged.
void redis_engine::update_ready() {
  durable_ = cmd_.map() != nullptr;
  if (const auto* map = cmd_.map())
    for (const auto& m : map->masters()) durable_ = durable_ && state_of(m).durable;
  ready_.store(cmd_.connected() && sub_.connected() && (durable_ || !options_.require_durable));
  publish_links();
}

// A new map: subscribe connections follow the masters. When slots changed
// hands, every channel is subscribed again where it lives now (each
// confirmation reads what was missed meanwhile).
void redis_engine::on_map(bool changed) {
  if (stopping_) return;
  sub_.update();
  if (changed) {
    for (const auto& node : sub_.nodes()) subscribe_engine_channels(node);
    watch_.subscribe_all();
  }
  update_ready();
}

// A new subscribe connection knows no channel: subscribe again those it
// carries. Each confirmation reads what was missed meanwhile (catch_up).
void redis_engine::on_subscribe_state(const redis_node_address& node, bool up) {
  if (!stopping_)
    log_event(up ? log_level::info : log_level::warn, "redis_link",
              {{"connection", "subscribe"}, {"node", to_string(node)}, {"state", up ? "up" : "down"}});
  auto& st = state_of(node);
  st.probe_subscribed = false;
  st.probe_pending = false;
  if (!stopping_ && !up) links_.losses.fetch_add(1);
  if (!stopping_) update_ready();
  if (stopping_ || !up) return;
  subscribe_engine_channels(node);
  watch_.subscribe_all(&node);
}

// The engine's own channels a node's subscribe connection carries: the probe
// of that connection, and the user changes when they hash to it.
void redis_engine::subscribe_engine_channels(const redis_node_address& node) {
  auto& st = state_of(node);
  st.probe_channel = probe_channel_for(node);
  st.probe_subscribed = false;
  st.probe_pending = false;
  if (!st.probe_channel.empty()) sub_.subscribe(st.probe_channel);
  if (sub_.node_of(std::string(user_changes_channel)) == node) sub_.subscribe(std::string(user_changes_channel));
}

std::string redis_engine::probe_channel_for(const redis_node_address& node) const {
  // A few tries find a slot of any master: each serves a share of the 16384.
  for (int tag = 0; tag < 100000; ++tag) {
    auto ch = probe_channel_ + ":{" + std::to_string(tag) + "}";
    if (cmd_.master_of(ch) == node) return ch;
  }
  return "";
}

// Replies of the subscribe connection: ["subscribe", channel, count] and
// ["message", channel, payload].
void redis_engine::on_push(const redis_value& v) {
  if (stopping_ || !v.is_array() || v.elements.size() < 3) return;
  const std::string_view type = unsharded_push_kind(v.elements[0].str);
  const std::string& pub = v.elements[1].str;
  if (pub.starts_with(probe_channel_)) {
    for (auto& [name, st] : nodes_) {
      if (st.probe_channel != pub) continue;
      if (type == "subscribe") st.probe_subscribed = true;
      if (type == "message" && v.elements[2].str == std::to_string(st.probe_token)) st.probe_pending = false;
    }
    return;
  }
  if (pub == user_changes_channel) {
    // "<instance> <user id>" from another instance; ours went to the sink at once.
    if (type != "message" || !user_sink_) return;
    const std::string& payload = v.elements[2].str;
    auto space = payload.find(' ');
    if (space == std::string::npos || payload.compare(0, space, probe_channel_) == 0) return;
    auto user_id = payload.substr(space + 1);
    if (user_id.empty() || user_id.size() > 256) return;
    return user_sink_(user_id);
  }
  const std::string* watched = watch_.channel_of(pub);
  if (!watched) return;
  std::string ch = *watched;
  if (type == "unsubscribe") {
    // Not asked for: its slot moved to another master (a cluster's resharding).
    cmd_.refresh();
  } else if (type == "subscribe") {
    watch_.on_subscribed(ch);
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
    p->event = std::make_shared<const event>(std::move(*ev));
    watch_.on_message(ch, std::move(*p));
  }
}

// ---- files (protocol §9.6) ----

namespace {
std::string file_entry_json(const file_entry& f) {
  boost::json::object o{{"name", f.name},
                        {"size", static_cast<std::int64_t>(f.size)},
                        {"type", f.type},
                        {"by", f.by},
                        {"ts", f.ts}};
  return boost::json::serialize(o);
}

std::optional<file_entry> file_entry_of(std::string sha256, std::string_view json) {
  boost::system::error_code ec;
  auto v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.get_object();
  auto text = [&](std::string_view k) -> std::string {
    const auto* f = o.if_contains(k);
    return f && f->is_string() ? std::string(f->get_string()) : std::string();
  };
  auto number = [&](std::string_view k) -> std::int64_t {
    const auto* f = o.if_contains(k);
    return f && f->is_int64() ? f->get_int64() : 0;
  };
  return file_entry{std::move(sha256), text("name"), static_cast<std::uint64_t>(number("size")), text("type"),
                    text("by"), number("ts")};
}
}  // namespace

// ---- the webhook outbox (redis_outbox.hpp) ----

template <class T>
void redis_engine::outbox_op(std::function<void(std::function<void(result<T>)>)> fn,
                             std::function<void(result<T>)> handler) {
  auto entered = enter_op([this, fn = std::move(fn), handler] {
    begin_op();
    fn([this, handler](result<T> out) {
      handler(std::move(out));
      end_op();
    });
  });
  if (!entered) handler(entered.err());
}

// Stored only when webhooks are on: without a sender nothing would take them out.
void redis_engine::enqueue_webhooks(std::vector<webhook_entry> entries, std::function<void(result<void>)> done) {
  if (!options_.webhooks || entries.empty()) return done({});
  auto shared = std::make_shared<std::vector<webhook_entry>>(std::move(entries));
  outbox_op<void>([this, shared](auto answer) { outbox_.enqueue(std::move(*shared), std::move(answer)); },
                  std::move(done));
}

void redis_engine::claim_webhooks(std::string owner, std::int64_t now, std::int64_t lease_ms, int limit,
                                  std::function<void(result<std::vector<webhook_entry>>)> handler) {
  outbox_op<std::vector<webhook_entry>>(
      [this, owner = std::move(owner), now, lease_ms, limit](auto answer) {
        outbox_.claim(owner, now, lease_ms, limit, std::move(answer));
      },
      std::move(handler));
}

void redis_engine::finish_webhook(std::string owner, std::string eng, std::string id, webhook_outcome outcome,
                                  std::function<void(result<void>)> done) {
  outbox_op<void>(
      [this, owner = std::move(owner), eng = std::move(eng), id = std::move(id), outcome](auto answer) {
        outbox_.finish(owner, eng, id, outcome, std::move(answer));
      },
      std::move(done));
}

void redis_engine::list_webhooks(webhook_state state, std::string after, int limit,
                                 std::function<void(result<webhook_page>)> handler) {
  outbox_op<webhook_page>(
      [this, state, after = std::move(after), limit](auto answer) {
        outbox_.list(state, after, limit, std::move(answer));
      },
      std::move(handler));
}

void redis_engine::retry_webhook(std::string id, std::int64_t now, std::function<void(result<webhook_entry>)> handler) {
  outbox_op<webhook_entry>([this, id = std::move(id), now](auto answer) { outbox_.retry(id, now, std::move(answer)); },
                           std::move(handler));
}

void redis_engine::webhook_stats(std::function<void(result<webhook_queue_stats>)> handler) {
  outbox_op<webhook_queue_stats>([this](auto answer) { outbox_.stats(std::move(answer)); }, std::move(handler));
}

void redis_engine::add_file(std::string eng, file_entry f, std::uint64_t max_total,
                            std::function<void(result<file_added>)> done) {
  auto entered = enter_op([this, eng = std::move(eng), f = std::move(f), max_total, done] {
    begin_op();
    if (options_.require_durable && !durable_) {
      done(storage_unavailable("Redis is unreachable or not configured to keep acknowledged data"));
      return end_op();
    }
    eval(add_file_script_,
         {"1", files_key(eng), f.sha256, file_entry_json(f), std::to_string(f.size), std::to_string(max_total)},
         [this, f, max_total, done](result<redis_value> r) {
           if (!r) {
             done(r.err());
           } else if (r->is_error()) {
             done(reply_error(r->str));
           } else if (!r->is_array() || r->elements.size() != 3) {
             done(storage_fault("unexpected reply to the file script"));
           } else {
             const auto& e = r->elements;
             auto total = static_cast<std::uint64_t>(decimal_int64(e[2].str).value_or(0));
             if (e[0].integer == 2) {
               done(make_error(errc::too_large,
                               "the engagement's files would exceed " + std::to_string(max_total) + " bytes"));
             } else if (auto entry = file_entry_of(f.sha256, e[1].str)) {
               done(file_added{e[0].integer == 1, std::move(*entry), total});
             } else {
               done(storage_fault("malformed file entry in Redis"));
             }
           }
           end_op();
         });
  });
  if (!entered) done(entered.err());
}

// One HMGET for the hashes and the total: one key, one slot.
void redis_engine::find_files(std::string eng, std::vector<std::string> hashes,
                              std::function<void(result<file_lookup>)> handler) {
  if (hashes.size() > max_file_lookup) hashes.resize(max_file_lookup);
  auto entered = enter_op([this, eng = std::move(eng), hashes = std::move(hashes), handler] {
    begin_op();
    std::vector<std::string> command{"HMGET", files_key(eng), "total"};
    for (const auto& h : hashes) command.push_back("f:" + h);
    cmd_.command(command, [this, hashes, handler](result<redis_value> r) {
      if (!r) {
        handler(r.err());
      } else if (r->is_error()) {
        handler(reply_error(r->str));
      } else if (!r->is_array() || r->elements.size() != hashes.size() + 1) {
        handler(storage_fault("unexpected reply to a file lookup"));
      } else {
        file_lookup out;
        out.total = static_cast<std::uint64_t>(decimal_int64(r->elements[0].str).value_or(0));
        for (std::size_t i = 0; i < hashes.size(); ++i) {
          const auto& v = r->elements[i + 1];
          if (!v.is_string()) continue;
          if (auto entry = file_entry_of(hashes[i], v.str)) out.found.push_back(std::move(*entry));
        }
        handler(std::move(out));
      }
      end_op();
    });
  });
  if (!entered) handler(entered.err());
}

// ---- users (protocol §9.3) ----

void redis_engine::set_availability(std::string user_id, std::string availability, std::int64_t set_at,
                                    std::function<void(result<void>)> done) {
  auto entered = enter_op([this, user_id = std::move(user_id), availability = std::move(availability), set_at, done] {
    begin_op();
    auto at = std::to_string(set_at);
    cmd_.command({"HSET", user_key(user_id), "availability", availability, "set_at", at, "last_seen", at},
                 stored(done));
  });
  if (!entered) done(entered.err());
}

// ---- the due index ----

void redis_engine::set_due(std::string key, std::optional<std::int64_t> due) {
  // Unacknowledged (engine::set_due): dropped past the cap like a read marker.
  enter_op([this, key = std::move(key), due] {
    begin_op();
    auto partition = due_key(due_partition_of(key));
    std::vector<std::string> command = due ? std::vector<std::string>{"ZADD", partition, std::to_string(*due), key}
                                           : std::vector<std::string>{"ZREM", partition, key};
    cmd_.command(std::move(command), [this](result<redis_value>) { end_op(); });
  });
}

// The partitions one after the other until `limit` keys are claimed: a claim
// moves what it takes, so it must not take more than it hands out.
struct redis_engine::due_claim {
  std::int64_t now = 0;
  std::int64_t lease_until = 0;
  int limit = 0;
  int first = 0;  // the partition it starts with: each gets its turn first
  int next = 0;   // partitions asked so far
  std::vector<std::string> keys;
  std::function<void(result<std::vector<std::string>>)> handler;
};

void redis_engine::claim_due(std::int64_t now, std::int64_t lease_ms, int limit,
                             std::function<void(result<std::vector<std::string>>)> handler) {
  auto c = std::make_shared<due_claim>();
  c->now = now;
  c->lease_until = now + std::max<std::int64_t>(lease_ms, 1);
  c->limit = std::clamp(limit, 1, max_due_claim);
  c->handler = handler;
  auto entered = enter_op([this, c] {
    begin_op();
    c->first = due_cursor_;
    due_cursor_ = (due_cursor_ + 1) % due_partitions;
    claim_next(c);
  });
  if (!entered) handler(entered.err());
}

void redis_engine::claim_next(std::shared_ptr<due_claim> c) {
  if (c->next == due_partitions || static_cast<int>(c->keys.size()) >= c->limit) {
    c->handler(std::move(c->keys));
    return end_op();
  }
  int partition = (c->first + c->next++) % due_partitions;
  eval(claim_due_script_,
       {"1", due_key(partition), std::to_string(c->now), std::to_string(c->lease_until),
        std::to_string(c->limit - static_cast<int>(c->keys.size()))},
       [this, c](result<redis_value> r) {
         if (!r || r->is_error()) {
           c->handler(r ? result<std::vector<std::string>>(reply_error(r->str)) : r.err());
           return end_op();
         }
         for (const auto& k : r->elements) c->keys.push_back(k.str);
         claim_next(c);
       });
}

void redis_engine::due_index_complete(std::function<void(result<bool>)> handler) {
  auto entered = enter_op([this, handler] {
    begin_op();
    cmd_.command({"EXISTS", std::string(due_complete_key)}, [this, handler](result<redis_value> r) {
      if (!r) handler(r.err());
      else if (r->is_error()) handler(reply_error(r->str));
      else handler(r->integer == 1);
      end_op();
    });
  });
  if (!entered) handler(entered.err());
}

void redis_engine::mark_due_index_complete(std::function<void(result<void>)> done) {
  auto entered = enter_op([this, done] {
    begin_op();
    cmd_.command({"SET", std::string(due_complete_key), "1"}, stored(done));
  });
  if (!entered) done(entered.err());
}

void redis_engine::set_last_seen(std::string user_id, std::int64_t at) {
  // Advisory, like a read marker: dropped past the cap.
  enter_op([this, user_id = std::move(user_id), at] {
    begin_op();
    cmd_.command({"HSET", user_key(user_id), "last_seen", std::to_string(at)}, [this](result<redis_value>) { end_op(); });
  });
}

// One HMGET per user, sent together (the connection pipelines them); the
// answer waits for the last reply.
void redis_engine::user_records(std::vector<std::string> user_ids,
                                std::function<void(result<std::vector<user_record>>)> handler) {
  if (user_ids.size() > max_user_lookup) user_ids.resize(max_user_lookup);
  auto entered = enter_op([this, user_ids = std::move(user_ids), handler] {
    begin_op();
    if (user_ids.empty()) {
      handler(std::vector<user_record>{});
      return end_op();
    }
    struct gather {
      std::vector<user_record> found;
      std::optional<error> failed;
      std::size_t waiting = 0;
    };
    auto g = std::make_shared<gather>();
    g->waiting = user_ids.size();
    for (const auto& id : user_ids) {
      cmd_.command({"HMGET", user_key(id), "availability", "set_at", "last_seen"},
                   [this, g, id, handler](result<redis_value> r) {
                     if (!r) {
                       g->failed = r.err();
                     } else if (r->is_error()) {
                       g->failed = reply_error(r->str);
                     } else if (r->is_array() && r->elements.size() == 3) {
                       const auto& e = r->elements;
                       auto number = [](const redis_value& v) { return decimal_int64(v.str).value_or(0); };
                       if (!e[1].str.empty() || !e[2].str.empty())
                         g->found.push_back({id, e[0].str, number(e[1]), number(e[2])});
                     }
                     if (--g->waiting > 0) return;
                     if (g->failed) {
                       handler(*g->failed);
                     } else {
                       handler(std::move(g->found));
                     }
                     end_op();
                   });
    }
  });
  if (!entered) handler(entered.err());
}

void redis_engine::publish_user_change(const std::string& user_id) {
  if (user_sink_) user_sink_(user_id);
  enter([this, user_id] {
    if (!cmd_.connected()) return;
    cmd_.command({sub_.publish_command(), std::string(user_changes_channel), probe_channel_ + " " + user_id},
                 [](result<redis_value>) {});
  });
}

// ---- presence and ephemeral pushes ----

void redis_engine::presence_update(const std::string& ch, const user& who, bool present) {
  enter([this, ch, who, present] { presence_.update(ch, who, present); });
}

void redis_engine::presence_members(const std::string& ch, std::function<void(result<std::vector<user>>)> handler) {
  if (!enter([this, ch, handler] { presence_.members(ch, handler); })) handler(storage_stopping());
}

void redis_engine::publish_ephemeral(const std::string& ch, std::shared_ptr<const std::string> frame) {
  enter([this, ch, frame] {
    // Ephemeral: dropped while Redis is away, or so slow that commands pile up.
    if (!cmd_.connected() || cmd_.in_flight() >= options_.max_in_flight) return;
    cmd_.command({sub_.publish_command(), channel_key(ch, "pub"),
                  std::string(ephemeral_prefix) + probe_channel_ + " " + *frame},
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
  for (const auto& node : sub_.nodes()) probe(node, now);
  if (cmd_.connected()) watch_.retry_stale();
  // Settings can change while connected (CONFIG SET): asked again now and then.
  if (const auto* map = cmd_.map(); map && now - durability_checked_ >= options_.durability_recheck) {
    durability_checked_ = now;
    for (const auto& m : map->masters())
      if (cmd_.connected_to(m)) check_durability(m);
  }
  presence_.tick(now);
  probe_timer_.start(options_.probe_interval, [this] { probe_tick(); });
}

void redis_engine::probe(const redis_node_address& node, std::chrono::steady_clock::time_point now) {
  auto& st = state_of(node);
  if (st.probe_pending && now - st.probe_sent > options_.command_timeout) {
    st.probe_pending = false;
    sub_.drop(node, "the liveness probe did not come back");
  } else if (!st.probe_pending && st.probe_subscribed && sub_.connected_for(st.probe_channel) &&
             cmd_.connected_to(node)) {
    st.probe_pending = true;
    st.probe_sent = now;
    std::uint64_t token = ++st.probe_token;
    cmd_.command({sub_.publish_command(), st.probe_channel, std::to_string(token)},
                 [this, node, token](result<redis_value> r) {
                   if (stopping_ || !r || r->type != redis_value::kind::integer) return;
                   // Nobody received it: Redis no longer counts our subscribe connection.
                   auto& st = state_of(node);
                   if (r->integer == 0 && st.probe_pending && st.probe_token == token) {
                     st.probe_pending = false;
                     sub_.drop(node, "the liveness probe reached no subscriber");
                   }
                 });
  }
}

}  // namespace

std::unique_ptr<engine> make_redis_engine(const redis_engine_options& options) {
  auto seeds = parse_redis_urls(options.url);
  if (!seeds) throw std::runtime_error(seeds.err().message);
  auto topology = options.cluster || seeds->size() > 1 ? redis_topology::cluster : redis_topology::single;
  return std::make_unique<redis_engine>(options, std::move(*seeds), topology);
}

}  // namespace parley
