#pragma once
// Offline digests (protocol §9.8 `notify.digest`, protocol/digests.hpp): the
// webhook that tells the platform a party has had unread events for a while
// and is not connected. Runs only when webhooks are configured.
//
// Scheduling: an engagement is looked at `after` its latest event (the hook
// of the engagements book), and then when the rule says a party may become
// due (the end of the hourly window, or later while a party is present); an
// idle engagement costs nothing, and one timer waits for the earliest look,
// mirrored to the shared due index (due_claims.hpp) like the service levels'.
// A read needs no wake: it can only make a scheduled look find nothing.
// At most max_looks looks run at once (the others wait in line), so that many
// engagements due together (all of them `after` a restart) hold only a few
// channel tails in memory.
//
// Several instances may find the same digest due: its id is derived from the
// stretch it covers (digest_id), so the outbox stores it once.
//
// The last digest per party survives restarts: its time and the head it
// covered are kept in the read-marker store under the channel name
// "digest:eng:<id>" (users "at:<user>" and "through:<user>"), a name no
// client can join or mark (it is no channel, parse_channel refuses it).
// Should that write be lost in a crash, the next look finds the same stretch
// and makes the same id: the outbox still holds the digest once.
#include "protocol/digests.hpp"
#include "protocol/service_levels.hpp"
#include "server/due_timer.hpp"
#include "server/engagements.hpp"
#include "storage/engine.hpp"
#include "storage/webhook_outbox.hpp"

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace parley {

class digest_watcher {
 public:
  // The read markers of a channel, stored ones with those not yet written
  // (hub::read_markers_of).
  using markers_fn =
      std::function<void(const std::string& ch, std::function<void(result<std::vector<read_marker>>)> done)>;

  // `mirror`: where each engagement's next look is also kept (the shared index).
  digest_watcher(boost::asio::io_context& ioc, engine& storage, webhook_outbox& outbox, engagements& book,
                 markers_fn markers, digest_settings settings, sla_windows windows, due_timer::mirror_fn mirror);

  // The engagement's state changed (an event was applied): look at its
  // parties once a digest could be due. Any thread.
  void schedule(const engagement_state& s);
  // Its look was claimed from the shared index: look now (the look sets the
  // next one, or clears it). Any thread.
  void look_claimed(const std::string& eng);
  void stop();

  // The read-marker channel that keeps an engagement's last digests.
  static std::string record_channel(const std::string& eng) { return "digest:" + channel::main(eng); }

 private:
  struct look;  // one look at an engagement, gathering what the rule needs

  void schedule_at(const std::string& eng, std::int64_t due);  // on the watcher's thread; keeps the earlier
  void retry_later(const std::string& eng);
  // Nothing to look at: no look is kept for it, here or in the index.
  void done_with(const std::string& eng);
  // The steps of one look: state, the channel's tail, read markers, presence,
  // the last digests; then the decision per party.
  void queue_look(const std::string& eng);
  void start_looks();
  void begin_look(const std::string& eng);
  void read_tail(std::shared_ptr<look> l);
  void read_markers(std::shared_ptr<look> l);
  void read_presence(std::shared_ptr<look> l);
  void read_last_digests(std::shared_ptr<look> l);
  void decide(std::shared_ptr<look> l);
  void send(const std::string& eng, const digest& d, std::int64_t now);
  void remember(const std::string& eng, const std::string& user, last_digest last);

  boost::asio::io_context& ioc_;
  engine& storage_;
  webhook_outbox& outbox_;
  engagements& book_;
  markers_fn markers_;
  digest_settings settings_;
  sla_windows windows_;
  due_timer due_;  // the next look per engagement
  std::deque<std::string> waiting_;            // due looks waiting for a free slot
  std::unordered_set<std::string> waiting_set_;  // the same, to queue each engagement once
  int running_ = 0;                             // looks in flight
  // Digests sent from here ("<eng>\n<user>"), ahead of the stored ones until
  // those are written; bounded like the read markers (forgetting costs a read).
  std::unordered_map<std::string, last_digest> sent_;
  bool stopped_ = false;
};

}  // namespace parley
