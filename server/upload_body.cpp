#include "server/upload_body.hpp"

#include "protocol/hex.hpp"
#include "storage/random_hex.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace parley {

staged_upload::~staged_upload() { discard(); }

staged_upload::staged_upload(staged_upload&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::exchange(other.path_, {})),
      hash_(std::exchange(other.hash_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

staged_upload& staged_upload::operator=(staged_upload&& other) noexcept {
  if (this != &other) {
    discard();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::exchange(other.path_, {});
    hash_ = std::exchange(other.hash_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void staged_upload::discard() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!path_.empty()) ::unlink(path_.c_str());
  path_.clear();
  if (hash_) EVP_MD_CTX_free(hash_);
  hash_ = nullptr;
}

result<void> staged_upload::open(const std::filesystem::path& dir) {
  discard();
  hash_ = EVP_MD_CTX_new();
  if (!hash_ || EVP_DigestInit_ex(hash_, EVP_sha256(), nullptr) != 1)
    return make_error(errc::internal, "cannot start a SHA-256");
  // A fresh random name, created exclusively: no two uploads share a file.
  path_ = dir / (random_hex(16) + ".part");
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    int err = errno;
    path_.clear();
    return make_error(errc::unavailable, std::string("cannot stage the upload: ") + std::strerror(err));
  }
  return {};
}

result<void> staged_upload::write(const void* data, std::size_t size) {
  if (fd_ < 0) return make_error(errc::internal, "the upload is not staged");
  if (EVP_DigestUpdate(hash_, data, size) != 1) return make_error(errc::internal, "SHA-256 failed");
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(errc::unavailable, std::string("cannot stage the upload: ") + std::strerror(errno));
    }
    p += n;
    size -= static_cast<std::size_t>(n);
    size_ += static_cast<std::uint64_t>(n);
  }
  return {};
}

result<std::string> staged_upload::finish() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!hash_ || EVP_DigestFinal_ex(hash_, digest, &length) != 1) return make_error(errc::internal, "SHA-256 failed");
  EVP_MD_CTX_free(hash_);
  hash_ = nullptr;
  if (fd_ >= 0 && ::close(fd_) != 0) {
    fd_ = -1;
    return make_error(errc::unavailable, std::string("cannot stage the upload: ") + std::strerror(errno));
  }
  fd_ = -1;
  return to_hex(digest, length);
}

std::filesystem::path staged_upload::release() { return std::exchange(path_, {}); }

}  // namespace parley
