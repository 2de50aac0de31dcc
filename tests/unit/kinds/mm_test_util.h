// Test helpers for the address-space kind: forked children that build memory
// patterns and check them, pipes to drive them, comparisons from outside.
#pragma once
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "base/files.h"
#include "sys/procfs.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

namespace amber::kinds::mmtest {

constexpr size_t kPg = 4096;
// Every child reads its command byte from this fd: the same number in the
// dumped child and in the one restored, so the restored code's read() finds
// the restored task's own pipe.
constexpr int kCmdFd = 100;

inline uint8_t pat(uint64_t seed, uint64_t i) {
  uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull ^ seed * 0xbf58476d1ce4e5b9ull;
  x ^= x >> 31;
  return static_cast<uint8_t>(x ^ (x >> 13));
}
inline void fill(void* p, size_t n, uint64_t seed) {
  auto* b = static_cast<uint8_t*>(p);
  for (size_t i = 0; i < n; i++) b[i] = pat(seed, i);
}
inline bool check(const void* p, size_t n, uint64_t seed) {
  auto* b = static_cast<const volatile uint8_t*>(p);
  for (size_t i = 0; i < n; i++)
    if (b[i] != pat(seed, i)) return false;
  return true;
}
inline bool all_zero(const void* p, size_t n) {
  auto* b = static_cast<const volatile uint8_t*>(p);
  for (size_t i = 0; i < n; i++)
    if (b[i]) return false;
  return true;
}

// A forked child: fn(ready_fd) runs in it and never returns. The child reads
// commands from kCmdFd; the test reads what it reports from ready().
class MmChild {
 public:
  explicit MmChild(const std::function<void(int ready_fd)>& fn) {
    int cmd[2], rep[2];
    if (::pipe(cmd) || ::pipe(rep)) std::abort();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(cmd[0], kCmdFd);
      ::close(cmd[0]);
      ::close(cmd[1]);
      ::close(rep[0]);
      fn(rep[1]);
      ::_exit(120);
    }
    ::close(cmd[0]);
    ::close(rep[1]);
    cmd_ = cmd[1];
    ready_ = rep[0];
  }
  MmChild(const MmChild&) = delete;
  MmChild& operator=(const MmChild&) = delete;
  ~MmChild() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      int st;
      while (::waitpid(pid_, &st, __WALL) < 0 && errno == EINTR) {
      }
    }
    ::close(cmd_);
    ::close(ready_);
  }
  pid_t pid() const { return pid_; }
  // Reads exactly n bytes the child reported.
  bool receive(void* p, size_t n) {
    auto* b = static_cast<char*>(p);
    for (size_t got = 0; got < n;) {
      ssize_t r = ::read(ready_, b + got, n - got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      got += static_cast<size_t>(r);
    }
    return true;
  }
  bool go() { return ::write(cmd_, "g", 1) == 1; }
  // Raw wait status, -1 if already reaped elsewhere.
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
  int cmd_ = -1, ready_ = -1;
  bool reaped_ = false;
};

// Blocks in read(kCmdFd); returns when the test says go (or its end closed).
inline void wait_for_go() {
  char c;
  while (::read(kCmdFd, &c, 1) < 0 && errno == EINTR) {
  }
}

// Reads [start, end) of pid's memory through /proc/PID/mem (PROT_NONE too).
inline bool read_mem(pid_t pid, uint64_t start, uint64_t end, std::vector<uint8_t>& out, std::string& err) {
  out.assign(end - start, 0);
  int fd = ::open(("/proc/" + std::to_string(pid) + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err = strerror(errno);
    return false;
  }
  for (size_t done = 0; done < out.size();) {
    ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(start + done));
    if (n <= 0) {
      err = n < 0 ? strerror(errno) : "short read";
      err += " at " + std::to_string(start + done);
      ::close(fd);
      return false;
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return true;
}

// Compares [start, end) of two processes through /proc/PID/mem in slices
// (big areas stay cheap). Returns "" if equal, else where they differ or why
// they could not be read.
inline std::string diff_mem(pid_t a, pid_t b, uint64_t start, uint64_t end) {
  constexpr size_t kSlice = size_t{4} << 20;
  std::string err;
  std::vector<uint8_t> x, y;
  for (uint64_t at = start; at < end; at += kSlice) {
    uint64_t e = std::min<uint64_t>(end, at + kSlice);
    if (!read_mem(a, at, e, x, err)) return "A: " + err;
    if (!read_mem(b, at, e, y, err)) return "B: " + err;
    if (x != y) {
      size_t i = 0;
      while (x[i] == y[i]) i++;
      char buf[64];
      snprintf(buf, sizeof buf, "bytes differ at %lx", static_cast<unsigned long>(at + i));
      return buf;
    }
  }
  return "";
}

inline std::string maps_line(const sys::VmArea& a) {
  char buf[96];
  snprintf(buf, sizeof buf, "%lx-%lx %c%c%c%c %lx ", static_cast<unsigned long>(a.start),
           static_cast<unsigned long>(a.end), a.read ? 'r' : '-', a.write ? 'w' : '-', a.exec ? 'x' : '-',
           a.shared ? 's' : 'p', static_cast<unsigned long>(a.inode ? a.offset : 0));
  return buf + a.path + (a.deleted ? " (deleted)" : "");
}

// maps of pid as comparable lines, without [xs, xe).
inline std::vector<std::string> maps_lines(pid_t pid, uint64_t xs = 0, uint64_t xe = 0) {
  std::vector<std::string> out;
  auto maps = sys::read_maps(pid);
  if (!maps) return {"error: " + maps.error().message};
  // Adjacent areas alike in all maps shows are one line: whether the kernel
  // merged them depends on their anon_vma history (a heap grown after a
  // fork stays two VMAs in the child), which no restore reproduces and no
  // program can rely on (verify_mm compares them merged too).
  std::vector<sys::VmArea> merged;
  for (const sys::VmArea& a : *maps) {
    if (xe > xs && a.start >= xs && a.end <= xe) continue;
    if (!merged.empty()) {
      sys::VmArea& p = merged.back();
      if (p.end == a.start && p.read == a.read && p.write == a.write && p.exec == a.exec && p.shared == a.shared &&
          p.path == a.path && p.inode == a.inode && p.deleted == a.deleted && p.path != "[vdso]" &&
          p.path != "[vvar]" && p.path != "[vvar_vclock]" && (p.inode == 0 || p.offset + p.size() == a.offset)) {
        p.end = a.end;
        continue;
      }
    }
    merged.push_back(a);
  }
  for (const sys::VmArea& a : merged) out.push_back(maps_line(a));
  return out;
}

}  // namespace amber::kinds::mmtest
