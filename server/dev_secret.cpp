#include "server/dev_secret.hpp"

#include "protocol/token.hpp"

#include <openssl/rand.h>

#include <chrono>
#include <sstream>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace parley {

std::string load_or_create_dev_secret(const std::filesystem::path& data_dir) {
  auto path = data_dir / "dev-secret";
  // Never through a link: the data directory may be shared with other programs.
  if (int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC); fd >= 0) {
    char buf[256];
    auto n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    std::string secret(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    if (secret.size() >= 32) return secret;
    throw std::runtime_error(path.string() + " holds no usable secret; remove it to make a new one");
  } else if (errno != ENOENT) {
    throw std::runtime_error("cannot read " + path.string() + ": " + std::strerror(errno));
  }

  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("cannot make a development secret: no randomness");
  static const char* hex = "0123456789abcdef";
  std::string secret;
  for (unsigned char c : raw) {
    secret += hex[c >> 4];
    secret += hex[c & 15];
  }
  // Created only if absent, never through a link, readable by this user only.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + path.string() + ": " + std::strerror(errno));
  std::string line = secret + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error("cannot write " + path.string());
  return secret;
}

void print_demo_tokens(std::ostream& to, const std::string& base_url, const std::string& secret) {
  using namespace std::chrono;
  // Written in one piece at the end: std::cerr writes each `<<` at once, so
  // whatever is written meanwhile (a log line of another thread, the other
  // stream read beside it) could land inside a link and break it.
  std::ostringstream out;
  auto exp = duration_cast<seconds>(system_clock::now().time_since_epoch()).count() + 30 * 24 * 3600;
  struct demo {
    user who;
    std::vector<std::string> eng;
  };
  const demo users[] = {
      {{"alice", "Alice", user_role::client}, {"demo"}},
      {{"bob", "Bob", user_role::expert}, {"demo"}},
      {{"sam", "Sam", user_role::support}, {"*"}},
  };
  out << "parley: development mode (--dev): tokens are signed with the secret in the data directory (file dev-secret).\n"
      << "parley: demo engagement \"demo\": open these links, one per browser window:\n";
  for (const auto& u : users) {
    // The page names each person's role itself; the terminal says whose link is whose.
    out << "  " << u.who.name << " (" << role_name(u.who.role) << "): " << base_url << "#token=" << make_token(u.who, u.eng, exp, secret) << "\n";
  }
  auto bot = make_token({"statusbot", "Status bot", user_role::bot}, {"demo"}, exp, secret);
  out << "  Status bot (HTTP):\n    curl -H 'Authorization: Bearer " << bot << "' -H 'Content-Type: application/json' \\\n"
      << "      -d '{\"kind\":\"status\",\"body\":{\"text\":\"Nightly build passed\",\"progress\":40}}' \\\n"
      << "      " << base_url << "api/v1/channels/eng:demo/events\n";
  to << out.str() << std::flush;
}

}  // namespace parley
