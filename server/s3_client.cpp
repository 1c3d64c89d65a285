#include "server/s3_client.hpp"

#include "protocol/hex.hpp"
#include "storage/clock.hpp"
#include "storage/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/file.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <array>
#include <stdexcept>

namespace parley {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
// Error answers (S3's XML) are read this far, for the log.
constexpr std::size_t max_error_body = 16 * 1024;
constexpr std::size_t download_chunk = 64 * 1024;

error unreachable(const s3_settings& s, std::string_view step, const boost::system::error_code& ec) {
  return make_error(errc::unavailable, "object store " + s.endpoint.host + ":" + s.endpoint.port + ": " +
                                           std::string(step) + ": " + ec.message());
}

// What an unexpected status means for the caller: the store's own trouble is
// temporary (`unavailable`); anything else (a refused signature, a missing
// bucket) is a configuration to fix, and logged as such.
error refused(const s3_settings& s, std::string_view method, std::string_view key, unsigned status,
              std::string_view body) {
  log_event(status >= 500 ? log_level::warn : log_level::error, "s3_refused",
            {{"method", std::string(method)},
             {"key", std::string(key)},
             {"status", std::to_string(status)},
             {"answer", std::string(body.substr(0, 200))}});
  std::string what = "object store answered " + std::to_string(status) + " to " + std::string(method) + " " + s.bucket +
                     "/" + std::string(key);
  return make_error(status >= 500 || status == 429 ? errc::unavailable : errc::internal, std::move(what));
}

class sha256_stream {
 public:
  sha256_stream() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) throw std::runtime_error("SHA-256 failed");
  }
  ~sha256_stream() { EVP_MD_CTX_free(ctx_); }
  sha256_stream(const sha256_stream&) = delete;
  sha256_stream& operator=(const sha256_stream&) = delete;

  void update(const void* data, std::size_t size) { EVP_DigestUpdate(ctx_, data, size); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    return to_hex(md, len);
  }

 private:
  EVP_MD_CTX* ctx_;
};

}  // namespace

std::string host_header(const s3_endpoint& e) {
  std::string host = e.host.find(':') != std::string::npos ? "[" + e.host + "]" : e.host;
  bool default_port = (e.tls && e.port == "443") || (!e.tls && e.port == "80");
  return default_port ? host : host + ":" + e.port;
}

result<s3_endpoint> parse_s3_endpoint(std::string_view url) {
  auto bad = [&](std::string why) {
    return make_error(errc::bad_request, "'" + std::string(url) + "' is not http(s)://host[:port]: " + why);
  };
  s3_endpoint out;
  std::string_view rest;
  if (url.rfind("https://", 0) == 0) {
    out.tls = true;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else {
    return bad("the scheme must be http or https");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#@ ") != std::string_view::npos) return bad("no path, query or user part");
  std::string_view host = rest, port;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return bad("an unclosed [");
    host = rest.substr(1, close - 1);
    auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after ]");
      port = after.substr(1);
    }
  } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty()) return bad("no host");
  if (port.empty()) {
    out.port = out.tls ? "443" : "80";
  } else {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) return bad("a bad port");
    if (std::stoul(std::string(port)) == 0 || std::stoul(std::string(port)) > 65535) return bad("a bad port");
    out.port = std::string(port);
  }
  out.host = std::string(host);
  return out;
}

struct s3_client::job {
  http::verb method;
  std::string key;
  std::filesystem::path upload;  // PUT: the file sent
  std::uint64_t size = 0;
  std::string payload_sha256 = std::string(sigv4::empty_payload_sha256);
  std::filesystem::path download;  // GET: where the body goes
  std::uint64_t max_download = 0;
  // Exactly one of these is set, by the public method.
  std::function<void(result<std::optional<std::uint64_t>>)> on_head;
  std::function<void(result<void>)> on_put;
  std::function<void(result<std::string>)> on_get;
};

struct s3_client::shared {
  s3_settings settings;
  std::unique_ptr<ssl::context> tls;  // https endpoints only
};

namespace {

// The signed request header of `j`.
template <class Body>
void sign(http::request<Body>& req, const s3_settings& s, const s3_client::job& j) {
  auto when = sigv4::amz_date(std::chrono::sys_seconds{std::chrono::seconds{now_ms() / 1000}});
  sigv4::request to_sign;
  to_sign.method = std::string(http::to_string(j.method));
  to_sign.path = "/" + s.bucket + "/" + j.key;
  to_sign.headers = {{"host", host_header(s.endpoint)}, {"x-amz-content-sha256", j.payload_sha256}, {"x-amz-date", when}};
  to_sign.payload_sha256 = j.payload_sha256;
  req.method(j.method);
  req.target(sigv4::uri_encode(to_sign.path, false));
  req.version(11);
  for (const auto& [name, value] : to_sign.headers) req.set(name, value);
  req.set(http::field::authorization, sigv4::authorization(to_sign, s.credentials, {s.region, "s3"}, when));
  req.set(http::field::connection, "close");
}

// What one exchange produced: the status, and what the method asked for.
struct answer {
  unsigned status = 0;
  std::optional<std::uint64_t> content_length;
  std::string received_sha256;
  std::string error_body;
};

template <class Stream>
net::awaitable<result<answer>> exchange(Stream& stream, const s3_settings& s, const s3_client::job& j) {
  auto& socket = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  if (j.method == http::verb::put) {
    http::request<http::file_body> req;
    beast::error_code ec;
    req.body().open(j.upload.c_str(), beast::file_mode::scan, ec);
    if (ec) co_return make_error(errc::internal, "cannot read " + j.upload.string() + ": " + ec.message());
    // The length sent must be the length signed and checked by the caller.
    if (req.body().size() != j.size) co_return make_error(errc::internal, j.upload.string() + " is not the size declared");
    sign(req, s, j);
    req.content_length(j.size);
    http::request_serializer<http::file_body> serializer(req);
    // Written piece by piece, so that the timeout bounds a stall, not the whole upload.
    while (!serializer.is_done()) {
      socket.expires_after(s.timeout);
      auto [wec, n] = co_await http::async_write_some(stream, serializer, use_tuple);
      if (wec) co_return unreachable(s, "sending", wec);
    }
  } else {
    http::request<http::empty_body> req;
    sign(req, s, j);
    socket.expires_after(s.timeout);
    auto [wec, n] = co_await http::async_write(stream, req, use_tuple);
    if (wec) co_return unreachable(s, "sending", wec);
  }

  http::response_parser<http::empty_body> header;
  if (j.method == http::verb::head) header.skip(true);
  socket.expires_after(s.timeout);
  auto [hec, hn] = co_await http::async_read_header(stream, buffer, header, use_tuple);
  if (hec) co_return unreachable(s, "reading the answer", hec);
  answer out;
  out.status = header.get().result_int();
  if (auto length = header.content_length()) out.content_length = *length;
  if (j.method == http::verb::head) co_return out;

  if (j.method == http::verb::get && out.status == 200) {
    beast::file file;
    beast::error_code ec;
    file.open(j.download.c_str(), beast::file_mode::write, ec);
    if (ec) co_return make_error(errc::internal, "cannot write " + j.download.string() + ": " + ec.message());
    http::response_parser<http::buffer_body> body(std::move(header));
    body.body_limit(j.max_download);
    sha256_stream sha;
    std::array<char, download_chunk> chunk;
    while (!body.is_done()) {
      body.get().body().data = chunk.data();
      body.get().body().size = chunk.size();
      socket.expires_after(s.timeout);
      auto [rec, rn] = co_await http::async_read(stream, buffer, body, use_tuple);
      if (rec == http::error::need_buffer) rec = {};
      if (rec) co_return unreachable(s, "receiving", rec);
      std::size_t got = chunk.size() - body.get().body().size;
      file.write(chunk.data(), got, ec);
      if (ec) co_return make_error(errc::internal, "cannot write " + j.download.string() + ": " + ec.message());
      sha.update(chunk.data(), got);
    }
    out.received_sha256 = sha.hex();
    co_return out;
  }

  // Any other answer: its (short) body is kept for the log.
  http::response_parser<http::string_body> body(std::move(header));
  body.body_limit(max_error_body);
  socket.expires_after(s.timeout);
  auto [rec, rn] = co_await http::async_read(stream, buffer, body, use_tuple);
  if (!rec) out.error_body = body.get().body();
  co_return out;
}

net::awaitable<result<answer>> perform(std::shared_ptr<s3_client::shared> state, std::shared_ptr<s3_client::job> j) {
  const auto& s = state->settings;
  auto executor = co_await net::this_coro::executor;
  tcp::resolver resolver(executor);
  // A lookup cannot be interrupted (getaddrinfo on Asio's own thread): it is
  // bounded by the system resolver's timeout and attempts. An endpoint given
  // as an IP address needs none.
  auto [rec, endpoints] = co_await resolver.async_resolve(s.endpoint.host, s.endpoint.port, use_tuple);
  if (rec) co_return unreachable(s, "resolving", rec);
  beast::tcp_stream socket(executor);
  socket.expires_after(s.timeout);
  auto [cec, ep] = co_await socket.async_connect(endpoints, use_tuple);
  if (cec) co_return unreachable(s, "connecting", cec);
  if (!s.endpoint.tls) co_return co_await exchange(socket, s, *j);

  beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *state->tls);
  // SNI, and the certificate must name the endpoint's host.
  if (!SSL_set_tlsext_host_name(stream.native_handle(), s.endpoint.host.c_str()))
    co_return make_error(errc::internal, "cannot set the TLS server name");
  stream.set_verify_callback(ssl::host_name_verification(s.endpoint.host));
  beast::get_lowest_layer(stream).expires_after(s.timeout);
  auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, use_tuple);
  if (hec) co_return unreachable(s, "TLS handshake", hec);
  co_return co_await exchange(stream, s, *j);
}

// Turns an exchange into the answer of the public method that asked for it.
void finish(const s3_settings& s, s3_client::job& j, result<answer> r) {
  auto method = http::to_string(j.method);
  if (j.on_head) {
    if (!r) return j.on_head(r.err());
    // S3 answers 403 instead of 404 to credentials without s3:ListBucket:
    // either way the object is not known to be there.
    if (r->status == 404 || r->status == 403) return j.on_head(std::optional<std::uint64_t>{});
    if (r->status != 200) return j.on_head(refused(s, method, j.key, r->status, r->error_body));
    return j.on_head(r->content_length);
  }
  if (j.on_put) {
    if (!r) return j.on_put(r.err());
    if (r->status != 200) return j.on_put(refused(s, method, j.key, r->status, r->error_body));
    return j.on_put(result<void>{});
  }
  if (!r) return j.on_get(r.err());
  if (r->status == 404) return j.on_get(make_error(errc::not_found, "no object " + j.key));
  if (r->status != 200) return j.on_get(refused(s, method, j.key, r->status, r->error_body));
  return j.on_get(std::move(r->received_sha256));
}

net::awaitable<void> run_job(std::shared_ptr<s3_client::shared> state, std::shared_ptr<s3_client::job> j) {
  result<answer> r = make_error(errc::internal, "object store request failed");
  try {
    r = co_await perform(state, j);
  } catch (const std::exception& e) {
    r = make_error(errc::internal, std::string("object store request failed: ") + e.what());
  }
  finish(state->settings, *j, std::move(r));
}

}  // namespace

s3_client::s3_client(net::any_io_executor executor, s3_settings settings)
    : executor_(std::move(executor)), shared_(std::make_shared<shared>()) {
  shared_->settings = std::move(settings);
  if (shared_->settings.endpoint.tls) {
    shared_->tls = std::make_unique<ssl::context>(ssl::context::tls_client);
    shared_->tls->set_default_verify_paths();
    shared_->tls->set_verify_mode(ssl::verify_peer);
  }
}

s3_client::~s3_client() = default;

const s3_settings& s3_client::settings() const { return shared_->settings; }

void s3_client::run(std::shared_ptr<job> j) { net::co_spawn(executor_, run_job(shared_, std::move(j)), net::detached); }

void s3_client::head(std::string key, std::function<void(result<std::optional<std::uint64_t>>)> done) {
  auto j = std::make_shared<job>();
  j->method = http::verb::head;
  j->key = std::move(key);
  j->on_head = std::move(done);
  run(std::move(j));
}

void s3_client::put(std::string key, std::filesystem::path file, std::uint64_t size, std::string sha256,
                    std::function<void(result<void>)> done) {
  auto j = std::make_shared<job>();
  j->method = http::verb::put;
  j->key = std::move(key);
  j->upload = std::move(file);
  j->size = size;
  j->payload_sha256 = std::move(sha256);
  j->on_put = std::move(done);
  run(std::move(j));
}

void s3_client::get(std::string key, std::filesystem::path dest, std::uint64_t max_size,
                    std::function<void(result<std::string>)> done) {
  auto j = std::make_shared<job>();
  j->method = http::verb::get;
  j->key = std::move(key);
  j->download = std::move(dest);
  j->max_download = max_size;
  j->on_get = std::move(done);
  run(std::move(j));
}

}  // namespace parley
