#pragma once
// What the hub's membership and fan-out need of one connection: a joined
// member of channels on one worker thread. ws_session implements it; tests
// use a plain recorder. Every function runs on the member's worker thread.
#include "protocol/token.hpp"
#include "server/revocations.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace parley {

class member {
 public:
  virtual ~member() = default;

  // A committed event of channel `ch` (which the member may have joined).
  virtual void deliver(const std::string& ch, std::int64_t seq, const std::shared_ptr<const std::string>& json) = 0;
  // A frame pushed as is (presence, typing, read, state), bounded by the member's queue.
  virtual void push(std::shared_ptr<const std::string> frame) = 0;
  // Whether the member's join of `ch` is complete: live events reach it in order.
  virtual bool live_on(const std::string& ch) const = 0;
  // The claims of the member's user: what the state it is pushed says it `can` do.
  virtual const claims& reader() const = 0;
  // Some user's tokens were revoked: the member closes when it holds one of them.
  virtual void revoked(const revocation& r) = 0;
  // The server is going away: flush, then close.
  virtual void going_away() = 0;
  // About once a second (fanout::start_sweeps): the member's deadlines, kept
  // as times rather than one armed timer each (a hello, a write, the token).
  // It may close the member at once (and remove it from its worker's members).
  virtual void sweep(std::chrono::steady_clock::time_point /*now*/, std::int64_t /*now_ms*/) {}
  // Asked for through worker::flush_later: write what is queued.
  virtual void flush() {}
};

}  // namespace parley
