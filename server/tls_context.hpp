#pragma once
// The server's TLS configuration (protocol/README.md, "TLS"): an OpenSSL
// context made from a PEM certificate chain and its private key, and the
// holder that swaps it on SIGHUP. A session takes the context current when it
// is accepted and keeps it for its whole life, so a reload never touches an
// open connection; a pair that fails to load leaves the current one in place.
#include <memory>
#include <mutex>
#include <string>

typedef struct ssl_ctx_st SSL_CTX;

namespace parley {

using tls_context = std::shared_ptr<SSL_CTX>;

// TLS 1.2 and 1.3, Mozilla's "intermediate" ciphers, ALPN http/1.1, no
// compression or renegotiation. Null and `error` set (one line naming the
// file) when the files cannot be read or the key does not match the certificate.
tls_context make_tls_context(const std::string& cert_file, const std::string& key_file, std::string& error);

class tls_credentials {
 public:
  tls_credentials(std::string cert_file, std::string key_file) : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {}
  // Reads the files again; on failure keeps the pair in use and says why.
  bool load(std::string& error);
  // The context for a new connection (null before a successful load).
  tls_context current() const;
  const std::string& cert_file() const { return cert_file_; }

 private:
  std::string cert_file_, key_file_;
  mutable std::mutex mutex_;
  tls_context current_;
};

}  // namespace parley
