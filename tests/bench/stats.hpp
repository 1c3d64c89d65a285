#pragma once
// Figures of a load run: a latency histogram of bounded size (any number of
// samples, ~1 % precision), and readings of a process from /proc.
#include <cstdint>
#include <string>
#include <vector>

namespace parley::bench {

// Log-linear buckets over nanoseconds: exact below 128 ns, then 128 buckets
// per power of two, so a percentile is within 1 % of the true sample.
class latency_histogram {
 public:
  latency_histogram();
  void add(std::int64_t ns);
  std::uint64_t count() const { return count_; }
  // The value at or below which `fraction` (0..1) of the samples fall; 0 when empty.
  std::int64_t percentile(double fraction) const;
  std::int64_t max() const { return max_; }

 private:
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0;
  std::int64_t max_ = 0;
};

// CPU (user + system) a process used so far, in nanoseconds; -1 when unreadable.
std::int64_t process_cpu_ns(int pid);
// Its resident set (VmRSS) in KiB; -1 when unreadable.
std::int64_t process_rss_kib(int pid);
// This process's own CPU (user + system) in nanoseconds.
std::int64_t own_cpu_ns();
// Raises this process's RLIMIT_NOFILE to its hard limit; returns the soft limit now.
std::uint64_t raise_file_limit();

}  // namespace parley::bench
