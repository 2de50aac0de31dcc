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

#include "base/files.h"

namespace amber::kinds_test {

class Forked {
 public:
  // setup(ready_fd) runs first in the child; it may renumber ready_fd. A
  // non-zero return is the child's exit status (and the parent sees !ok()).
  // Then the child reports ready and runs `then` (default: pause for ever).
  explicit Forked(const std::function<int(int& ready_fd)>& setup, const std::function<int()>& then = nullptr) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(p[0]);
      int ready = p[1];
      int rc = setup ? setup(ready) : 0;
      if (rc != 0) ::_exit(rc);
      char c = 'r';
      if (::write(ready, &c, 1) != 1) ::_exit(120);
      ::close(ready);
      if (then) ::_exit(then());
      for (;;) ::pause();
    }
    ::close(p[1]);
    char c = 0;
    ssize_t n;
    do n = ::read(p[0], &c, 1);
    while (n < 0 && errno == EINTR);
    ::close(p[0]);
    ready_ = n == 1;
  }
  Forked(const Forked&) = delete;
  Forked& operator=(const Forked&) = delete;
  ~Forked() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  bool ok() const { return pid_ > 0 && ready_; }
  pid_t pid() const { return pid_; }
  // Raw wait status, -1 on error.
  int wait() {
    int st = -1;
    pid_t r;
    do r = ::waitpid(pid_, &st, __WALL);
    while (r < 0 && errno == EINTR);
    reaped_ = true;
    return r == pid_ ? st : -1;
  }
  // Non-blocking: true once the child has ended (status stored).
  bool try_wait(int& st) {
    pid_t r = ::waitpid(pid_, &st, __WALL | WNOHANG);
    if (r == pid_) reaped_ = true;
    return r == pid_;
  }

 private:
  pid_t pid_ = -1;
  bool ready_ = false;
  bool reaped_ = false;
};

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
