#pragma once
// The hub: the one front door of the server's operations. It authorises,
// applies the protocol's rules, asks the engine to append or read, and hands
// committed events to the fan-out (DESIGN §1, §4). Sessions and the HTTP API
// call its operations; none of them reaches the engine.
#include "protocol/channel.hpp"
#include "protocol/result.hpp"
#include "protocol/token.hpp"
#include "server/availability_book.hpp"
#include "server/blob_store.hpp"
#include "server/config.hpp"
#include "server/connection_limits.hpp"
#include "protocol/engagement.hpp"
#include "server/engagements.hpp"
#include "server/fanout.hpp"
#include "server/member.hpp"
#include "server/membership.hpp"
#include "server/metrics.hpp"
#include "server/read_markers.hpp"
#include "server/revocations.hpp"
#include "server/static_files.hpp"
#include "server/user_limits.hpp"
#include "storage/engine.hpp"

#include <boost/json/object.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace parley {

struct post_ack {
  std::int64_t seq = 0;
  std::int64_t ts = 0;
  bool duplicate = false;
};

class sla_watcher;
class due_claims;
class digest_watcher;
user_limit_rates upload_rates_of(const config& cfg);

class hub {
 public:
  hub(const config& cfg, engine& storage, std::size_t workers);
  ~hub();

  const config& cfg() const { return cfg_; }
  parley::metrics& stats() { return metrics_; }
  user_limits& rates() { return rates_; }
  connection_limits& limits() { return limits_; }
  const web_assets& assets() const { return assets_; }
  // The worker threads, for main to run them (and to run its timers on the first).
  std::vector<std::unique_ptr<worker>>& workers() { return fanout_.workers(); }
  // The worker for the next connection (round robin).
  worker& next_worker() { return fanout_.next_worker(); }
  // The service-level watcher (protocol §9.3, §9.4) follows the engagements'
  // states on the first worker; stopped before the workers are.
  void start_service_levels();
  void stop_service_levels();

  // Whether the engine is up (/readyz), and the Prometheus text of /metrics.
  bool ready() const { return storage_.ready(); }
  std::string render_metrics() { return metrics_.render(storage_.stats(), engagements_.loaded_by_phase(), engagements_.loads()); }

  // Verifies a token against the configured secret, audience, issuer and
  // lifetime, the current time and the user's revocations.
  result<claims> authenticate(std::string_view token) const;
  // Whether the revocations are read (tokens are refused until then).
  bool revocations_loaded() const { return revocations_.loaded(); }

  // The one posting path of the WebSocket and HTTP APIs: authorises, validates,
  // appends. `done` runs on a storage thread after the commit (or at once on a refusal).
  void post(const claims& who, const std::string& ch, const std::string& kind, const boost::json::object& body,
            const std::string& cid, std::function<void(result<post_ack>)> done);

  // The §4 state of the engagement of channel `ch` as `who` sees it (null for
  // `support`), after authorising the reader; opens the engagement on first
  // use. A mediation channel that no dispute has opened is `not_found`. `done`
  // may run on a storage thread.
  void state_of(const claims& who, const std::string& ch, std::function<void(result<boost::json::value>)> done);

  // GET /api/v1/engagements/<id>/reviews (protocol §9.7): {reviews, revealed,
  // due} as `who` sees them (reviews_for_reader), after authorising the reader
  // as for state_of. `done` may run on a storage thread.
  void reviews_of(const claims& who, const std::string& eng, std::function<void(result<boost::json::object>)> done);

  // Protocol §9.1: creates engagement `eng` from the body of a PUT (service
  // tokens only). `created` is false when the same invitation was stored
  // before (the PUT is repeated); another invitation or a first use of the
  // id is `conflict`. `done` runs on a storage thread.
  struct creation {
    boost::json::value state;
    bool created = false;
  };
  void create_engagement(const claims& who, const std::string& eng, std::string_view body,
                         std::function<void(result<creation>)> done);

  // Reads a channel window after authorising the reader. A reader that cannot
  // open engagements (support, service) gets `not_found` for an engagement
  // channel that holds nothing. `done` runs on a storage thread.
  void read(const claims& who, read_query q, std::function<void(result<channel_window>)> done);

  // A page of engagement `eng`'s decision log (after, limit as engine::read_records),
  // after authorising the reader; `not_found` as for read. `done` runs on a storage thread.
  void decisions(const claims& who, const std::string& eng, std::int64_t after, int limit,
                 std::function<void(result<records_page>)> done);

  // A page of engagement ids (engine::list_engagements_after) for support and
  // service readers (protocol §9.1); anyone else is `forbidden`. `done` may
  // run on a storage thread.
  void list_engagements(const claims& who, std::string after, int limit,
                        std::function<void(result<engagement_ids_page>)> done);

  // Records that `user_id`'s tokens issued until now are refused (every
  // instance closes that user's connections holding one).
  void revoke(const std::string& user_id, std::function<void(result<revocation>)> done);
  // Reads the revocations that can still refuse a token and watches for new
  // ones; tokens are accepted once that is done. Asynchronous, retried until it succeeds.
  void load_revocations();

  // On `w`'s thread: member `m` of user `who` joins / leaves `ch` (see
  // membership). `ready` runs on a storage thread once a read of `ch` misses
  // no live event.
  void join(worker& w, const std::string& ch, const std::shared_ptr<member>& m, const user& who,
            std::function<void(result<void>)> ready);
  void leave(worker& w, const std::string& ch, const member& m, const user& who);
  // The users present on `ch` on every instance. `done` runs on a storage thread.
  void present(const std::string& ch, std::function<void(result<std::vector<user>>)> done);

  // `who` has read `ch` up to `seq`: stored with the next batch, and pushed to
  // the channel's members (except `except`) when it moved forward.
  result<void> mark_read(const claims& who, const std::string& ch, std::int64_t seq, const member* except);
  // Stores the read markers gathered since the last flush.
  void flush_read_markers() { read_markers_.flush(); }
  // The read markers of `ch` for a join (the caller has checked the reader
  // may read it): stored ones with those not yet written. `done` runs on a storage thread.
  void read_markers_of(const std::string& ch, std::function<void(result<std::vector<read_marker>>)> done);

  // Protocol §9.3 (hub_availability.cpp). Sets `who`'s availability from a
  // request body (service tokens: forbidden), stored before `done` runs (on
  // a storage thread) with {availability, set_at, last_seen}; every instance
  // then pushes it to the members of the channels the user has joined.
  void set_availability(const claims& who, const boost::json::object& body,
                        std::function<void(result<boost::json::object>)> done);
  // {availability, set_at, last_seen} of `who` as stored (nulls when never set).
  void availability_of(const claims& who, std::function<void(result<boost::json::object>)> done);
  // Reads the availability of those of `user_ids` not known here (at most
  // max_user_lookup); `done` runs, possibly on a storage thread, when they
  // are known or the read failed (they are then shown as unknown).
  void learn_availability(std::vector<std::string> user_ids, std::function<void()> done);
  // A presence entry of `who` (present: last_seen is now), and the entry of
  // a reader who is not present (`absent` in a join reply).
  boost::json::object presence_entry(const user& who, bool present) const;
  boost::json::object absent_entry(const std::string& user_id) const;
  // A WebSocket connection of `user_id` said hello / closed: when the last
  // one on this instance closes, the user's last_seen is stored.
  void user_connected(const std::string& user_id);
  void user_disconnected(const std::string& user_id);

  // Protocol §9.6 (hub_files.cpp). The file store, set once by main before serving.
  void use_files(std::shared_ptr<blob_store> store) { files_ = std::move(store); }
  blob_store& files() { return *files_; }
  // Uploads per user (--upload-rate, --upload-burst), apart from the HTTP bucket.
  bool take_upload(const std::string& user_id, std::int64_t* retry_after_ms);
  // May `who` upload to engagement `eng` (as for posting a message in
  // eng:<id>) / download from it (as for reading eng:<id>)?
  result<void> may_upload(const claims& who, const std::string& eng) const;
  result<void> may_download(const claims& who, const std::string& eng) const;
  // The bytes of engagement `eng`'s files, before an upload by `who`. A user
  // who cannot open engagements (support) gets `not_found` for an engagement
  // that does not exist, as for reading it.
  void files_total(const claims& who, const std::string& eng, std::function<void(result<std::uint64_t>)> done);
  // The engine's index of an engagement's files (engine::find_files, engine::add_file).
  void find_files(const std::string& eng, std::vector<std::string> hashes,
                  std::function<void(result<file_lookup>)> done);
  void add_file(const std::string& eng, file_entry f, std::function<void(result<file_added>)> done);

  // Pushes an ephemeral frame (presence, typing, read) to every member of `ch`
  // on every instance, except `except`.
  void broadcast(const std::string& ch, std::shared_ptr<const std::string> frame, const member* except);

  // Server going away: every connection flushes what is queued and closes.
  void close_all_members();

  // The webhook outbox (protocol §9.8), for its routes.
  webhook_outbox& webhooks() { return storage_; }
  // Called after every commit this instance sees (cheap: the webhook sender's
  // wake-up, as the commit may have stored hooks). Set once, before serving.
  void on_commit(std::function<void()> poke) { commit_poke_ = std::move(poke); }

 private:
  struct post_attempt;
  void on_committed(const committed_event& ev);
  void on_user_changed(const std::string& user_id);
  // owed_reply.due in a state read or push (protocol §9.3), from the availability known here.
  std::optional<std::int64_t> owed_reply_due(const engagement_state& s) const;
  boost::json::object state_for(const engagement_state& s, const claims& reader) const;
  void on_revoked(const committed_event& ev);
  void check_engagement_exists(const std::string& eng, std::function<void(result<void>)> done);
  void read_revocations_before(std::optional<std::int64_t> before);
  void retry_revocations(const error& e);
  // The state push that follows `applied` (protocol §9.9), if any.
  std::optional<state_push> state_push_after(const engagements::applied_event& applied) const;
  // post() once the body is valid and its attached files resolved.
  void post_valid(const claims& who, const channel& ch, const std::string& kind, boost::json::object body,
                  const std::string& cid, std::function<void(result<post_ack>)> done);
  // Replaces the body's `files` entries with the engagement's index entries (hub_files.cpp).
  void resolve_attachments(const std::string& eng, boost::json::object body,
                           std::function<void(result<boost::json::object>)> done);
  void check_and_append(result<engagements::snapshot> state, std::shared_ptr<post_attempt> attempt);
  void check_again(std::shared_ptr<post_attempt> attempt);
  void append_checked(std::shared_ptr<post_attempt> attempt, const engagement_state& state, plan pl);
  void complete(result<appended> out, const std::string& kind, const std::function<void(result<post_ack>)>& done);

  const config& cfg_;
  engine& storage_;
  fanout fanout_;
  membership membership_;
  parley::engagements engagements_;
  parley::metrics metrics_;
  connection_limits limits_;
  parley::revocations revocations_;
  web_assets assets_;
  user_limits rates_;
  parley::read_markers read_markers_;
  availability_book availability_;
  std::shared_ptr<blob_store> files_;
  user_limits upload_rates_{upload_rates_of(cfg_)};
  std::function<void()> commit_poke_;
  // Last: it holds the book and the first worker, so it goes first.
  std::unique_ptr<due_claims> due_claims_;  // before the watchers, which mirror their dues through it
  std::unique_ptr<sla_watcher> service_levels_;
  // Offline digests (protocol §9.8), only with webhooks on; goes before the book too.
  std::unique_ptr<digest_watcher> digests_;
};

// The per-user rates of `cfg` (protocol §9.10).
user_limit_rates rates_of(const config& cfg);
// The per-user upload rate of `cfg` (protocol §9.6), in every class's slot.
user_limit_rates upload_rates_of(const config& cfg);

}  // namespace parley
