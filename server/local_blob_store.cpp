#include "server/local_blob_store.hpp"

#include "protocol/files.hpp"
#include "storage/fsync_path.hpp"
#include "storage/log.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace parley {
namespace fs = std::filesystem;

namespace {
// Stores waiting beyond this many are refused (`unavailable`): memory stays
// bounded when the disk cannot keep up.
constexpr std::size_t max_queued = 1024;

result<void> io_error(const std::string& what, int err) {
  return make_error(errc::unavailable, what + ": " + std::strerror(err));
}

// Creates `dir` (one level) when missing and makes its entry durable in the parent.
result<void> ensure_dir(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return {};
  if (!fs::create_directory(dir, ec) && ec) return io_error("cannot create " + dir.string(), ec.value());
  return fsync_path(dir.parent_path());
}
}  // namespace

local_blob_store::local_blob_store(fs::path dir) : dir_(std::move(dir)), queue_(max_queued) {
  std::error_code ec;
  fs::create_directories(staging_dir(), ec);
  if (ec) throw std::runtime_error("cannot create " + staging_dir().string() + ": " + ec.message());
  // Whatever is staged belongs to an upload that never finished.
  std::size_t removed = 0;
  for (const auto& entry : fs::directory_iterator(staging_dir(), ec)) {
    std::error_code ignored;
    if (fs::remove(entry.path(), ignored)) ++removed;
  }
  if (ec) throw std::runtime_error("cannot read " + staging_dir().string() + ": " + ec.message());
  if (removed) log_event(log_level::info, "staged_files_removed", {{"count", std::to_string(removed)}});
  thread_ = std::thread([this] { loop(); });
}

local_blob_store::~local_blob_store() {
  queue_.close();
  if (thread_.joinable()) thread_.join();
}

fs::path local_blob_store::path_of(const std::string& sha256) const {
  return dir_ / sha256.substr(0, 2) / sha256.substr(2, 2) / sha256;
}

void local_blob_store::post(job j) {
  admission admitted = queue_.push(j);
  if (admitted == admission::queued) return;
  error refused = refusal_of(admitted);
  j(&refused);
}

void local_blob_store::loop() {
  for (std::vector<job> jobs; queue_.take(jobs, 1); jobs.clear()) jobs.front()(nullptr);
}

void local_blob_store::store(fs::path staged, std::string sha256, std::uint64_t,
                             std::function<void(result<void>)> done) {
  post([this, staged = std::move(staged), sha256 = std::move(sha256), done = std::move(done)](const error* refused) {
    if (refused) {
      std::error_code ignored;
      fs::remove(staged, ignored);
      return done(*refused);
    }
    auto stored = do_store(staged, sha256);
    if (!stored) {
      std::error_code ignored;
      fs::remove(staged, ignored);
    }
    done(stored);
  });
}

// fsync of the staged bytes, rename into place, fsync of the directory that
// now names it: after that the file survives a crash of the machine.
result<void> local_blob_store::do_store(const fs::path& staged, const std::string& sha256) {
  if (auto synced = fsync_path(staged); !synced) return synced;
  auto target = path_of(sha256);
  if (auto made = ensure_dir(target.parent_path().parent_path()); !made) return made;
  if (auto made = ensure_dir(target.parent_path()); !made) return made;
  if (::rename(staged.c_str(), target.c_str()) != 0) return io_error("cannot store " + target.string(), errno);
  return fsync_path(target.parent_path());
}

void local_blob_store::local_file(std::string sha256, std::function<void(result<fs::path>)> done) {
  post([this, sha256 = std::move(sha256), done = std::move(done)](const error* refused) {
    if (refused) return done(*refused);
    // The name becomes a path: only a hash may, whatever a caller passes.
    if (!is_sha256_hex(sha256)) return done(make_error(errc::not_found, "no such file"));
    auto path = path_of(sha256);
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return done(make_error(errc::not_found, "no such file"));
    done(path);
  });
}

}  // namespace parley
