#pragma once
// One call of the append script (contract: redis_scripts::append): the KEYS
// and ARGV it is given for a request, and its reply decoded into the
// request's outcome. Pure: the Redis engine sends and receives.
#include "protocol/event.hpp"
#include "protocol/result.hpp"
#include "storage/append_plan.hpp"
#include "storage/engine.hpp"
#include "storage/event_splice.hpp"
#include "storage/redis_reply.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace parley {

class append_args {
 public:
  // A request whose seqs and ts the script assigns, at `now` at the earliest.
  static result<append_args> unpinned(const append_request& req, std::int64_t now);
  // A request planned from a state read (plan_append): the script appends it
  // only if the plan's seqs, ts and record n still hold, else answers "retry".
  // `hooks` (webhook_hooks.hpp: the plan's, all of one engagement) are stored
  // by the same script.
  static result<append_args> pinned(const append_request& req, const append_plan& plan,
                                    std::vector<webhook_entry> hooks = {});

  // numkeys, KEYS and ARGV, as EVALSHA takes them; `new_epoch` is the epoch
  // of a channel that has none yet.
  std::vector<std::string> command(const std::string& new_epoch) const;

  struct reply {
    result<appended> outcome = appended{};
    bool retry = false;               // pinned values no longer held; nothing was written
    std::vector<std::string> epochs;  // of each committed event's channel (a new append only)
  };
  // The script's reply (not a Redis error reply) as the request's outcome.
  reply decode(const redis_value& v) const;

 private:
  append_args() = default;
  static result<append_args> make(const append_request& req, std::vector<event> events, std::int64_t now);

  std::vector<event> events_;       // as appended (a plan's: with the record's summary)
  std::vector<event_parts> parts_;  // their JSON around seq and ts
  std::vector<std::string> channels_;  // touched_channels(): the script's channel numbers - 1
  std::vector<std::pair<std::string, std::int64_t>> expect_heads_;
  std::int64_t now_ = 0;
  bool pinned_ = false;
  std::string record_eng_, record_json_;
  std::int64_t record_n_ = 0;
  std::optional<std::string> sealed_;  // append_request::sealed
  std::vector<webhook_entry> hooks_;
};

}  // namespace parley
