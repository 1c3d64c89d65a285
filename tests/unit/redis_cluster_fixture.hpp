#pragma once
// A real Redis Cluster for the tests: six redis-servers (three masters with a
// replica each, as `redis-cli --cluster create --cluster-replicas 1` lays
// them out), cluster bus ports of their own, a node timeout of one second so
// that a killed master's replica takes over within a few seconds.
#include "redis_fixture.hpp"

#include <sys/wait.h>

#include <memory>
#include <sstream>

namespace parley::testing {

inline constexpr const char* redis_cli_path = "/usr/bin/redis-cli";

class redis_cluster_nodes {
 public:
  redis_cluster_nodes() {
    for (int i = 0; i < 6; ++i)
      nodes_.push_back(std::make_unique<redis_server>(
          true, std::vector<std::string>{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                                         "--cluster-node-timeout", "1000", "--cluster-port",
                                         std::to_string(free_loopback_port())}));
    std::vector<std::string> create{redis_cli_path, "--cluster", "create"};
    for (auto& n : nodes_) create.push_back("127.0.0.1:" + std::to_string(n->port()));
    for (const char* a : {"--cluster-replicas", "1", "--cluster-yes"}) create.push_back(a);
    temp_dir logs("parley-cluster-create-");
    pid_t pid = spawn_logged(create, logs.path / "create.log");
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("redis-cli --cluster create failed");
    wait_until_ok();
  }

  redis_server& node(std::size_t i) { return *nodes_[i]; }
  std::size_t size() const { return nodes_.size(); }

  // Whether `i` serves as a master (ROLE), as it says itself.
  bool is_master(std::size_t i) const { return nodes_[i]->command({"ROLE"}).rfind("master", 0) == 0; }

  // Every node that is up reports cluster_state:ok, and every master has
  // its replica online (so that WAIT 1 can be answered).
  void wait_until_ok(std::chrono::seconds within = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < deadline) {
      bool ok = true;
      for (auto& n : nodes_) {
        auto info = n->command({"CLUSTER", "INFO"});
        if (info == "ERR: cannot connect") continue;
        if (info.find("cluster_state:ok") == std::string::npos) ok = false;
        auto replication = n->command({"INFO", "replication"});
        if (replication.find("role:master") != std::string::npos &&
            replication.find("state=online") == std::string::npos)
          ok = false;
      }
      if (ok) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw std::runtime_error("the Redis Cluster did not reach cluster_state:ok");
  }

 private:
  std::vector<std::unique_ptr<redis_server>> nodes_;
};

}  // namespace parley::testing
