// A progress bar on stderr for the long copies of a dump or a restore
// (issue 6): drawn only when stderr is a terminal, only once the work has
// taken longer than a second (AMBER_PROGRESS_AFTER_MS overrides that, for
// tests), redrawn ten times a second by a thread of its own so the copy
// workers only bump a counter, and erased when it is destroyed.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace amber {

class Progress {
 public:
  // `what`: the line's label ("dump", "restore"). Disabled (every call a
  // no-op but the counters) unless stderr is a terminal.
  explicit Progress(std::string what);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress();

  // Bytes still to come (the total may grow as the work is discovered).
  void add_total(uint64_t bytes) { total_.fetch_add(bytes, std::memory_order_relaxed); }
  // Bytes done; safe from any thread.
  void advance(uint64_t bytes) { done_.fetch_add(bytes, std::memory_order_relaxed); }
  uint64_t done() const { return done_.load(std::memory_order_relaxed); }

 private:
  void run();
  void draw(bool final);

  std::string what_;
  std::atomic<uint64_t> total_{0}, done_{0};
  std::chrono::steady_clock::time_point start_;
  std::chrono::milliseconds after_{1000};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, drawn_ = false;
  std::thread thread_;
};

}  // namespace amber
