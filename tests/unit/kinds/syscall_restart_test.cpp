#include <gtest/gtest.h>
#include <linux/futex.h>
#include <sys/syscall.h>

#include <cstring>
#include <map>

#include "kinds/syscall_restart.h"

using amber::kinds::MemReader;
using amber::kinds::resolve_restart_syscall;

namespace {

// A fake address space: a few readable words.
struct Mem {
  std::map<uint64_t, std::vector<uint8_t>> at;
  void timespec(uint64_t addr, int64_t sec, int64_t nsec) {
    std::vector<uint8_t> b(16);
    std::memcpy(b.data(), &sec, 8);
    std::memcpy(b.data() + 8, &nsec, 8);
    at[addr] = b;
  }
  void word(uint64_t addr, uint32_t v) {
    std::vector<uint8_t> b(4);
    std::memcpy(b.data(), &v, 4);
    at[addr] = b;
  }
  MemReader reader() const {
    return [this](uint64_t addr, size_t len) -> std::optional<std::vector<uint8_t>> {
      auto it = at.find(addr);
      if (it == at.end() || it->second.size() < len) return std::nullopt;
      return std::vector<uint8_t>(it->second.begin(), it->second.begin() + static_cast<long>(len));
    };
  }
};

user_regs_struct in_restart(uint64_t a1, uint64_t a2, uint64_t a3 = 0, uint64_t a4 = 0) {
  user_regs_struct r{};
  r.orig_rax = SYS_restart_syscall;
  r.rax = static_cast<unsigned long long>(-516L);
  r.rdi = a1;
  r.rsi = a2;
  r.rdx = a3;
  r.r10 = a4;
  return r;
}

}  // namespace

TEST(SyscallRestart, ClockNanosleepAndNanosleep) {
  Mem m;
  m.timespec(0x7ffd0000, 1000, 5);
  EXPECT_EQ(resolve_restart_syscall(in_restart(0, 0, 0x7ffd0000, 0x7ffd0000), m.reader()).orig_rax,
            (unsigned long long)SYS_clock_nanosleep);
  EXPECT_EQ(resolve_restart_syscall(in_restart(0x7ffd0000, 0), m.reader()).orig_rax, (unsigned long long)SYS_nanosleep);
}

TEST(SyscallRestart, FutexWaitWithTimeout) {
  Mem m;
  m.word(0x601000, 0);
  m.timespec(0x7ffd0100, 3, 0);
  EXPECT_EQ(resolve_restart_syscall(in_restart(0x601000, FUTEX_WAIT_PRIVATE, 0, 0x7ffd0100), m.reader()).orig_rax,
            (unsigned long long)SYS_futex);
  // The word changed: not a futex wait that is still pending.
  m.word(0x601000, 1);
  EXPECT_NE(resolve_restart_syscall(in_restart(0x601000, FUTEX_WAIT_PRIVATE, 0, 0x7ffd0100), m.reader()).orig_rax,
            (unsigned long long)SYS_futex);
}

TEST(SyscallRestart, UnknownOrNotRestartingIsUnchanged) {
  Mem m;
  EXPECT_EQ(resolve_restart_syscall(in_restart(0x1000, 5, 7), m.reader()).orig_rax,
            (unsigned long long)SYS_restart_syscall);
  user_regs_struct plain{};
  plain.orig_rax = SYS_read;
  EXPECT_EQ(resolve_restart_syscall(plain, m.reader()).orig_rax, (unsigned long long)SYS_read);
}
