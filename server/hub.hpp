#pragma once
// The hub: authorises, applies the protocol's rules, asks the engine to
// append, and fans committed events out to the worker threads (DESIGN §1, §4).
#include "protocol/channel.hpp"
#include "protocol/result.hpp"
#include "protocol/token.hpp"
#include "server/channel_registry.hpp"
#include "server/config.hpp"
#include "server/connection_limits.hpp"
#include "server/engagements.hpp"
#include "server/metrics.hpp"
#include "server/presence.hpp"
#include "server/revocations.hpp"
#include "server/static_files.hpp"
#include "server/read_markers.hpp"
#include "server/user_limits.hpp"
#include "storage/engine.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace parley {

class ws_session;

struct post_ack {
  std::int64_t seq = 0;
  std::int64_t ts = 0;
  bool duplicate = false;
};

// One worker thread's share of the server: its io_context and the sessions it
// runs, by channel. Only that thread touches `registry`.
struct worker {
  std::size_t index = 0;
  boost::asio::io_context ioc{1};
  channel_registry<std::weak_ptr<ws_session>> registry;
  std::unordered_map<const void*, std::weak_ptr<ws_session>> sessions;  // for the drain at shutdown
};

class hub {
 public:
  hub(const config& cfg, engine& storage, std::size_t workers);

  const config& cfg() const { return cfg_; }
  engine& storage() { return storage_; }
  parley::metrics& stats() { return metrics_; }
  parley::presence& presence() { return presence_; }
  parley::engagements& engagements() { return engagements_; }
  user_limits& rates() { return rates_; }
  parley::read_markers& read_markers() { return read_markers_; }
  std::vector<std::unique_ptr<worker>>& workers() { return workers_; }
  connection_limits& limits() { return limits_; }
  parley::revocations& revocations() { return revocations_; }
  const web_assets& assets() const { return assets_; }
  // The worker for the next connection (round robin).
  worker& next_worker();

  // Verifies a token against the configured secret, audience, issuer and
  // lifetime, the current time and the user's revocations.
  result<claims> authenticate(std::string_view token) const;

  // The one posting path of the WebSocket and HTTP APIs: authorises, validates,
  // appends. `done` runs on a storage thread after the commit (or at once on a refusal).
  void post(const claims& who, const std::string& ch, const std::string& kind, const boost::json::object& body,
            const std::string& cid, std::function<void(result<post_ack>)> done);

  // The §4 state of the engagement of channel `ch` (null for `support`), after
  // authorising the reader; opens the engagement on first use. A mediation
  // channel that no dispute has opened is `not_found`. `done` may run on a storage thread.
  void state_of(const claims& who, const std::string& ch, std::function<void(result<boost::json::value>)> done);

  // Reads a channel window after authorising the reader. A reader that cannot
  // open engagements (support, service) gets `not_found` for an engagement
  // channel that holds nothing. `done` runs on a storage thread.
  void read(const claims& who, read_query q, std::function<void(read_outcome)> done);

  // Records that `user_id`'s tokens issued until now are refused (every
  // instance closes that user's connections holding one).
  void revoke(const std::string& user_id, std::function<void(result<revocation>)> done);
  // Reads the revocations that can still refuse a token and watches for new
  // ones; tokens are accepted once that is done. Asynchronous, retried until it succeeds.
  void load_revocations();
  // A page of engagement `eng`'s decision log (after, limit as engine::read_records),
  // after authorising the reader; `not_found` as for read. `done` runs on a storage thread.
  void read_records(const claims& who, const std::string& eng, std::int64_t after, int limit,
                    std::function<void(records_outcome)> done);

  // Interest of this instance in a channel's live events, counted: the engine
  // watches it from the first interest to the last. `ready` as engine::watch.
  void watch(const std::string& ch, std::function<void(std::optional<error>)> ready);
  void unwatch(const std::string& ch);

  // A user's first connection on this instance joined `ch` / its last one left:
  // recorded for every instance, and pushed to the members (except `except`).
  // A left is pushed only when the user is not present through another instance.
  void member_joined(const std::string& ch, const user& who, const void* except);
  void member_left(const std::string& ch, const user& who, const void* except);

  // Pushes an ephemeral frame (presence, typing, read) to every member of `ch`
  // on every instance, except the session at `except`.
  void broadcast(const std::string& ch, std::shared_ptr<const std::string> frame, const void* except);

 private:
  void on_committed(const committed_event& ev);
  void on_revoked(const committed_event& ev);
  void read_revocations_before(std::optional<std::int64_t> before);
  void retry_revocations(const error& e);
  void broadcast_local(const std::string& ch, std::shared_ptr<const std::string> frame, const void* except);
  void check_and_append(engagements::snapshot state, const error* err, const claims& who, post_request request,
                        bool guard, int retries_left, std::function<void()> finished,
                        std::function<void(result<post_ack>)> done);
  void complete(append_outcome out, const std::string& kind, const std::function<void(result<post_ack>)>& done);

  const config& cfg_;
  engine& storage_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::atomic<std::size_t> next_worker_{0};
  parley::presence presence_;
  std::mutex watch_mutex_;
  std::unordered_map<std::string, int> watchers_;
  parley::engagements engagements_;
  parley::metrics metrics_;
  connection_limits limits_;
  parley::revocations revocations_;
  web_assets assets_;
  user_limits rates_;
  parley::read_markers read_markers_;
};

// The per-user rates of `cfg` (protocol §9.10).
user_limit_rates rates_of(const config& cfg);

std::int64_t now_ms();

}  // namespace parley
