#pragma once
// A real redis-server for the tests of the Redis engine: started on a free
// loopback port in a fresh directory, with the AOF fsynced on every write
// (the configuration protocol §6 recommends), killed and removed at the end.
// Tests skip with a warning when redis-server is not installed.
#include "test_processes.hpp"

#include <hiredis/hiredis.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace parley::testing {

inline constexpr const char* redis_server_path = "/usr/bin/redis-server";

inline bool redis_server_installed() { return ::access(redis_server_path, X_OK) == 0; }

class redis_server {
 public:
  // `extra`: more redis-server arguments (--requirepass, --user ...);
  // `auth`: the AUTH command the fixture's own connections send first.
  explicit redis_server(bool append_only = true, std::vector<std::string> extra = {},
                        std::vector<std::string> auth = {})
      : append_only_(append_only), extra_(std::move(extra)), auth_(std::move(auth)), port_(free_loopback_port()) {
    dir_ = make_temp_dir("parley-redis-");
    start();
  }

  ~redis_server() {
    kill();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

  // Starts redis-server on the same port and directory (so it loads its AOF)
  // and waits until it answers PING.
  void start() {
    if (pid_ > 0) return;
    std::vector<std::string> args{redis_server_path, "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", append_only_ ? "yes" : "no", "--appendfsync",
                                  "always", "--dir", dir_.string()};
    args.insert(args.end(), extra_.begin(), extra_.end());
    pid_ = spawn_logged(std::move(args), dir_ / "redis.log");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (command({"PING"}) == "PONG") return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("redis-server did not answer PING on port " + std::to_string(port_));
  }

  // SIGKILL: no shutdown, no final AOF rewrite; what was fsynced stays.
  void kill() { kill_child(pid_); }

  // Removes everything Redis stored (call while it is down).
  void wipe() {
    for (const auto& entry : std::filesystem::directory_iterator(dir_))
      if (entry.path().filename() != "redis.log") std::filesystem::remove_all(entry.path());
  }

  // One command on a fresh blocking connection; the reply as text: strings
  // and statuses as they are, integers in decimal, errors as "ERR: <text>",
  // nil as "(nil)", arrays as their elements joined with '\n'.
  std::string command(const std::vector<std::string>& args) const {
    timeval timeout{2, 0};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, timeout);
    if (!c || c->err) {
      if (c) redisFree(c);
      return "ERR: cannot connect";
    }
    redisSetTimeout(c, timeout);
    if (!auth_.empty()) {
      std::vector<const char*> av;
      std::vector<std::size_t> al;
      for (const auto& a : auth_) {
        av.push_back(a.data());
        al.push_back(a.size());
      }
      if (auto* r = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(av.size()), av.data(), al.data())))
        freeReplyObject(r);
    }
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
    std::string out = reply ? text(reply) : "ERR: no reply";
    if (reply) freeReplyObject(reply);
    redisFree(c);
    return out;
  }

 private:
  static std::string text(const redisReply* r) {
    switch (r->type) {
      case REDIS_REPLY_STRING:
      case REDIS_REPLY_STATUS: return std::string(r->str, r->len);
      case REDIS_REPLY_ERROR: return "ERR: " + std::string(r->str, r->len);
      case REDIS_REPLY_INTEGER: return std::to_string(r->integer);
      case REDIS_REPLY_ARRAY: {
        std::string out;
        for (std::size_t i = 0; i < r->elements; ++i) {
          if (i) out += '\n';
          out += text(r->element[i]);
        }
        return out;
      }
      default: return "(nil)";
    }
  }

  bool append_only_;
  std::vector<std::string> extra_;
  std::vector<std::string> auth_;
  int port_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

}  // namespace parley::testing

// Skips the rest of a test case, loudly, when there is no redis-server.
#define PARLEY_REQUIRE_REDIS_SERVER()                                                                  \
  do {                                                                                                 \
    if (!::parley::testing::redis_server_installed()) {                                                \
      WARN("skipped: " << ::parley::testing::redis_server_path << " is not installed (apt install redis-server)"); \
      return;                                                                                          \
    }                                                                                                  \
  } while (0)
