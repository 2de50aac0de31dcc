// A fixed set of worker threads over numbered jobs, for the bulk copies
// (page store writes and restores): one thread alone cannot keep up with
// tmpfs and the memory bus, two reach ~2x (KERNEL-NOTES "Memory pipelines").
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "base/result.h"

namespace amber {

// Threads for a bulk copy: every core, at most 4 (the memory bus is
// saturated well before that).
inline unsigned copy_workers() { return std::clamp(std::thread::hardware_concurrency(), 1U, 4U); }

// Runs fn(job, worker) for every job in [0, jobs) on `workers` threads, the
// caller's thread being worker 0; a job goes to whichever worker is free
// next. The first error stops handing out jobs and is what is returned.
inline Status parallel_jobs(size_t jobs, unsigned workers, const std::function<Status(size_t, unsigned)>& fn) {
  workers = static_cast<unsigned>(std::clamp<size_t>(workers, 1, std::max<size_t>(jobs, 1)));
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  Status first_error;
  auto work = [&](unsigned w) {
    for (size_t j; !stop.load(std::memory_order_relaxed) && (j = next.fetch_add(1)) < jobs;) {
      Status st = fn(j, w);
      if (!st) {
        std::lock_guard lock(mu);
        if (!stop.exchange(true)) first_error = std::move(st);
      }
    }
  };
  std::vector<std::thread> threads;
  for (unsigned w = 1; w < workers; w++) threads.emplace_back(work, w);
  work(0);
  for (auto& t : threads) t.join();
  return first_error;
}

}  // namespace amber
