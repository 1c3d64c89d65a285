#pragma once
// A bounded queue of jobs for one thread of the embedded engine (the writer
// and the reader each have one): callers push from any thread, the thread
// takes the jobs in order. Past its cap a job is refused, so memory stays
// bounded when the disk cannot keep up; once closed nothing more is queued,
// and what was queued before still runs.
#include "protocol/result.hpp"
#include "storage/refusals.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace parley {

enum class admission { queued, closed, full };

// What a caller whose job was not queued is answered.
inline error refusal_of(admission a) { return a == admission::closed ? storage_stopping() : storage_busy(); }

template <class Job>
class job_queue {
 public:
  explicit job_queue(std::size_t max_size) : max_size_(max_size) {}

  // Queues `job`; it is moved from only when queued.
  admission push(Job& job) {
    std::lock_guard lock(mutex_);
    if (closed_) return admission::closed;
    if (jobs_.size() >= max_size_) return admission::full;
    jobs_.push_back(std::move(job));
    // The thread waits only for an empty queue to fill.
    if (jobs_.size() == 1) cv_.notify_one();
    return admission::queued;
  }

  // Waits for a job, then moves up to `max` of them into `out`, oldest first.
  // With `gather_until` in the future and fewer than `max` queued, it lets
  // jobs gather until then first (without waking for each one).
  // False once the queue is closed and empty: the thread is done.
  bool take(std::vector<Job>& out, std::size_t max,
            std::chrono::steady_clock::time_point gather_until = std::chrono::steady_clock::time_point::min()) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return !jobs_.empty() || closed_; });
    if (jobs_.empty()) return false;
    if (!closed_ && jobs_.size() < max && std::chrono::steady_clock::now() < gather_until) {
      lock.unlock();
      std::this_thread::sleep_until(gather_until);
      lock.lock();
    }
    while (!jobs_.empty() && out.size() < max) {
      out.push_back(std::move(jobs_.front()));
      jobs_.pop_front();
    }
    return true;
  }

  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::size_t max_size_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool closed_ = false;  // guarded by mutex_: no job is queued after it is set
};

}  // namespace parley
