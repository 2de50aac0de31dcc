// Test helpers for the ptrace engine: forked children that are killed and
// reaped when the test ends, memory shared with them, /proc probes.
#pragma once
#include <signal.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <new>
#include <string>
#include <thread>

#include "base/files.h"

namespace amber::testing {

// A T in MAP_SHARED memory: what the child writes, the test sees.
template <class T>
T* shared_new() {
  void* p = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) std::abort();
  return new (p) T{};
}
template <class T>
void shared_delete(T* p) {
  p->~T();
  ::munmap(p, sizeof(T));
}

// A forked child running fn (then _exit(0)); SIGKILLed and reaped at the end.
class Child {
 public:
  explicit Child(const std::function<void()>& fn) {
    pid_ = ::fork();
    if (pid_ == 0) {
      fn();
      ::_exit(0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      int st;
      while (::waitpid(pid_, &st, __WALL) < 0 && errno == EINTR) {
      }
    }
  }
  pid_t pid() const { return pid_; }
  // Waits for the child's end; returns the raw wait status (-1 if it was
  // already reaped, e.g. by a tracer's wait).
  int wait() {
    int st = 0;
    pid_t r;
    while ((r = ::waitpid(pid_, &st, __WALL)) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    return r == pid_ ? st : -1;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// Polls pred every millisecond until it holds or timeout passes.
inline bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

// A "Key:" line of /proc/PID/status (or /proc/PID/task/TID/status), trimmed;
// "" if missing.
inline std::string status_field(pid_t pid, const std::string& key, pid_t tid = 0) {
  std::string path = tid ? "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/status"
                         : "/proc/" + std::to_string(pid) + "/status";
  auto text = read_file(path);
  if (!text) return "";
  for (auto line : split(*text, '\n'))
    if (starts_with(line, key + ":")) return std::string(trim(line.substr(key.size() + 1)));
  return "";
}

// State letter of /proc/PID/stat (or of a thread), '?' if gone.
inline char proc_state(pid_t pid, pid_t tid = 0) {
  std::string path = tid ? "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/stat"
                         : "/proc/" + std::to_string(pid) + "/stat";
  auto text = read_file(path);
  if (!text) return '?';
  auto p = text->rfind(')');
  return p == std::string::npos || p + 2 >= text->size() ? '?' : (*text)[p + 2];
}

inline bool maps_contain(pid_t pid, uint64_t start, uint64_t end, std::string_view perms = "") {
  auto text = read_file("/proc/" + std::to_string(pid) + "/maps");
  if (!text) return false;
  for (auto line : split(*text, '\n')) {
    auto f = split_ws(line);
    if (f.size() < 2) continue;
    auto r = split(f[0], '-');
    if (r.size() != 2) continue;
    if (parse_uint(r[0], 16) == start && parse_uint(r[1], 16) == end && (perms.empty() || f[1] == perms)) return true;
  }
  return false;
}

inline void sleep_ms(long ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

}  // namespace amber::testing
