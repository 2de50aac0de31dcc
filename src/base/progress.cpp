#include "base/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "base/files.h"

namespace amber {

Progress::Progress(std::string what) : what_(std::move(what)), start_(std::chrono::steady_clock::now()) {
  if (!::isatty(STDERR_FILENO)) return;
  if (const char* e = std::getenv("AMBER_PROGRESS_AFTER_MS"))
    if (auto v = parse_uint(e)) after_ = std::chrono::milliseconds(*v);
  thread_ = std::thread([this] { run(); });
}

Progress::~Progress() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Progress::run() {
  std::unique_lock lock(mu_);
  if (cv_.wait_for(lock, after_, [&] { return stop_; })) return;  // done within the delay: no bar
  while (!cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stop_; })) draw(false);
  draw(true);
}

// "dump    1.2 / 4.0 GiB [#########...............]  30%  2.1 GB/s"
void Progress::draw(bool final) {
  const double gib = double(1 << 30);
  uint64_t done = done_.load(std::memory_order_relaxed), total = std::max(total_.load(), done);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  constexpr int kWidth = 30;
  int fill = total ? static_cast<int>(double(done) / double(total) * kWidth) : 0;
  std::string bar(static_cast<size_t>(fill), '#');
  bar.resize(kWidth, '.');
  std::string line = fmt::format("\r{:<8} {:5.1f} / {:.1f} GiB [{}] {:3.0f}%  {:.1f} GB/s", what_, double(done) / gib,
                                 double(total) / gib, bar, total ? 100.0 * double(done) / double(total) : 0.0,
                                 secs > 0 ? double(done) / secs / 1e9 : 0.0);
  // The last state stays on its own line, so the summary after it reads well.
  if (final) line += "\n";
  (void)!::write(STDERR_FILENO, line.data(), line.size());
  drawn_ = true;
}

}  // namespace amber
