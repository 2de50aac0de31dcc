// Signal dispositions of a process (shared by its threads): dumped and
// restored by remote rt_sigaction, all signals in one batch (one ptrace stop).
// Pending signals, per thread and process-wide, with their siginfo.
// Per-thread masks are in thread.h.
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

// What restore_sigactions and restore_pending would refuse in the image
// alone (signals that cannot be set or queued, a siginfo of another size,
// SIGTRAP ignored or pending), checked before anything is created
// (restore/plan.cpp).
Status check_signals_image(const img::Task& in);

// Sets every signal's action: the image's, SIG_DFL for the others (a fresh
// task may have handlers of its own). Handlers and restorers are addresses in
// the restored address space. Needs the executor mapped.
Status restore_sigactions(remote::RemoteTask& task, const img::Task& in);
// Restore verification: every signal's action as the task now has it
// (read back by one remote batch) equals the image's. Needs the executor.
Status verify_sigactions(remote::RemoteTask& task, const img::Task& in);

// The thread's own queue (shared = false) or its process's queue (shared =
// true) as PTRACE_PEEKSIGINFO shows it, without dequeuing anything. SIGKILL
// and SIGSTOP are left out: a SIGKILL pending means the task is dying
// (the dump would not get here), a SIGSTOP is the group stop amber's hold
// already accounts for (RemoteTask lets it through). A ptrace interrupt
// stop is not a signal at all (JOBCTL_TRAP_STOP) and never shows up here.
Status dump_pending(pid_t tid, bool shared, google::protobuf::RepeatedPtrField<img::PendingSignal>& out);

// Queues `pending` again, in order, from inside the thread itself (remote
// syscalls through the executor): the thread's own queue with
// rt_tgsigqueueinfo(tgid, tid), the process's with rt_sigqueueinfo(tgid)
// (shared; run in the thread-group leader). kernel/signal.c refuses a
// siginfo with si_code >= 0 or SI_TKILL (what kill(), tgkill() and the
// kernel itself send) unless the target is the caller itself
// (task_pid_vnr(current) == pid), which is exactly the case here: tgid and
// tid are the ids inside the container's pid namespace, the caller's own.
// The thread runs remote code with every signal blocked, so nothing is
// delivered before release() sets the real mask: then a blocked signal
// stays pending and an unblocked one is delivered as the task resumes.
Status restore_pending(remote::RemoteTask& task, pid_t vtgid, pid_t vtid, bool shared,
                       const google::protobuf::RepeatedPtrField<img::PendingSignal>& pending);

// Remote read of every action (index signo-1; SIGKILL and SIGSTOP all zero).
Result<std::array<KernelSigaction, kMaxSignal>> read_sigactions(remote::RemoteTask& task);

}  // namespace amber::kinds
