#include "server/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>

namespace parley {

namespace {

// Mozilla server-side TLS "intermediate" (v5.7), for TLS 1.2; TLS 1.3 keeps
// OpenSSL's suites, which are those the same guideline lists.
constexpr const char* intermediate_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

// OpenSSL's last queued error, as text, and the queue emptied.
std::string openssl_error() {
  unsigned long last = 0;
  while (unsigned long e = ERR_get_error()) last = e;
  if (!last) return "unknown error";
  const char* reason = ERR_reason_error_string(last);
  return reason ? reason : "error " + std::to_string(last);
}

// ALPN (RFC 7301): HTTP/1.1 is all we speak. A client that offers ALPN
// without it is refused with the no_application_protocol alert, as §3.2
// asks; a client that offers no ALPN at all is served.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void*) {
  static constexpr unsigned char http11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};
  for (unsigned int i = 0; i < inlen;) {
    unsigned int len = in[i];
    if (i + 1 + len > inlen) break;
    if (len == sizeof http11 && std::memcmp(in + i + 1, http11, len) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

}  // namespace

tls_context make_tls_context(const std::string& cert_file, const std::string& key_file, std::string& error) {
  ERR_clear_error();
  tls_context ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) {
    error = "cannot make a TLS context: " + openssl_error();
    return nullptr;
  }
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  // Renegotiation is a denial-of-service lever and no client needs it;
  // compression leaks secrets (CRIME). Intermediate leaves the cipher order
  // to the client, which knows whether it has AES in hardware.
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_clear_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Idle connections give their read and write buffers back (most WebSockets are idle).
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_dh_auto(c, 1);
  if (SSL_CTX_set_cipher_list(c, intermediate_ciphers) != 1) {
    error = "cannot set the TLS ciphers: " + openssl_error();
    return nullptr;
  }
  SSL_CTX_set_alpn_select_cb(c, select_alpn, nullptr);
  if (SSL_CTX_use_certificate_chain_file(c, cert_file.c_str()) != 1) {
    error = "cannot load the TLS certificate chain " + cert_file + ": " + openssl_error();
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey_file(c, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL checks the key against the certificate as it loads it.
    int reason = ERR_GET_REASON(ERR_peek_last_error());
    if (reason == X509_R_KEY_VALUES_MISMATCH || reason == X509_R_KEY_TYPE_MISMATCH) {
      ERR_clear_error();
      error = "the TLS private key " + key_file + " does not match the certificate " + cert_file;
    } else {
      error = "cannot load the TLS private key " + key_file + ": " + openssl_error();
    }
    return nullptr;
  }
  if (SSL_CTX_check_private_key(c) != 1) {
    error = "the TLS private key " + key_file + " does not match the certificate " + cert_file;
    ERR_clear_error();
    return nullptr;
  }
  return ctx;
}

bool tls_credentials::load(std::string& error) {
  auto fresh = make_tls_context(cert_file_, key_file_, error);
  if (!fresh) return false;
  std::lock_guard lock(mutex_);
  current_ = std::move(fresh);
  return true;
}

tls_context tls_credentials::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

}  // namespace parley
