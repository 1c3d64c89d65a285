#pragma once
// One bucket of an S3-compatible object store (AWS S3, MinIO, ...), over
// HTTP or HTTPS with path-style addressing (`/<bucket>/<key>`): HEAD, PUT of
// a file streamed from disk, GET streamed to a file. Every request is signed
// with AWS Signature Version 4 and uses a connection of its own; every
// connect, handshake, read and write has an idle timeout, so a store that
// stops answering fails the request (`unavailable`) instead of holding it.
//
// Threading: the methods may be called from any thread; the work and `done`
// run on the executor given (one thread: the client keeps no shared state).
#include "protocol/result.hpp"
#include "protocol/sigv4.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace parley {

// `http(s)://host[:port]`: where the store listens.
struct s3_endpoint {
  bool tls = false;
  std::string host;
  std::string port;  // "80" / "443" when the URL names none
};

// Parses --s3-endpoint. No path, query, or user part: the bucket is its own option.
result<s3_endpoint> parse_s3_endpoint(std::string_view url);

// The Host header for `e`: an IPv6 host in brackets, the port only when it is
// not the scheme's default (also the webhook client's).
std::string host_header(const s3_endpoint& e);

struct s3_settings {
  s3_endpoint endpoint;
  std::string bucket;
  std::string region = "us-east-1";
  sigv4::credentials credentials;
  // Longest wait for any single step (connect, handshake, one read or write).
  std::chrono::seconds timeout{30};
};

class s3_client {
 public:
  // TLS peers are verified against the system's certificate authorities and
  // the endpoint's host name.
  s3_client(boost::asio::any_io_executor executor, s3_settings settings);
  ~s3_client();

  // The object's size, or nullopt when the bucket has no such key.
  void head(std::string key, std::function<void(result<std::optional<std::uint64_t>>)> done);

  // Uploads `file` (`size` bytes whose hex SHA-256 is `sha256`, which the
  // store checks); success only on 200.
  void put(std::string key, std::filesystem::path file, std::uint64_t size, std::string sha256,
           std::function<void(result<void>)> done);

  // Downloads the object into `dest` (created or truncated; up to
  // `max_size` bytes) and answers the hex SHA-256 of the bytes received.
  // `not_found` when the bucket has no such key. On an error `dest` may hold
  // part of the object: the caller removes it.
  void get(std::string key, std::filesystem::path dest, std::uint64_t max_size,
           std::function<void(result<std::string>)> done);

  const s3_settings& settings() const;

  struct job;  // one request: what to send, and whom to answer
  struct shared;  // the settings and TLS context, kept alive by the requests in flight

 private:
  void run(std::shared_ptr<job> j);

  boost::asio::any_io_executor executor_;
  std::shared_ptr<shared> shared_;
};

}  // namespace parley
