#include "server/webhook_client.hpp"

#include "protocol/version.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/ssl.h>

#include <stdexcept>

namespace parley {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
// The receiver's answer body matters to no one: read this far, then dropped.
constexpr std::size_t max_answer_body = 64 * 1024;

error failed_step(std::string_view step, const boost::system::error_code& ec) {
  if (ec == beast::error::timeout || ec == net::error::operation_aborted)
    return make_error(errc::unavailable, "timeout (" + std::string(step) + ")");
  return make_error(errc::unavailable, std::string(step) + ": " + ec.message());
}

}  // namespace

result<webhook_target> parse_webhook_url(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos)
    return make_error(errc::bad_request, "'" + std::string(url) + "' is not an http(s) URL");
  auto path_at = url.find('/', scheme_end + 3);
  auto authority = url.substr(0, path_at);
  auto endpoint = parse_s3_endpoint(authority);
  if (!endpoint) return endpoint.err();
  webhook_target out;
  out.endpoint = std::move(endpoint.value());
  if (path_at != std::string_view::npos) {
    auto target = url.substr(path_at);
    // Sent as is in the request line: nothing that would end or split it.
    for (unsigned char ch : target)
      if (ch <= 0x20 || ch >= 0x7f || ch == '#')
        return make_error(errc::bad_request, "'" + std::string(url) + "': the path holds a space, control or '#' character");
    out.target = std::string(target);
  }
  return out;
}

struct webhook_client::shared {
  webhook_client_settings settings;
  std::unique_ptr<ssl::context> tls;  // https only
};

namespace {

template <class Stream>
net::awaitable<result<void>> exchange(Stream& stream, const webhook_client_settings& s, const webhook_request& r) {
  http::request<http::string_body> req{http::verb::post, s.to.target, 11};
  req.set(http::field::host, host_header(s.to.endpoint));
  req.set(http::field::user_agent, std::string("Parley/") + version);
  req.set(http::field::content_type, "application/json");
  req.set("Parley-Event-Id", r.event_id);
  req.set("Parley-Signature", r.signature);
  req.set(http::field::connection, "close");
  req.body() = r.body;
  req.prepare_payload();
  auto [wec, wn] = co_await http::async_write(stream, req, use_tuple);
  if (wec) co_return failed_step("sending", wec);

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> answer;
  answer.body_limit(max_answer_body);
  auto [hec, hn] = co_await http::async_read_header(stream, buffer, answer, use_tuple);
  if (hec) co_return failed_step("reading the answer", hec);
  // The body is read for the receiver's sake (it finishes its write); a long
  // or broken one does not change the verdict, which is the status.
  co_await http::async_read(stream, buffer, answer, use_tuple);
  auto status = answer.get().result_int();
  if (status < 200 || status > 299) co_return make_error(errc::unavailable, "HTTP " + std::to_string(status));
  co_return result<void>{};
}

net::awaitable<result<void>> perform(std::shared_ptr<webhook_client::shared> state, webhook_request r) {
  const auto& s = state->settings;
  const auto& to = s.to.endpoint;
  auto executor = co_await net::this_coro::executor;
  auto deadline = std::chrono::steady_clock::now() + s.deadline;
  tcp::resolver resolver(executor);
  // A lookup cannot be interrupted (getaddrinfo on Asio's own thread): it is
  // bounded by the system resolver's own timeout; a URL with an IP address needs none.
  auto [rec, endpoints] = co_await resolver.async_resolve(to.host, to.port, use_tuple);
  if (rec) co_return failed_step("resolving " + to.host, rec);
  beast::tcp_stream socket(executor);
  // One deadline for everything that follows: the stream's timer is not renewed.
  socket.expires_at(deadline);
  auto [cec, ep] = co_await socket.async_connect(endpoints, use_tuple);
  if (cec) co_return failed_step("connecting", cec);
  if (!to.tls) co_return co_await exchange(socket, s, r);

  beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *state->tls);
  if (!SSL_set_tlsext_host_name(stream.native_handle(), to.host.c_str()))
    co_return make_error(errc::internal, "cannot set the TLS server name");
  stream.set_verify_callback(ssl::host_name_verification(to.host));
  auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, use_tuple);
  if (hec) co_return failed_step("TLS handshake", hec);
  co_return co_await exchange(stream, s, r);
}

net::awaitable<void> run_post(std::shared_ptr<webhook_client::shared> state, webhook_request r,
                              std::function<void(result<void>)> done) {
  result<void> out = make_error(errc::internal, "webhook request failed");
  try {
    out = co_await perform(std::move(state), std::move(r));
  } catch (const std::exception& e) {
    out = make_error(errc::internal, std::string("webhook request failed: ") + e.what());
  }
  done(std::move(out));
}

}  // namespace

webhook_client::webhook_client(net::any_io_executor executor, webhook_client_settings settings)
    : executor_(std::move(executor)), shared_(std::make_shared<shared>()) {
  shared_->settings = std::move(settings);
  if (shared_->settings.to.endpoint.tls) {
    shared_->tls = std::make_unique<ssl::context>(ssl::context::tls_client);
    boost::system::error_code ec;
    if (shared_->settings.ca_file.empty()) {
      shared_->tls->set_default_verify_paths(ec);
    } else {
      shared_->tls->load_verify_file(shared_->settings.ca_file, ec);
    }
    if (ec) throw std::runtime_error("cannot load the webhook CA certificates: " + ec.message());
    shared_->tls->set_verify_mode(ssl::verify_peer);
  }
}

webhook_client::~webhook_client() = default;

void webhook_client::post(webhook_request request, std::function<void(result<void>)> done) {
  net::co_spawn(executor_, run_post(shared_, std::move(request), std::move(done)), net::detached);
}

}  // namespace parley
