#pragma once
// Servers the tests start as child processes (redis-server, s3rver): a fresh
// temporary directory, a free loopback port, the process started with its
// output in a log file, and killed without a shutdown.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <system_error>
#include <stdexcept>
#include <string>
#include <vector>

namespace parley::testing {

// A new directory `<tmp>/<prefix>XXXXXX`.
inline std::filesystem::path make_temp_dir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a temporary directory");
  return tmpl;
}

// A new temporary directory, removed with everything in it when this goes.
struct temp_dir {
  explicit temp_dir(const std::string& prefix) : path(make_temp_dir(prefix)) {}
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  std::filesystem::path path;
};

// 127.0.0.1:port.
inline sockaddr_in loopback_address(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  return addr;
}

// A loopback port nobody listens on right now, picked at random in
// 2000-9999. Not from the kernel's ephemeral range (32768-): there, a port a
// killed test server let go of may be taken as the source port of another
// process's connection before the server starts again on it. The integration
// suite's ports (10000-30699) and the load tool's are above this block.
inline int free_loopback_port() {
  static std::mt19937 pick{std::random_device{}()};
  std::uniform_int_distribution<int> in_block(2000, 9999);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    int port = in_block(pick);
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = loopback_address(port);
    bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (free) return port;
  }
  throw std::runtime_error("no free loopback port in 2000-9999");
}

// Whether something accepts connections on the loopback port.
inline bool loopback_port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = loopback_address(port);
  bool open = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return open;
}

// Runs `args[0]` with `args`, its stdout and stderr appended to `log`; the child's pid.
inline pid_t spawn_logged(std::vector<std::string> args, const std::filesystem::path& log) {
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// SIGKILL: no shutdown. `pid` becomes -1; a child already killed is left alone.
inline void kill_child(pid_t& pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  pid = -1;
}

}  // namespace parley::testing
