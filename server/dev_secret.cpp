#include "server/dev_secret.hpp"

#include "protocol/token.hpp"

#include <openssl/rand.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>

namespace parley {

std::string load_or_create_dev_secret(const std::filesystem::path& data_dir) {
  auto path = data_dir / "dev-secret";
  std::string secret;
  if (std::ifstream in(path); in) std::getline(in, secret);
  if (secret.size() >= 32) return secret;

  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("cannot make a development secret: no randomness");
  static const char* hex = "0123456789abcdef";
  secret.clear();
  for (unsigned char c : raw) {
    secret += hex[c >> 4];
    secret += hex[c & 15];
  }
  std::ofstream out(path, std::ios::trunc);
  if (!out || !(out << secret << "\n")) throw std::runtime_error("cannot write " + path.string());
  out.close();
  ::chmod(path.c_str(), 0600);
  return secret;
}

void print_demo_tokens(std::ostream& out, const std::string& base_url, const std::string& secret) {
  using namespace std::chrono;
  auto exp = duration_cast<seconds>(system_clock::now().time_since_epoch()).count() + 30 * 24 * 3600;
  struct demo {
    user who;
    std::vector<std::string> eng;
  };
  const demo users[] = {
      {{"alice", "Alice (client)", user_role::client}, {"demo"}},
      {{"bob", "Bob (expert)", user_role::expert}, {"demo"}},
      {{"sam", "Sam (support)", user_role::support}, {"*"}},
  };
  out << "parley: no secret configured: using a development secret (data dir, file dev-secret).\n"
      << "parley: demo engagement \"demo\": open these links, one per browser window:\n";
  for (const auto& u : users) {
    out << "  " << u.who.name << ": " << base_url << "#token=" << make_token(u.who, u.eng, exp, secret) << "\n";
  }
  auto bot = make_token({"statusbot", "Status bot", user_role::bot}, {"demo"}, exp, secret);
  out << "  Status bot (HTTP):\n    curl -H 'Authorization: Bearer " << bot << "' -H 'Content-Type: application/json' \\\n"
      << "      -d '{\"kind\":\"status\",\"body\":{\"text\":\"Nightly build passed\",\"progress\":40}}' \\\n"
      << "      " << base_url << "api/v1/channels/eng:demo/events\n";
  out.flush();
}

}  // namespace parley
