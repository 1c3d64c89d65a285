#pragma once
// Per-user "valid after" times: `POST /api/v1/users/<id>/revoke` refuses every
// token of that user issued before it and closes the user's connections.
//
// A revocation is stored as an event of the server's own channel
// `parley:revocations` (no client can name it: it is no protocol channel), so
// it is as durable as any event in either engine and reaches every instance
// through the engine's live sink. Only revocations younger than the longest
// token lifetime can refuse anything, so only those are kept.
#include "protocol/event.hpp"
#include "protocol/token.hpp"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace parley {

struct revocation {
  std::string user_id;
  std::int64_t valid_after = 0;  // seconds since epoch: tokens with an older (or no) iat are refused
};

class revocations {
 public:
  static constexpr std::string_view channel = "parley:revocations";
  static constexpr std::string_view kind = "revoke";

  explicit revocations(std::int64_t max_token_lifetime_s) : keep_s_(max_token_lifetime_s) {}

  // Whether the stored revocations have been read (no token is good before).
  bool loaded() const { return loaded_.load(std::memory_order_acquire); }
  void set_loaded() { loaded_.store(true, std::memory_order_release); }
  // Whether a verified token is still good.
  bool allows(const claims& c) const;
  // Takes in a stored event of the revocations channel; gives the revocation it
  // holds (kept only while a token it refuses can still be unexpired).
  std::optional<revocation> apply(const std::string& event_json, std::int64_t now_s);
  // The same, for an event the engine hands over already parsed.
  std::optional<revocation> apply(const event& ev, std::int64_t now_s);
  // Forgets the revocations older than the longest token lifetime: tokens
  // issued before them are refused anyway.
  void forget_expired(std::int64_t now_s);

 private:
  std::int64_t keep_s_;
  std::atomic<bool> loaded_{false};
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::int64_t> valid_after_;
};

}  // namespace parley
