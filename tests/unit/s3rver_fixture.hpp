#pragma once
// A real S3-compatible server for the tests of the S3 store: npm's s3rver
// (a devDependency; `npm ci` installs it) behind tests/integration/s3_server.mjs,
// which checks each request's Signature Version 4 and payload hash as S3
// does (s3rver itself does not). Started on a free loopback port in a fresh
// directory with one bucket, killed and removed at the end. Its one
// credential is access key "S3RVER", secret "S3RVER".
// Tests skip with a warning when node or s3rver is not installed.
#include "test_processes.hpp"

#include <chrono>
#include <string>
#include <thread>

namespace parley::testing {

inline constexpr const char* node_path = "/usr/bin/node";

inline std::string s3rver_script() { return std::string(PARLEY_SOURCE_DIR) + "/tests/integration/s3_server.mjs"; }

inline bool s3rver_installed() {
  auto package = std::string(PARLEY_SOURCE_DIR) + "/node_modules/s3rver/package.json";
  return ::access(node_path, X_OK) == 0 && ::access(package.c_str(), R_OK) == 0;
}

class s3rver {
 public:
  static constexpr const char* bucket = "parley-test";
  static constexpr const char* access_key = "S3RVER";
  static constexpr const char* secret_key = "S3RVER";

  s3rver() : port_(free_loopback_port()), dir_(make_temp_dir("parley-s3rver-")) {
    pid_ = spawn_logged({node_path, s3rver_script(), "--directory", (dir_ / "data").string(), "--port",
                         std::to_string(port_), "--bucket", bucket},
                        dir_ / "s3rver.log");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (loopback_port_open(port_)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill();
    throw std::runtime_error("s3rver did not listen on port " + std::to_string(port_));
  }

  ~s3rver() {
    kill();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  s3rver(const s3rver&) = delete;
  s3rver& operator=(const s3rver&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void kill() { kill_child(pid_); }

 private:
  int port_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

}  // namespace parley::testing

// Skips the rest of a test case, loudly, when s3rver cannot run here.
#define PARLEY_REQUIRE_S3RVER()                                                \
  do {                                                                         \
    if (!::parley::testing::s3rver_installed()) {                              \
      WARN("skipped: node or node_modules/s3rver is not installed (npm ci)"); \
      return;                                                                  \
    }                                                                          \
  } while (0)
