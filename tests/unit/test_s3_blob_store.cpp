// The S3 store against a real S3-compatible server (s3rver, behind a front
// that checks Signature Version 4 and payload hashes as S3 does), and its
// cache's bookkeeping.
#include "s3rver_fixture.hpp"

#include "protocol/hex.hpp"
#include "server/blob_cache.hpp"
#include "server/s3_blob_store.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include <fstream>
#include <thread>
#include <future>
#include <sstream>

using namespace parley;
namespace fs = std::filesystem;

namespace {

constexpr auto patience = std::chrono::seconds(30);

struct temp_dir : testing::temp_dir {
  temp_dir() : testing::temp_dir("parley-s3-") {}
};

s3_blob_store_options options_for(const testing::s3rver& server, const fs::path& files_dir) {
  s3_blob_store_options o;
  o.s3.endpoint = *parse_s3_endpoint(server.endpoint());
  o.s3.bucket = testing::s3rver::bucket;
  o.s3.credentials = {testing::s3rver::access_key, testing::s3rver::secret_key};
  o.s3.timeout = std::chrono::seconds(10);
  o.files_dir = files_dir;
  return o;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Stages `bytes` the way an upload does, in the store's staging directory.
fs::path stage(blob_store& store, const std::string& bytes, const std::string& name = "upload") {
  auto path = store.staging_dir() / name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

result<void> store_now(blob_store& store, const fs::path& staged, const std::string& bytes) {
  std::promise<result<void>> answer;
  store.store(staged, sha256_hex(bytes), bytes.size(), [&](result<void> r) { answer.set_value(std::move(r)); });
  auto f = answer.get_future();
  REQUIRE(f.wait_for(patience) == std::future_status::ready);
  return f.get();
}

result<fs::path> local_file_now(blob_store& store, const std::string& sha256) {
  std::promise<result<fs::path>> answer;
  store.local_file(sha256, [&](result<fs::path> r) { answer.set_value(std::move(r)); });
  auto f = answer.get_future();
  REQUIRE(f.wait_for(patience) == std::future_status::ready);
  return f.get();
}

std::size_t entries_in(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

std::uint64_t bytes_in(const fs::path& dir) {
  std::uint64_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.file_size();
  return n;
}

std::string pattern(std::size_t size, char seed) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>(seed + i * 7);
  return out;
}

}  // namespace

TEST_CASE("an S3 store keeps a file that another instance sharing the bucket serves back", "[s3]") {
  PARLEY_REQUIRE_S3RVER();
  testing::s3rver server;
  temp_dir a_dir, b_dir;
  auto a = make_s3_blob_store(options_for(server, a_dir.path));
  auto b = make_s3_blob_store(options_for(server, b_dir.path));
  // Larger than one read or write, so that streaming in pieces is exercised.
  auto bytes = pattern(300 * 1024 + 17, 'a');
  auto sha = sha256_hex(bytes);

  auto staged = stage(*a, bytes);
  REQUIRE(store_now(*a, staged, bytes));
  CHECK_FALSE(fs::exists(staged));

  SECTION("storing it again succeeds and keeps nothing staged") {
    auto again = stage(*a, bytes, "again");
    REQUIRE(store_now(*a, again, bytes));
    CHECK_FALSE(fs::exists(again));
    CHECK(entries_in(a->staging_dir()) == 0);
  }

  SECTION("the other instance downloads it, checks it, and caches it") {
    auto path = local_file_now(*b, sha);
    REQUIRE(path);
    CHECK(path->parent_path() == b_dir.path / "s3-cache");
    CHECK(read_file(*path) == bytes);
    CHECK(sha256_hex(read_file(*path)) == sha);
    // Served from the cache the second time, even with the store gone.
    server.kill();
    auto cached = local_file_now(*b, sha);
    REQUIRE(cached);
    CHECK(*cached == *path);
  }

  SECTION("the uploading instance serves it without downloading it") {
    server.kill();
    auto path = local_file_now(*a, sha);
    REQUIRE(path);
    CHECK(read_file(*path) == bytes);
  }

  SECTION("a new instance on the same files directory finds its cache again") {
    a.reset();
    server.kill();
    auto again = make_s3_blob_store(options_for(server, a_dir.path));
    auto path = local_file_now(*again, sha);
    REQUIRE(path);
    CHECK(read_file(*path) == bytes);
  }
}

TEST_CASE("an S3 store answers not_found for a blob the bucket does not hold", "[s3]") {
  PARLEY_REQUIRE_S3RVER();
  testing::s3rver server;
  temp_dir dir;
  auto store = make_s3_blob_store(options_for(server, dir.path));
  auto missing = local_file_now(*store, sha256_hex("never uploaded"));
  REQUIRE_FALSE(missing);
  CHECK(missing.err().code == errc::not_found);
  // Not a hash at all: refused before any path is made of it.
  auto hostile = local_file_now(*store, "../../etc/passwd");
  REQUIRE_FALSE(hostile);
  CHECK(hostile.err().code == errc::not_found);
  CHECK(entries_in(dir.path / "s3-cache") == 0);
}

TEST_CASE("an S3 store refuses an object whose bytes are not its hash", "[s3]") {
  PARLEY_REQUIRE_S3RVER();
  testing::s3rver server;
  temp_dir dir, other;
  auto store = make_s3_blob_store(options_for(server, dir.path));
  auto wanted = std::string("the approved report, version 2");
  auto sha = sha256_hex(wanted);

  // Someone with write access to the bucket puts other bytes under the key.
  boost::asio::io_context io;
  s3_client client(io.get_executor(), options_for(server, other.path).s3);
  auto forged = std::string("something else entirely");
  fs::create_directories(other.path);
  std::ofstream(other.path / "forged", std::ios::binary) << forged;
  std::optional<result<void>> put;
  client.put(s3_object_key(sha), other.path / "forged", forged.size(), sha256_hex(forged),
             [&](result<void> r) { put = std::move(r); });
  io.run();
  REQUIRE(put);
  REQUIRE(*put);

  auto served = local_file_now(*store, sha);
  REQUIRE_FALSE(served);
  CHECK(served.err().code == errc::internal);
  CHECK(entries_in(dir.path / "s3-cache") == 0);  // neither the file nor a temporary one
}

TEST_CASE("an S3 store keeps its cache within its size", "[s3]") {
  PARLEY_REQUIRE_S3RVER();
  testing::s3rver server;
  temp_dir writer_dir, reader_dir;
  auto writer = make_s3_blob_store(options_for(server, writer_dir.path));
  auto reader_options = options_for(server, reader_dir.path);
  reader_options.cache_bytes = 3000;
  reader_options.cache_grace = std::chrono::seconds(0);
  auto reader = make_s3_blob_store(reader_options);

  std::vector<std::string> shas;
  for (char seed : {'a', 'b', 'c', 'd', 'e'}) {
    auto bytes = pattern(1200, seed);
    REQUIRE(store_now(*writer, stage(*writer, bytes), bytes));
    shas.push_back(sha256_hex(bytes));
  }
  for (const auto& sha : shas) {
    auto path = local_file_now(*reader, sha);
    REQUIRE(path);
    CHECK(fs::exists(*path));  // the file just fetched is kept
    CHECK(bytes_in(reader_dir.path / "s3-cache") <= 3000);
  }
  CHECK(fs::exists(reader_dir.path / "s3-cache" / shas.back()));
  CHECK_FALSE(fs::exists(reader_dir.path / "s3-cache" / shas.front()));
}

TEST_CASE("an S3 store whose signature the server refuses stores nothing", "[s3]") {
  PARLEY_REQUIRE_S3RVER();
  testing::s3rver server;
  temp_dir dir;
  auto o = options_for(server, dir.path);
  o.s3.credentials.secret_key = "not the secret";
  auto store = make_s3_blob_store(o);
  auto bytes = std::string("signed with the wrong secret");
  auto staged = stage(*store, bytes);
  auto stored = store_now(*store, staged, bytes);
  REQUIRE_FALSE(stored);
  CHECK(stored.err().code == errc::internal);
  CHECK(entries_in(store->staging_dir()) == 0);
  CHECK(entries_in(dir.path / "s3-cache") == 0);
}

TEST_CASE("an S3 store that cannot be reached is unavailable and keeps nothing", "[s3]") {
  temp_dir dir;
  s3_blob_store_options o;
  o.s3.endpoint = *parse_s3_endpoint("http://127.0.0.1:" + std::to_string(testing::free_loopback_port()));
  o.s3.bucket = "parley-test";
  o.s3.credentials = {"key", "secret"};
  o.s3.timeout = std::chrono::seconds(5);
  o.files_dir = dir.path;
  auto store = make_s3_blob_store(o);
  auto bytes = std::string("an upload while the store is down");
  auto staged = stage(*store, bytes);
  auto stored = store_now(*store, staged, bytes);
  REQUIRE_FALSE(stored);
  CHECK(stored.err().code == errc::unavailable);
  CHECK(entries_in(store->staging_dir()) == 0);
  auto read = local_file_now(*store, sha256_hex(bytes));
  REQUIRE_FALSE(read);
  CHECK(read.err().code == errc::unavailable);
}

TEST_CASE("an S3 store refuses an https endpoint whose certificate it cannot verify", "[s3]") {
  if (::access("/usr/bin/openssl", X_OK) != 0) {
    WARN("skipped: /usr/bin/openssl is not installed");
    return;
  }
  // A TLS server with a self-signed certificate for 127.0.0.1: trusted by no
  // system authority, so the handshake must fail before anything is sent.
  temp_dir tls, dir;
  auto key = (tls.path / "key.pem").string(), cert = (tls.path / "cert.pem").string();
  pid_t made = testing::spawn_logged({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                      "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days",
                                      "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"},
                                     tls.path / "openssl.log");
  int status = 0;
  ::waitpid(made, &status, 0);
  REQUIRE(fs::exists(cert));
  int port = testing::free_loopback_port();
  pid_t server = testing::spawn_logged({"/usr/bin/openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port),
                                        "-cert", cert, "-key", key, "-www", "-quiet"},
                                       tls.path / "s_server.log");
  for (int i = 0; i < 200 && !testing::loopback_port_open(port); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));

  s3_blob_store_options o;
  o.s3.endpoint = *parse_s3_endpoint("https://127.0.0.1:" + std::to_string(port));
  o.s3.bucket = "parley-test";
  o.s3.credentials = {"key", "secret"};
  o.s3.timeout = std::chrono::seconds(5);
  o.files_dir = dir.path;
  auto store = make_s3_blob_store(o);
  auto bytes = std::string("never sent to an unverified peer");
  auto stored = store_now(*store, stage(*store, bytes), bytes);
  testing::kill_child(server);
  REQUIRE_FALSE(stored);
  CHECK(stored.err().code == errc::unavailable);
  CHECK(stored.err().message.find("TLS handshake") != std::string::npos);
  CHECK(entries_in(store->staging_dir()) == 0);
}

TEST_CASE("the S3 store's endpoint is http(s)://host[:port] and nothing more", "[s3]") {
  auto plain = parse_s3_endpoint("http://127.0.0.1:9000");
  REQUIRE(plain);
  CHECK_FALSE(plain->tls);
  CHECK(plain->host == "127.0.0.1");
  CHECK(plain->port == "9000");
  auto aws = parse_s3_endpoint("https://s3.eu-west-1.amazonaws.com/");
  REQUIRE(aws);
  CHECK(aws->tls);
  CHECK(aws->port == "443");
  auto v6 = parse_s3_endpoint("http://[::1]:9000");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  for (const char* bad : {"ftp://host", "host:9000", "http://", "http://host:0", "http://host:99999",
                          "http://host/bucket", "http://user@host", "http://host:9x"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_s3_endpoint(bad));
  }
}

TEST_CASE("the blob cache evicts the least recently used beyond its size", "[server]") {
  using namespace std::chrono_literals;
  blob_cache cache(1000, 60s);
  blob_cache::clock::time_point t0{};
  auto t = [&](auto d) { return t0 + 1h + d; };
  cache.add("a", 400, t(0s), false);
  cache.add("b", 400, t(1s), false);
  CHECK(cache.evict(t(2s)).empty());
  CHECK(cache.hand_out("a", t(3s)));  // a is now the most recently used
  cache.add("c", 400, t(4s), false);
  CHECK(cache.evict(t(5s)) == std::vector<std::string>{"b"});
  CHECK(cache.bytes() == 800);
  CHECK_FALSE(cache.hand_out("b", t(6s)));
}

TEST_CASE("the blob cache never evicts a blob handed out within its grace", "[server]") {
  using namespace std::chrono_literals;
  blob_cache cache(1000, 60s);
  blob_cache::clock::time_point t0 = blob_cache::clock::time_point{} + 1h;
  cache.add("a", 800, t0, true);
  cache.add("b", 800, t0 + 1s, true);
  // Both are being served: the cache stays over its size for now.
  CHECK(cache.evict(t0 + 2s).empty());
  CHECK(cache.bytes() == 1600);
  // A minute later the downloads have their files open: the older one goes.
  CHECK(cache.evict(t0 + 61s) == std::vector<std::string>{"a"});
  CHECK(cache.bytes() == 800);
}
