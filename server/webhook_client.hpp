#pragma once
// POSTs one webhook (protocol §9.8) to the platform's URL, over HTTP or HTTPS
// (certificate and host name verified against the system's authorities or
// --webhook-ca-file, with SNI). One deadline bounds the whole exchange
// (connect, TLS handshake, write, read): a receiver that never answers holds
// one connection until then, no longer. A 2xx answer is success; any other
// status, a timeout, a refused connection or a TLS failure is an error whose
// short message is recorded as the entry's last_error. The answer's body is
// read up to 64 KiB and discarded.
//
// Threading: post() may be called from any thread; `done` runs on the executor given.
#include "protocol/result.hpp"
#include "server/s3_client.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace parley {

// Where hooks go: the scheme, host and port (as for an object store) and the
// request target (path and query, "/" when the URL has none).
struct webhook_target {
  s3_endpoint endpoint;
  std::string target = "/";
};

// Parses --webhook-url: http(s)://host[:port][/path[?query]], no user part or fragment.
result<webhook_target> parse_webhook_url(std::string_view url);

struct webhook_client_settings {
  webhook_target to;
  std::string ca_file;  // empty: the system's certificate authorities
  std::chrono::milliseconds deadline{10000};
};

// What is sent: the entry's id and body, and the signature header over them.
struct webhook_request {
  std::string event_id;
  std::string signature;
  std::string body;
};

class webhook_client {
 public:
  // Throws std::runtime_error when the CA file cannot be read.
  webhook_client(boost::asio::any_io_executor executor, webhook_client_settings settings);
  ~webhook_client();

  void post(webhook_request request, std::function<void(result<void>)> done);

  struct shared;  // the settings and TLS context, kept alive by the requests in flight

 private:
  boost::asio::any_io_executor executor_;
  std::shared_ptr<shared> shared_;
};

}  // namespace parley
