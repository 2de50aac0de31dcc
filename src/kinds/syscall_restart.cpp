#include "kinds/syscall_restart.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>

#include <cstring>
#include <vector>

namespace amber::kinds {
namespace {

bool user_pointer(uint64_t p) { return p >= 4096 && p < (uint64_t{1} << 47); }

bool is_timespec(const MemReader& read, uint64_t addr) {
  auto b = read(addr, 16);
  if (!b || b->size() != 16) return false;
  int64_t sec, nsec;
  std::memcpy(&sec, b->data(), 8);
  std::memcpy(&nsec, b->data() + 8, 8);
  return sec >= 0 && nsec >= 0 && nsec < 1000000000;
}

}  // namespace

user_regs_struct resolve_restart_syscall(user_regs_struct regs, const MemReader& read) {
  if (static_cast<long>(regs.orig_rax) != SYS_restart_syscall) return regs;
  const uint64_t a1 = regs.rdi, a2 = regs.rsi, a3 = regs.rdx, a4 = regs.r10;
  // clock_nanosleep(clockid, flags, req, rem): relative sleeps restart
  // through the restart block (absolute ones with -ERESTARTNOHAND).
  if (a1 < 16 && a2 <= TIMER_ABSTIME && user_pointer(a3) && is_timespec(read, a3)) {
    regs.orig_rax = SYS_clock_nanosleep;
    return regs;
  }
  // futex(uaddr, FUTEX_WAIT[_BITSET][|PRIVATE|CLOCK_REALTIME], val, timeout):
  // the word still holds val, or the waiter would have been woken.
  const uint64_t cmd = a2 & ~uint64_t{FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME};
  if (user_pointer(a1) && (cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET) && user_pointer(a4)) {
    auto w = read(a1, 4);
    uint32_t word;
    if (w && w->size() == 4 && (std::memcpy(&word, w->data(), 4), word == static_cast<uint32_t>(a3))) {
      regs.orig_rax = SYS_futex;
      return regs;
    }
  }
  // nanosleep(req, rem).
  if (user_pointer(a1) && (a2 == 0 || user_pointer(a2)) && is_timespec(read, a1)) {
    regs.orig_rax = SYS_nanosleep;
    return regs;
  }
  return regs;
}

}  // namespace amber::kinds
