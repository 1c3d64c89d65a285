// The webhook client against a small HTTP server in the test: what it sends,
// and how each kind of failure is reported (a status, a timeout, a refused
// connection, a TLS handshake with a server that speaks no TLS).
#include "server/webhook_client.hpp"
#include "test_processes.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>

using namespace parley;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// Accepts connections and answers each request with `answer` (none: keeps it open, silent).
struct tiny_server {
  net::io_context& ioc;
  tcp::acceptor acceptor{ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)};
  std::optional<std::string> answer;
  std::string received;
  std::vector<std::shared_ptr<tcp::socket>> held;

  explicit tiny_server(net::io_context& c, std::optional<std::string> a) : ioc(c), answer(std::move(a)) { accept(); }
  unsigned short port() const { return acceptor.local_endpoint().port(); }

  void accept() {
    auto socket = std::make_shared<tcp::socket>(ioc);
    acceptor.async_accept(*socket, [this, socket](boost::system::error_code ec) {
      if (ec) return;
      held.push_back(socket);
      auto buf = std::make_shared<net::streambuf>();
      net::async_read_until(*socket, *buf, "\r\n\r\n", [this, socket, buf](boost::system::error_code rec, std::size_t) {
        if (rec) return;
        received.assign(net::buffers_begin(buf->data()), net::buffers_end(buf->data()));
        if (!answer) return;
        net::async_write(*socket, net::buffer(*answer), [socket](boost::system::error_code, std::size_t) {
          socket->shutdown(tcp::socket::shutdown_send);
        });
      });
      accept();
    });
  }
};

result<void> post_once(net::io_context& ioc, const std::string& url, std::chrono::milliseconds deadline = std::chrono::seconds(5),
                       const std::string& ca_file = "") {
  webhook_client_settings s;
  s.to = *parse_webhook_url(url);
  s.ca_file = ca_file;
  s.deadline = deadline;
  webhook_client client(ioc.get_executor(), s);
  std::optional<result<void>> out;
  client.post({"wh_1", "t=1,v1=" + std::string(64, 'a'), R"({"id":"wh_1"})"}, [&](result<void> r) { out = std::move(r); });
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!out && std::chrono::steady_clock::now() < until) {
    ioc.restart();
    ioc.run_for(std::chrono::milliseconds(10));
  }
  REQUIRE(out.has_value());
  return *out;
}

std::string url_of(const tiny_server& s, std::string scheme = "http") {
  return scheme + "://127.0.0.1:" + std::to_string(s.port()) + "/hooks?via=test";
}

}  // namespace

TEST_CASE("webhook URLs: http(s), host, port, path", "[server][webhooks]") {
  auto t = parse_webhook_url("https://hooks.example.com/parley/in?k=1");
  REQUIRE(t.ok());
  CHECK(t->endpoint.tls);
  CHECK(t->endpoint.host == "hooks.example.com");
  CHECK(t->endpoint.port == "443");
  CHECK(t->target == "/parley/in?k=1");
  auto plain = parse_webhook_url("http://[::1]:8443");
  REQUIRE(plain.ok());
  CHECK(plain->endpoint.host == "::1");
  CHECK(plain->target == "/");
  for (const char* bad : {"ftp://x/", "hooks.example.com/in", "http://user@x/in", "http:///in", "http://x:0/",
                          "http://x/in#frag", "http://x/a b", "http://x:99999/"}) {
    INFO(bad);
    CHECK_FALSE(parse_webhook_url(bad).ok());
  }
}

TEST_CASE("a 2xx delivers, the request carries the body, id, signature and agent", "[server][webhooks]") {
  net::io_context ioc;
  tiny_server server(ioc, "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
  CHECK(post_once(ioc, url_of(server)).ok());
  CHECK(server.received.rfind("POST /hooks?via=test HTTP/1.1\r\n", 0) == 0);
  for (const char* header : {"Parley-Event-Id: wh_1\r\n", "Content-Type: application/json\r\n", "User-Agent: Parley/",
                             "Parley-Signature: t=1,v1=aaaa"}) {
    INFO(header);
    CHECK(server.received.find(header) != std::string::npos);
  }
}

TEST_CASE("a non-2xx status, a timeout, a refusal and a failed TLS handshake are errors", "[server][webhooks]") {
  net::io_context ioc;
  tiny_server failing(ioc, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops!");
  auto status = post_once(ioc, url_of(failing));
  REQUIRE_FALSE(status.ok());
  CHECK(status.err().message == "HTTP 500");

  tiny_server redirect(ioc, "HTTP/1.1 301 Moved\r\nLocation: http://elsewhere/\r\nContent-Length: 0\r\n\r\n");
  CHECK(post_once(ioc, url_of(redirect)).err().message == "HTTP 301");

  tiny_server silent(ioc, std::nullopt);
  auto start = std::chrono::steady_clock::now();
  auto timeout = post_once(ioc, url_of(silent), std::chrono::milliseconds(300));
  REQUIRE_FALSE(timeout.ok());
  CHECK(timeout.err().message.rfind("timeout", 0) == 0);
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(300));

  unsigned short closed_port = 0;
  {
    tcp::acceptor a(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    closed_port = a.local_endpoint().port();
  }
  auto refused = post_once(ioc, "http://127.0.0.1:" + std::to_string(closed_port) + "/");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.err().message.rfind("connecting", 0) == 0);

  // A server that answers in plain HTTP fails the handshake: no request is sent in the clear.
  tiny_server plain(ioc, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  auto tls = post_once(ioc, url_of(plain, "https"), std::chrono::milliseconds(1000));
  REQUIRE_FALSE(tls.ok());
  CHECK(tls.err().message.find("TLS handshake") != std::string::npos);
  CHECK(plain.received.find("POST") == std::string::npos);
}

namespace {

// A TLS server in the test with a certificate for DNS:localhost, made by the openssl command.
struct tls_server {
  net::io_context& ioc;
  net::ssl::context tls{net::ssl::context::tls_server};
  tcp::acceptor acceptor{ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)};
  std::string received;

  tls_server(net::io_context& c, const std::filesystem::path& dir) : ioc(c) {
    tls.use_certificate_chain_file((dir / "cert.pem").string());
    tls.use_private_key_file((dir / "key.pem").string(), net::ssl::context::pem);
    accept();
  }
  unsigned short port() const { return acceptor.local_endpoint().port(); }

  void accept() {
    auto stream = std::make_shared<net::ssl::stream<tcp::socket>>(ioc, tls);
    acceptor.async_accept(stream->lowest_layer(), [this, stream](boost::system::error_code ec) {
      if (ec) return;
      accept();
      stream->async_handshake(net::ssl::stream_base::server, [this, stream](boost::system::error_code hec) {
        if (hec) return;
        auto buf = std::make_shared<net::streambuf>();
        net::async_read_until(*stream, *buf, "\r\n\r\n", [this, stream, buf](boost::system::error_code rec, std::size_t) {
          if (rec) return;
          received.assign(net::buffers_begin(buf->data()), net::buffers_end(buf->data()));
          static const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
          net::async_write(*stream, net::buffer(ok), [stream](boost::system::error_code, std::size_t) {});
        });
      });
    });
  }
};

}  // namespace

TEST_CASE("https: the certificate is verified against the CA file and the host name", "[server][webhooks]") {
  testing::temp_dir dir("parley-webhook-tls-");
  auto cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -addext subjectAltName=DNS:localhost"
             " -keyout " + (dir.path / "key.pem").string() + " -out " + (dir.path / "cert.pem").string() +
             " >/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  net::io_context ioc;
  tls_server server(ioc, dir.path);
  auto port = std::to_string(server.port());
  auto ca = (dir.path / "cert.pem").string();

  CHECK(post_once(ioc, "https://localhost:" + port + "/in", std::chrono::seconds(5), ca).ok());
  CHECK(server.received.rfind("POST /in HTTP/1.1\r\n", 0) == 0);

  // The certificate names localhost, not the address; and the system's authorities do not know it.
  server.received.clear();
  auto wrong_name = post_once(ioc, "https://127.0.0.1:" + port + "/in", std::chrono::seconds(5), ca);
  REQUIRE_FALSE(wrong_name.ok());
  CHECK(wrong_name.err().message.find("TLS handshake") != std::string::npos);
  auto unknown_ca = post_once(ioc, "https://localhost:" + port + "/in", std::chrono::seconds(5), "");
  REQUIRE_FALSE(unknown_ca.ok());
  CHECK(unknown_ca.err().message.find("TLS handshake") != std::string::npos);
  CHECK(server.received.empty());

  webhook_client_settings missing;
  missing.to = *parse_webhook_url("https://localhost/");
  missing.ca_file = (dir.path / "none.pem").string();
  CHECK_THROWS(webhook_client(ioc.get_executor(), missing));
}
