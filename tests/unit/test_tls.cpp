#include "server/redirect_listener.hpp"
#include "server/tls_context.hpp"
#include "server/tls_session.hpp"
#include "test_processes.hpp"

#include <catch2/catch.hpp>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace parley;
namespace fs = std::filesystem;

namespace {

// A self-signed pair made with the openssl command line, as operators do.
void make_pair(const fs::path& cert, const fs::path& key, const std::string& cn) {
  std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=" + cn +
                    " -keyout '" + key.string() + "' -out '" + cert.string() + "' >/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
}

struct pairs {
  testing::temp_dir dir{"parley-tls-"};
  fs::path cert = dir.path / "cert.pem", key = dir.path / "key.pem";
  fs::path other_cert = dir.path / "other.pem", other_key = dir.path / "other-key.pem";
  pairs() {
    make_pair(cert, key, "one");
    make_pair(other_cert, other_key, "two");
  }
};

// A client with memory BIOs, pumped against a tls_session: a whole handshake with no socket.
struct memory_client {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = nullptr;
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());

  explicit memory_client(int max_version = 0, const std::string& alpn = "\x08http/1.1") {
    SSL_CTX_set_security_level(ctx, 0);
    SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
    if (max_version) SSL_CTX_set_max_proto_version(ctx, max_version);
    if (!alpn.empty())
      SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(alpn.data()),
                              static_cast<unsigned>(alpn.size()));
    ssl = SSL_new(ctx);
    BIO_set_mem_eof_return(in, -1);
    SSL_set_bio(ssl, in, out);
    SSL_set_connect_state(ssl);
  }
  ~memory_client() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }

  // Moves bytes both ways until neither side has more to say; true when both finished the handshake.
  bool handshake_with(tls_session& server) {
    tls_session::status st = tls_session::status::want_read;
    for (int round = 0; round < 20; ++round) {
      int r = SSL_do_handshake(ssl);
      // Asked at once: feeding the BIO below changes the answer.
      int client_error = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, r);
      char* data = nullptr;
      long n = BIO_get_mem_data(out, &data);
      if (n > 0) {
        server.feed(data, static_cast<std::size_t>(n));
        (void)BIO_reset(out);
      }
      st = server.handshake();
      auto& reply = server.output();
      if (!reply.empty()) {
        BIO_write(in, reply.data(), static_cast<int>(reply.size()));
        reply.clear();
      }
      if (st == tls_session::status::failed) {
        UNSCOPED_INFO("server: " << server.error());
        return false;
      }
      if (r == 1 && st == tls_session::status::done) return true;
      if (r != 1 && client_error != SSL_ERROR_WANT_READ) {
        UNSCOPED_INFO("client: " << ERR_reason_error_string(ERR_peek_last_error()));
        return false;
      }
    }
    return false;
  }
};

}  // namespace

TEST_CASE("a TLS context loads a certificate and its key", "[server][tls]") {
  pairs p;
  std::string why;
  CHECK(make_tls_context(p.cert, p.key, why) != nullptr);
  CHECK(why.empty());
}

TEST_CASE("a TLS context refuses a missing file, naming it", "[server][tls]") {
  pairs p;
  std::string why;
  CHECK(make_tls_context(p.dir.path / "nope.pem", p.key, why) == nullptr);
  CHECK(why.find("nope.pem") != std::string::npos);
  CHECK(make_tls_context(p.cert, p.dir.path / "nokey.pem", why) == nullptr);
  CHECK(why.find("nokey.pem") != std::string::npos);
}

TEST_CASE("a TLS context refuses a key that does not match the certificate", "[server][tls]") {
  pairs p;
  std::string why;
  CHECK(make_tls_context(p.cert, p.other_key, why) == nullptr);
  CHECK(why.find("does not match") != std::string::npos);
}

TEST_CASE("a reload that fails keeps the pair in use, one that succeeds replaces it", "[server][tls]") {
  pairs p;
  tls_credentials creds(p.cert.string(), p.key.string());
  std::string why;
  REQUIRE(creds.load(why));
  auto first = creds.current();
  // The key replaced by one of another certificate: refused, the old context kept.
  fs::copy_file(p.other_key, p.key, fs::copy_options::overwrite_existing);
  CHECK_FALSE(creds.load(why));
  CHECK(why.find("does not match") != std::string::npos);
  CHECK(creds.current() == first);
  // Both files replaced: the new pair is used from now on; the old context lives on for whoever holds it.
  fs::copy_file(p.other_cert, p.cert, fs::copy_options::overwrite_existing);
  CHECK(creds.load(why));
  CHECK(creds.current() != first);
  CHECK(first.use_count() == 1);
}

TEST_CASE("a TLS session completes a handshake in memory and carries data both ways", "[server][tls]") {
  pairs p;
  std::string why;
  auto ctx = make_tls_context(p.cert, p.key, why);
  tls_session server(ctx);
  memory_client client;
  REQUIRE(client.handshake_with(server));
  CHECK(server.alpn() == "http/1.1");
  CHECK(server.version() == "TLSv1.3");

  REQUIRE(SSL_write(client.ssl, "hello", 5) == 5);
  char* data = nullptr;
  long n = BIO_get_mem_data(client.out, &data);
  server.feed(data, static_cast<std::size_t>(n));
  char buf[16];
  std::size_t got = 0;
  CHECK(server.read(buf, sizeof buf, got) == tls_session::status::done);
  CHECK(std::string(buf, got) == "hello");
  CHECK(server.read(buf, sizeof buf, got) == tls_session::status::want_read);

  REQUIRE(server.write("back", 4));
  auto& out = server.output();
  BIO_write(client.in, out.data(), static_cast<int>(out.size()));
  out.clear();
  char reply[16];
  int r = SSL_read(client.ssl, reply, sizeof reply);
  REQUIRE(r == 4);
  CHECK(std::string(reply, 4) == "back");
}

TEST_CASE("TLS 1.2 is served and TLS 1.1 refused", "[server][tls]") {
  pairs p;
  std::string why;
  auto ctx = make_tls_context(p.cert, p.key, why);
  {
    tls_session server(ctx);
    memory_client client(TLS1_2_VERSION);
    CHECK(client.handshake_with(server));
    CHECK(server.version() == "TLSv1.2");
  }
  {
    tls_session server(ctx);
    memory_client client(TLS1_1_VERSION);
    CHECK_FALSE(client.handshake_with(server));
    CHECK_FALSE(server.error().empty());
  }
}

TEST_CASE("ALPN without http/1.1 is refused, no ALPN at all is served", "[server][tls]") {
  pairs p;
  std::string why;
  auto ctx = make_tls_context(p.cert, p.key, why);
  {
    tls_session server(ctx);
    memory_client client(0, std::string("\x02h2", 3));
    CHECK_FALSE(client.handshake_with(server));
  }
  {
    tls_session server(ctx);
    memory_client client(0, "");
    CHECK(client.handshake_with(server));
    CHECK(server.alpn().empty());
  }
}

TEST_CASE("a redirect keeps the target and takes only a plain host from Host", "[server][tls]") {
  CHECK(redirect_location("example.com", "0.0.0.0", 8443, "/a/b?x=1&y=2") == "https://example.com:8443/a/b?x=1&y=2");
  CHECK(redirect_location("example.com:80", "0.0.0.0", 443, "/") == "https://example.com/");
  CHECK(redirect_location("[::1]:8080", "0.0.0.0", 8443, "/ws") == "https://[::1]:8443/ws");
  CHECK(redirect_location("", "127.0.0.1", 8443, "/x") == "https://127.0.0.1:8443/x");
  CHECK(redirect_location("", "::1", 8443, "/x") == "https://[::1]:8443/x");
  // Hostile hosts fall back to the listen host: no CR, LF, userinfo or path can come in.
  CHECK(redirect_location("evil.com\r\nSet-Cookie: a=b", "127.0.0.1", 8443, "/") == "https://127.0.0.1:8443/");
  CHECK(redirect_location("user@evil.com", "127.0.0.1", 8443, "/") == "https://127.0.0.1:8443/");
  CHECK(redirect_location("evil.com/x", "127.0.0.1", 8443, "/") == "https://127.0.0.1:8443/");
  CHECK(redirect_location(std::string(300, 'a'), "127.0.0.1", 8443, "/") == "https://127.0.0.1:8443/");
  CHECK(redirect_location("a.com:99999999", "127.0.0.1", 8443, "/") == "https://127.0.0.1:8443/");
  // A target that is not origin-form becomes "/".
  CHECK(redirect_location("a.com", "h", 8443, "http://evil.com/") == "https://a.com:8443/");
  CHECK(redirect_location("a.com", "h", 8443, "/a\r\nX: y") == "https://a.com:8443/");
}
