// Helpers for the per-task kind tests: forked children that report ready
// over a pipe whose write end the child's setup may move (fd restores close
// everything else), and that are killed and reaped when the test ends.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "../sys/tests_child.h"
#include "base/files.h"
#include "kinds/files/fdtable.h"

namespace amber::kinds_test {

// A forked child reporting ready (tests/unit/sys/tests_child.h): its
// setup(ready_fd) may move the ready pipe's write end.
using Forked = test::Child;

// In a Forked child's setup: opens the fd table of `image` with `ctx`,
// keeping `ready` open (the restore moves it above the image's fds).
// Returns 0, or 53 with the error written to `err_file` (if any).
inline int restore_fds_keeping(const img::Files& image, kinds::FdRestoreContext ctx, int& ready,
                               const std::string& err_file = "") {
  int keep[] = {ready};
  ctx.keep = keep;
  auto st = kinds::open_fds_in_child(image, ctx);
  if (!st) {
    if (!err_file.empty()) (void)write_new_file(err_file, st.error().message);
    return 53;
  }
  ready = keep[0];
  return 0;
}

inline bool wait_until(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

// "Key:" line of /proc/PID/status, trimmed ("" if none).
inline std::string status_field(pid_t pid, const std::string& key) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/status");
  if (!text) return "";
  for (auto line : split(*text, '\n'))
    if (starts_with(line, key + ":")) return std::string(trim(line.substr(key.size() + 1)));
  return "";
}

// Syscall number the task is blocked in (/proc/PID/syscall), -2 if unknown.
inline long blocked_syscall(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/syscall");
  if (!text || text->empty()) return -2;
  auto f = split_ws(*text);
  if (f.empty()) return -2;
  if (f[0] == "running") return -3;
  return parse_int(f[0]).value_or(-2);
}

inline std::string proc_text(pid_t pid, const std::string& name) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/" + name);
  return text ? *text : std::string();
}

}  // namespace amber::kinds_test
