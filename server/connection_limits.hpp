#pragma once
// Caps on connections (protocol §9.10): all sockets of the process, sockets
// not yet authenticated per client address, and WebSockets per user. Counts
// are taken with tickets that give themselves back when destroyed, so a
// connection that ends by any path releases what it holds. Thread-safe.
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace parley {

class connection_limits {
 public:
  struct caps {
    std::size_t max_connections = 0;  // 0: no cap
    std::size_t max_unauth_per_ip = 64;
    std::size_t max_ws_per_user = 20;
  };

  // Held for as long as its count is taken; releases it when destroyed.
  class ticket {
   public:
    ticket() = default;
    ticket(const ticket&) = delete;
    ticket& operator=(const ticket&) = delete;
    ticket(ticket&& o) noexcept { *this = std::move(o); }
    ticket& operator=(ticket&& o) noexcept;
    ~ticket() { release(); }
    void release();
    explicit operator bool() const { return owner_ != nullptr; }

   private:
    friend class connection_limits;
    enum class kind { connection, unauth, ws_user };
    ticket(connection_limits* owner, kind k, std::string key) : owner_(owner), kind_(k), key_(std::move(key)) {}
    connection_limits* owner_ = nullptr;
    kind kind_ = kind::connection;
    std::string key_;
  };

  explicit connection_limits(caps c) : caps_(c) {}

  // Each gives an empty ticket when its cap is reached.
  ticket open_connection();
  ticket unauthenticated(const std::string& ip);
  ticket websocket_of(const std::string& user_id);

  std::size_t connections() const;
  const caps& limits() const { return caps_; }

 private:
  void give_back(ticket::kind k, const std::string& key);
  ticket take_keyed(std::unordered_map<std::string, std::size_t>& counts, std::size_t cap, const std::string& key,
                    ticket::kind k);

  caps caps_;
  mutable std::mutex mutex_;
  std::size_t connections_ = 0;
  std::unordered_map<std::string, std::size_t> unauth_by_ip_;
  std::unordered_map<std::string, std::size_t> ws_by_user_;
};

}  // namespace parley
