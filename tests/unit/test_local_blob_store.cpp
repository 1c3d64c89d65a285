// The directory store of files and the staged upload that hashes as it writes.
#include "server/local_blob_store.hpp"
#include "server/upload_body.hpp"

#include <catch2/catch.hpp>

#include "test_processes.hpp"

#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

using namespace parley;
namespace fs = std::filesystem;

namespace {
// Each test's own directory.
struct temp_dir : parley::testing::temp_dir {
  temp_dir() : parley::testing::temp_dir("parley-blobs-") {}
};

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Stages `bytes` in the store's staging directory; the digest and the staged path.
std::pair<std::string, fs::path> stage(blob_store& store, std::string_view bytes) {
  staged_upload up;
  REQUIRE(up.open(store.staging_dir()));
  REQUIRE(up.write(bytes.data(), bytes.size()));
  auto digest = up.finish();
  REQUIRE(digest);
  return {*digest, up.release()};
}

result<void> store_sync(blob_store& store, fs::path staged, std::string sha, std::uint64_t size) {
  std::promise<result<void>> p;
  auto f = p.get_future();
  store.store(std::move(staged), std::move(sha), size, [&p](result<void> r) { p.set_value(std::move(r)); });
  return f.get();
}

result<fs::path> local_sync(blob_store& store, std::string sha) {
  std::promise<result<fs::path>> p;
  auto f = p.get_future();
  store.local_file(std::move(sha), [&p](result<fs::path> r) { p.set_value(std::move(r)); });
  return f.get();
}
}  // namespace

TEST_CASE("a staged upload hashes what it writes with SHA-256", "[server]") {
  temp_dir dir;
  staged_upload up;
  REQUIRE(up.open(dir.path));
  REQUIRE(up.write("ab", 2));
  REQUIRE(up.write("c", 1));
  auto digest = up.finish();
  REQUIRE(digest);
  CHECK(*digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(up.size() == 3);
}

TEST_CASE("a staged upload that is not released leaves nothing behind", "[server]") {
  temp_dir dir;
  {
    staged_upload up;
    REQUIRE(up.open(dir.path));
    REQUIRE(up.write("partial", 7));
    CHECK(fs::directory_iterator(dir.path) != fs::directory_iterator());
  }
  CHECK(fs::directory_iterator(dir.path) == fs::directory_iterator());
}

TEST_CASE("the directory store keeps a file under ab/cd/<sha256>, twice as well as once", "[server]") {
  temp_dir dir;
  local_blob_store store(dir.path / "files");
  auto [sha, staged] = stage(store, "hello");
  REQUIRE(store_sync(store, staged, sha, 5));
  CHECK_FALSE(fs::exists(staged));
  auto at = dir.path / "files" / sha.substr(0, 2) / sha.substr(2, 2) / sha;
  CHECK(read_all(at) == "hello");

  auto [sha2, staged2] = stage(store, "hello");
  CHECK(sha2 == sha);
  REQUIRE(store_sync(store, staged2, sha2, 5));
  CHECK_FALSE(fs::exists(staged2));
  auto local = local_sync(store, sha);
  REQUIRE(local);
  CHECK(read_all(*local) == "hello");

  auto missing = local_sync(store, std::string(64, '0'));
  REQUIRE_FALSE(missing);
  CHECK(missing.err().code == errc::not_found);
}

TEST_CASE("the directory store serves only names that are hashes", "[server]") {
  temp_dir dir;
  local_blob_store store(dir.path / "files");
  // A file laid out like a blob, under a name that is no lowercase hash.
  for (const std::string name : {std::string(64, 'z'), std::string(64, 'A'), std::string(63, 'a')}) {
    const auto at = dir.path / "files" / name.substr(0, 2) / name.substr(2, 2) / name;
    fs::create_directories(at.parent_path());
    std::ofstream(at) << "not a blob";
    auto served = local_sync(store, name);
    REQUIRE_FALSE(served);
    CHECK(served.err().code == errc::not_found);
  }
}

TEST_CASE("the directory store removes what interrupted uploads left staged when it starts", "[server]") {
  temp_dir dir;
  fs::create_directories(dir.path / "files" / "tmp");
  std::ofstream(dir.path / "files" / "tmp" / "left.part") << "half an upload";
  local_blob_store store(dir.path / "files");
  CHECK(fs::directory_iterator(store.staging_dir()) == fs::directory_iterator());
}
