// Per-thread state: registers, xstate, blocked signals, rseq, syscall state,
// comm. Dump and restore side by side; every function works on one seized,
// stopped thread (remote::RemoteTask), so a multi-threaded task is handled
// thread by thread.
//
// Restore order for one thread (the driver's steps; the address space has
// been rebuilt already, the executor is still mapped):
//   1. restore_thread(task, thread)        comm (remote prctl), rseq (remote
//                                          rseq), blocked mask (handed to the
//                                          RemoteTask: applied at release)
//   ... other kinds' remote syscalls, then task.unmap_executor() ...
//   2. restore_thread_final(task, thread)  xstate written (PTRACE_SETREGSET),
//                                          registers with the restart rules
//                                          handed to the RemoteTask
//   3. task.release()                      registers + mask set, detach
// Step 2 must come after the last remote code in this thread: a remote
// syscall runs with the task's FPU/xstate live (PKRU decides which pages the
// stub may touch), and release() is what writes the final registers.
#pragma once
#include <sys/user.h>

#include "base/result.h"
#include "remote/remote_task.h"
#include "task.pb.h"

namespace amber::kinds {

// Kernel-internal syscall restart codes (include/linux/errno.h): never meant
// to reach user space, seen in rax when a task is stopped inside a syscall.
inline constexpr long kErestartSys = 512;
inline constexpr long kErestartNoIntr = 513;
inline constexpr long kErestartNoHand = 514;
inline constexpr long kErestartRestartBlock = 516;

// Dumps the stopped thread: registers and mask as they were at the stop
// (task.saved_regs()/saved_sigmask(), not what remote code left there),
// xstate, rseq, syscall state, comm.
Result<img::Thread> dump_thread(remote::RemoteTask& task);

// What restore_thread would refuse in the image alone (Exit::BadInput):
// registers of another size, a comm the kernel cannot hold. Checked before
// anything is created (restore/plan.cpp).
Status check_thread_image(const img::Thread& thread);

// Restore step 1 (see above). Needs the thread's memory in place (the rseq
// area) and the executor mapped (comm goes through its scratch area).
Status restore_thread(remote::RemoteTask& task, const img::Thread& thread);

// Restore step 2 (see above): the last thing before release().
Status restore_thread_final(remote::RemoteTask& task, const img::Thread& thread);

// Per-thread attributes only the thread itself can tell or set: its
// sigaltstack and clear-tid address (remote sigaltstack / PR_GET_TID_ADDRESS
// / set_tid_address through the executor, mapped or shared), and its robust
// futex list (read from outside with get_robust_list, set inside with
// set_robust_list). The restore half belongs to step 1 above.
Status dump_thread_attrs(remote::RemoteTask& task, img::Thread& out);
Status restore_thread_attrs(remote::RemoteTask& task, const img::Thread& thread);

// Runs inside a restored process (plain C++, before it stops for the
// controller): creates every thread of `task` but the leader at its dumped
// tid (clone3 with set_tid and CLONE_THREAD), each parked in a pause() loop
// on a small stack of its own with every signal blocked. The controller
// seizes them and gives each its registers; their stacks go with the
// address space the controller tears down.
Status create_threads_in_child(const img::Task& task);

// The registers a restored thread must resume with. A new task has lost the
// kernel's restart state of the syscall it was stopped in:
//  -ERESTARTSYS / -ERESTARTNOINTR / -ERESTARTNOHAND: rax = orig_rax,
//     rip -= 2, i.e. the syscall is issued again (what the kernel does when
//     no handler runs);
//  -ERESTART_RESTARTBLOCK: the restart block (remaining time of a
//     nanosleep, futex wait, poll) is gone with the old task, so the
//     original syscall is issued again with its original arguments: right
//     for absolute sleeps, only longer for relative ones, and never an EINTR
//     the program did not expect;
//  any other kernel-internal code (>= 512) becomes -EINTR.
// Not in a syscall (orig_rax == -1) or a finished syscall: unchanged.
user_regs_struct apply_restart_rules(user_regs_struct regs);

}  // namespace amber::kinds
