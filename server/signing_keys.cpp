#include "server/signing_keys.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace parley {
namespace {

// A PEM Ed25519 key is under 200 bytes; a larger file is not one.
constexpr std::size_t max_key_file = 64 * 1024;

[[noreturn]] void fail(const std::string& why) { throw std::runtime_error(why); }

// Reads a whole small file; errors name `what` (the option) and the path.
// `flags` lets the development key refuse symlinks.
std::string read_small_file(const std::string& what, const std::string& path, int flags = 0) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | flags);
  if (fd < 0) fail(what + " " + path + ": cannot read: " + std::strerror(errno));
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      fail(what + " " + path + ": cannot read: " + std::strerror(e));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > max_key_file) {
      ::close(fd);
      fail(what + " " + path + ": too large to be a key");
    }
  }
  ::close(fd);
  return text;
}

ed25519_key load_private(const std::string& path, const std::string& option, int flags = 0) {
  auto key = ed25519_key::from_private_pem(read_small_file(option, path, flags));
  if (!key) fail(option + " " + path + ": " + key.err().message);
  return std::move(*key);
}

// Writes a new key to `path` only if nothing is there (O_EXCL), never through
// a symlink (O_NOFOLLOW), readable by this user alone. Returns false when the
// file already exists.
bool create_dev_key(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return false;
    fail("development signing key " + path + ": cannot create: " + std::strerror(errno));
  }
  unsigned char seed[32];
  if (RAND_bytes(seed, sizeof seed) != 1) {
    ::close(fd);
    ::unlink(path.c_str());
    fail("cannot make a development signing key: no randomness");
  }
  auto key = ed25519_key::from_seed(std::string_view(reinterpret_cast<const char*>(seed), sizeof seed));
  OPENSSL_cleanse(seed, sizeof seed);
  std::string pem = key ? key->to_pem() : std::string{};
  bool ok = !pem.empty();
  for (std::size_t done = 0; ok && done < pem.size();) {
    ssize_t n = ::write(fd, pem.data() + done, pem.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok = false;
    else done += static_cast<std::size_t>(n);
  }
  // The key signs records that must verify after a crash: on disk before use.
  if (ok && ::fsync(fd) != 0) ok = false;
  ::close(fd);
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!ok) {
    ::unlink(path.c_str());
    fail("development signing key " + path + ": cannot write");
  }
  // And its directory entry, or a crash could lose the file and the next start
  // would sign with a new key that no earlier record names.
  auto dir = std::filesystem::path(path).parent_path();
  int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return true;
}

}  // namespace

signing_keys load_signing_keys(const config& cfg, bool dev) {
  signing_keys out;
  if (!cfg.signing_key_file.empty()) {
    out.signer = std::make_shared<const ed25519_key>(load_private(cfg.signing_key_file, "--signing-key-file"));
  } else if (dev) {
    auto path = (cfg.data_dir / "dev-signing-key.pem").string();
    create_dev_key(path);
    out.signer = std::make_shared<const ed25519_key>(load_private(path, "development signing key", O_NOFOLLOW));
  } else {
    fail("no signing key: give --signing-key-file FILE (or PARLEY_SIGNING_KEY_FILE), an Ed25519 PEM key "
         "from `openssl genpkey -algorithm ed25519`");
  }
  out.keys.add(*out.signer);
  for (const auto& path : cfg.verify_key_files) {
    auto key = ed25519_key::from_public_pem(read_small_file("--verify-key-file", path));
    if (!key) fail("--verify-key-file " + path + ": " + key.err().message);
    out.keys.add(*key);
  }
  return out;
}

}  // namespace parley
