#include "tests/bench/stats.hpp"

#include <bit>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/resource.h>
#include <unistd.h>

namespace parley::bench {

namespace {

constexpr int sub_bits = 7;
constexpr std::uint64_t sub_count = 1u << sub_bits;

std::size_t bucket_of(std::uint64_t v) {
  if (v < sub_count) return static_cast<std::size_t>(v);
  int exponent = 63 - std::countl_zero(v);  // >= sub_bits
  std::uint64_t mantissa = (v >> (exponent - sub_bits)) & (sub_count - 1);
  return static_cast<std::size_t>(sub_count + static_cast<std::uint64_t>(exponent - sub_bits) * sub_count + mantissa);
}

// The largest value of a bucket (the percentile is reported as an upper bound).
std::int64_t bucket_top(std::size_t b) {
  if (b < sub_count) return static_cast<std::int64_t>(b);
  std::uint64_t exponent = (b - sub_count) / sub_count + sub_bits;
  std::uint64_t mantissa = (b - sub_count) % sub_count;
  std::uint64_t low = (sub_count | mantissa) << (exponent - sub_bits);
  return static_cast<std::int64_t>(low + (std::uint64_t{1} << (exponent - sub_bits)) - 1);
}

}  // namespace

latency_histogram::latency_histogram() : buckets_(sub_count + (64 - sub_bits) * sub_count, 0) {}

void latency_histogram::add(std::int64_t ns) {
  std::uint64_t v = ns < 0 ? 0 : static_cast<std::uint64_t>(ns);
  ++buckets_[bucket_of(v)];
  ++count_;
  if (ns > max_) max_ = ns;
}

std::int64_t latency_histogram::percentile(double fraction) const {
  if (count_ == 0) return 0;
  auto rank = static_cast<std::uint64_t>(fraction * static_cast<double>(count_));
  if (rank >= count_) rank = count_ - 1;
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    seen += buckets_[b];
    if (seen > rank) return std::min(bucket_top(b), max_);
  }
  return max_;
}

std::int64_t process_cpu_ns(int pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return -1;
  // The command name may hold spaces and parentheses: fields count from the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  long long utime = 0, stime = 0;
  // After ')': state is field 3; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::atoll(field.c_str());
    if (i == 15) stime = std::atoll(field.c_str());
  }
  long ticks = sysconf(_SC_CLK_TCK);
  return (utime + stime) * (1'000'000'000 / ticks);
}

std::int64_t process_rss_kib(int pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", pid);
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("VmRSS:")) return std::atoll(line.c_str() + 6);
  return -1;
}

std::int64_t own_cpu_ns() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& t) { return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_usec * 1000; };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

std::uint64_t raise_file_limit() {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  getrlimit(RLIMIT_NOFILE, &lim);
  return lim.rlim_cur;
}

}  // namespace parley::bench
