#include "server/tls_session.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace parley {

tls_session::tls_session(tls_context ctx) : ctx_(std::move(ctx)) {
  ssl_ = SSL_new(ctx_.get());
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  if (!ssl_ || !in_ || !out_) {
    if (in_) BIO_free(in_);
    if (out_) BIO_free(out_);
    if (ssl_) SSL_free(ssl_);
    throw std::bad_alloc();
  }
  // An empty input BIO means "wait for more", not the end of the stream.
  BIO_set_mem_eof_return(in_, -1);
  SSL_set_bio(ssl_, in_, out_);
  SSL_set_accept_state(ssl_);
}

tls_session::~tls_session() { SSL_free(ssl_); }

void tls_session::feed(const char* data, std::size_t size) {
  while (size > 0) {
    int chunk = static_cast<int>(std::min<std::size_t>(size, std::numeric_limits<int>::max()));
    int n = BIO_write(in_, data, chunk);
    if (n <= 0) return;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

tls_session::status tls_session::classify(int ret) {
  int e = SSL_get_error(ssl_, ret);
  if (e == SSL_ERROR_WANT_READ) return status::want_read;
  if (e == SSL_ERROR_ZERO_RETURN) return status::closed;
  unsigned long code = ERR_peek_last_error();
  const char* reason = code ? ERR_reason_error_string(code) : nullptr;
  error_ = reason ? reason : "TLS error " + std::to_string(e);
  ERR_clear_error();
  return status::failed;
}

tls_session::status tls_session::handshake() {
  if (!error_.empty()) return status::failed;
  ERR_clear_error();
  int r = SSL_do_handshake(ssl_);
  return r == 1 ? status::done : classify(r);
}

tls_session::status tls_session::read(char* buf, std::size_t size, std::size_t& n) {
  n = 0;
  if (!error_.empty()) return status::failed;
  ERR_clear_error();
  int r = SSL_read_ex(ssl_, buf, size, &n);
  return r == 1 ? status::done : classify(r);
}

bool tls_session::write(const char* data, std::size_t size) {
  if (!error_.empty()) return false;
  ERR_clear_error();
  std::size_t written = 0;
  // A memory BIO takes everything: one call encrypts it all.
  if (size && SSL_write_ex(ssl_, data, size, &written) != 1) {
    classify(0);
    return false;
  }
  return true;
}

void tls_session::close_notify() {
  if (!error_.empty()) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

std::string& tls_session::output() {
  char* data = nullptr;
  long pending = BIO_get_mem_data(out_, &data);
  if (pending > 0) {
    output_.append(data, static_cast<std::size_t>(pending));
    (void)BIO_reset(out_);
  }
  return output_;
}

bool tls_session::output_empty() const { return output_.empty() && BIO_ctrl_pending(out_) == 0; }

std::string tls_session::version() const { return SSL_get_version(ssl_); }

std::string tls_session::alpn() const {
  const unsigned char* p = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl_, &p, &len);
  return p ? std::string(reinterpret_cast<const char*>(p), len) : std::string();
}

}  // namespace parley
