// Signal dispositions of a process (shared by its threads): dumped and
// restored by remote rt_sigaction, all signals in one batch (one ptrace stop).
// Per-thread masks are in thread.h; pending signals are a later kind.
#pragma once
#include <array>
#include <cstdint>

#include "base/result.h"
#include "remote/remote_task.h"
#include "task.pb.h"

namespace amber::kinds {

// The kernel's struct sigaction on x86-64 (arch/x86/include/uapi/asm/signal.h
// via rt_sigaction), not glibc's: handler, flags, restorer, one 64-bit mask.
struct KernelSigaction {
  uint64_t handler = 0;
  uint64_t flags = 0;
  uint64_t restorer = 0;
  uint64_t mask = 0;
};
static_assert(sizeof(KernelSigaction) == 32);

inline constexpr int kMaxSignal = 64;

// Fills task.sigactions with every signal 1..64 (except SIGKILL, SIGSTOP)
// whose action is not the default with no flags. Needs the executor mapped
// (its scratch area receives the 62 structs).
Status dump_sigactions(remote::RemoteTask& task, img::Task& out);

// Sets every signal's action: the image's, SIG_DFL for the others (a fresh
// task may have handlers of its own). Handlers and restorers are addresses in
// the restored address space. Needs the executor mapped.
Status restore_sigactions(remote::RemoteTask& task, const img::Task& in);

// Remote read of every action (index signo-1; SIGKILL and SIGSTOP all zero).
Result<std::array<KernelSigaction, kMaxSignal>> read_sigactions(remote::RemoteTask& task);

}  // namespace amber::kinds
