#include "server/s3_blob_store.hpp"

#include "protocol/files.hpp"
#include "server/blob_cache.hpp"
#include "server/config.hpp"
#include "storage/log.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

namespace parley {
namespace net = boost::asio;
namespace fs = std::filesystem;

namespace {

void remove_quietly(const fs::path& path) {
  std::error_code ec;
  fs::remove(path, ec);
}

class s3_blob_store final : public blob_store {
 public:
  explicit s3_blob_store(s3_blob_store_options options)
      : options_(std::move(options)),
        staging_(options_.files_dir / "tmp"),
        cache_dir_(options_.files_dir / "s3-cache"),
        work_(net::make_work_guard(io_)),
        client_(io_.get_executor(), options_.s3),
        cache_(options_.cache_bytes, options_.cache_grace) {
    fs::create_directories(staging_);
    fs::create_directories(cache_dir_);
    clean_up();
    thread_ = std::thread([this] { io_.run(); });
  }

  ~s3_blob_store() override {
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  fs::path staging_dir() const override { return staging_; }

  void store(fs::path staged, std::string sha256, std::uint64_t size, std::function<void(result<void>)> done) override {
    net::post(io_, [this, staged = std::move(staged), sha256 = std::move(sha256), size, done = std::move(done)]() mutable {
      if (!is_sha256_hex(sha256)) {
        remove_quietly(staged);
        return done(make_error(errc::bad_request, "not a SHA-256"));
      }
      auto key = s3_object_key(sha256);
      client_.head(key, [this, staged, sha256, size, done](result<std::optional<std::uint64_t>> there) mutable {
        // A store that is down fails the upload now; any other answer but
        // "there, with this size" is left to the PUT, whose answer decides.
        if (!there && there.err().code == errc::unavailable) {
          remove_quietly(staged);
          return done(there.err());
        }
        if (there && *there && **there == size) {
          adopt(staged, sha256, size);
          return done(result<void>{});
        }
        client_.put(s3_object_key(sha256), staged, size, sha256, [this, staged, sha256, size, done](result<void> put) {
          if (put) {
            adopt(staged, sha256, size);
          } else {
            remove_quietly(staged);
          }
          done(std::move(put));
        });
      });
    });
  }

  void local_file(std::string sha256, std::function<void(result<fs::path>)> done) override {
    net::post(io_, [this, sha256 = std::move(sha256), done = std::move(done)]() mutable {
      if (!is_sha256_hex(sha256)) return done(make_error(errc::not_found, "no such file"));
      if (cache_.hand_out(sha256, std::chrono::steady_clock::now())) return done(cache_dir_ / sha256);
      auto& waiting = downloads_[sha256];
      waiting.push_back(std::move(done));
      if (waiting.size() == 1) download(sha256);
    });
  }

 private:
  // Removes what an interrupted upload or download left behind, and takes
  // the complete cached files back into the cache, oldest first.
  void clean_up() {
    for (const auto& entry : fs::directory_iterator(staging_)) remove_quietly(entry.path());
    struct found {
      std::string sha256;
      std::uint64_t size;
      fs::file_time_type written;
    };
    std::vector<found> kept;
    for (const auto& entry : fs::directory_iterator(cache_dir_)) {
      auto name = entry.path().filename().string();
      std::error_code ec;
      if (!is_sha256_hex(name) || !entry.is_regular_file(ec)) {
        fs::remove_all(entry.path(), ec);
        continue;
      }
      kept.push_back({name, static_cast<std::uint64_t>(entry.file_size()), entry.last_write_time()});
    }
    std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a.written < b.written; });
    auto now = std::chrono::steady_clock::now();
    for (const auto& f : kept) cache_.add(f.sha256, f.size, now, false);
    evict(now);
  }

  // Moves a stored upload into the cache (same file system: a rename).
  void adopt(const fs::path& staged, const std::string& sha256, std::uint64_t size) {
    if (cache_.contains(sha256)) return remove_quietly(staged);
    std::error_code ec;
    fs::rename(staged, cache_dir_ / sha256, ec);
    if (ec) return remove_quietly(staged);
    auto now = std::chrono::steady_clock::now();
    cache_.add(sha256, size, now, false);
    evict(now);
  }

  void download(const std::string& sha256) {
    auto temp = cache_dir_ / (sha256 + "." + std::to_string(++downloads_started_) + ".part");
    client_.get(s3_object_key(sha256), temp, options_.max_object_bytes, [this, sha256, temp](result<std::string> got) {
      auto answer = finish_download(sha256, temp, std::move(got));
      auto waiting = std::move(downloads_[sha256]);
      downloads_.erase(sha256);
      for (auto& done : waiting) done(answer);
    });
  }

  result<fs::path> finish_download(const std::string& sha256, const fs::path& temp, result<std::string> got) {
    if (!got) {
      remove_quietly(temp);
      return got.err();
    }
    if (*got != sha256) {
      remove_quietly(temp);
      log_event(log_level::error, "s3_corrupt_object", {{"key", s3_object_key(sha256)}, {"received_sha256", *got}});
      return make_error(errc::internal, "the object store returned other bytes for " + sha256);
    }
    std::error_code ec;
    auto size = fs::file_size(temp, ec);
    auto target = cache_dir_ / sha256;
    if (!ec) fs::rename(temp, target, ec);
    if (ec) {
      remove_quietly(temp);
      return make_error(errc::internal, "cannot keep the downloaded file: " + ec.message());
    }
    auto now = std::chrono::steady_clock::now();
    cache_.add(sha256, size, now, true);
    evict(now);
    return target;
  }

  void evict(std::chrono::steady_clock::time_point now) {
    for (const auto& sha256 : cache_.evict(now)) remove_quietly(cache_dir_ / sha256);
  }

  s3_blob_store_options options_;
  fs::path staging_;
  fs::path cache_dir_;
  net::io_context io_{1};
  net::executor_work_guard<net::io_context::executor_type> work_;
  s3_client client_;
  // Touched on the store's thread only.
  blob_cache cache_;
  std::unordered_map<std::string, std::vector<std::function<void(result<fs::path>)>>> downloads_;
  std::uint64_t downloads_started_ = 0;
  std::thread thread_;
};

}  // namespace

std::string s3_object_key(const std::string& sha256) { return "files/" + sha256.substr(0, 2) + "/" + sha256; }

std::shared_ptr<blob_store> make_s3_blob_store(s3_blob_store_options options) {
  return std::make_shared<s3_blob_store>(std::move(options));
}

std::shared_ptr<blob_store> make_s3_blob_store(const config& cfg, const fs::path& files_dir) {
  s3_blob_store_options options;
  auto endpoint = parse_s3_endpoint(cfg.s3_endpoint);
  if (!endpoint) throw std::runtime_error("--s3-endpoint: " + endpoint.err().message);
  options.s3.endpoint = *endpoint;
  options.s3.bucket = cfg.s3_bucket;
  options.s3.region = cfg.s3_region;
  options.s3.credentials = {cfg.s3_access_key, cfg.s3_secret_key};
  options.s3.timeout = std::chrono::seconds(cfg.s3_timeout_s);
  options.files_dir = files_dir;
  options.cache_bytes = cfg.s3_cache_size;
  return make_s3_blob_store(std::move(options));
}

}  // namespace parley
