// A task stopped in restart_syscall(2): the kernel resumed an interrupted
// clock_nanosleep / nanosleep / futex wait / poll through its restart block,
// which a new task does not have (restart_syscall returns -EINTR there). A
// task gets there whenever it was released from a ptrace stop in such a
// sleep, e.g. after a failed or --leave-running dump.
//
// The original call's arguments are still in the registers (restart_syscall
// is entered with them untouched), but its number is gone, and the kernel
// stack does not tell either (the sleeping frames are __sched and hidden from
// /proc/PID/stack). The shape of the arguments does: a clock id and a flags
// word are small, a futex word holds the value the waiter expects, a timespec
// has tv_nsec below 1e9.
#pragma once
#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace amber::kinds {

// Reads `len` bytes of the task's memory at `addr`, nullopt if unreadable.
using MemReader = std::function<std::optional<std::vector<uint8_t>>(uint64_t addr, size_t len)>;

// regs with orig_rax replaced by the syscall that restart_syscall continues
// when the arguments identify it; otherwise unchanged (the restore then turns
// the restart into -EINTR, as the kernel would).
user_regs_struct resolve_restart_syscall(user_regs_struct regs, const MemReader& read);

}  // namespace amber::kinds
