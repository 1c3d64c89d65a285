#include "server/latency_histogram.hpp"

#include <algorithm>

namespace parley {

void latency_histogram::observe(std::chrono::steady_clock::duration took) {
  auto us = std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(took).count());
  double seconds = static_cast<double>(us) / 1e6;
  auto bucket = std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin();
  counts_[static_cast<std::size_t>(bucket)].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(static_cast<std::uint64_t>(us), std::memory_order_relaxed);
}

void latency_histogram::render(std::ostream& out, const char* name, const char* help) const {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " histogram\n";
  // Buckets are cumulative; the count read once per bucket may run ahead of
  // _count by what was observed meanwhile, never behind.
  std::uint64_t below = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    below += counts_[i].load(std::memory_order_relaxed);
    out << name << "_bucket{le=\"" << bounds[i] << "\"} " << below << '\n';
  }
  below += counts_[bounds.size()].load(std::memory_order_relaxed);
  out << name << "_bucket{le=\"+Inf\"} " << below << '\n'
      << name << "_sum " << static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / 1e6 << '\n'
      << name << "_count " << below << '\n';
}

}  // namespace parley
