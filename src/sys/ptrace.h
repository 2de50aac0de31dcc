// Thin ptrace wrappers (x86-64). No logging, no policy: each call returns a
// Result whose error names the request and the tid ("PTRACE_SEIZE 57: ...").
// The policy (what to do with a signal that arrives, how to run code in a
// task) lives in remote/remote_task.h.
//
// Every request except seize/interrupt needs the tracee in a ptrace stop, and
// must come from the tracer *thread* that seized it (ptrace links threads, not
// processes).
#pragma once
#include <linux/filter.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/user.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"

namespace amber::sys {

Status ptrace_seize(pid_t tid, unsigned long options);
Status ptrace_interrupt(pid_t tid);
Status ptrace_set_options(pid_t tid, unsigned long options);
// Resume from a stop; `sig` is delivered only from a signal-delivery-stop
// (from any other stop the kernel ignores it).
Status ptrace_cont(pid_t tid, int sig = 0);
Status ptrace_singlestep(pid_t tid, int sig = 0);
Status ptrace_syscall(pid_t tid, int sig = 0);  // PTRACE_SYSCALL: stop at the next syscall entry or exit
Status ptrace_detach(pid_t tid, int sig = 0);
Result<unsigned long> ptrace_event_msg(pid_t tid);

// What waitpid(tid, __WALL) reported for a traced thread.
struct Stop {
  enum class Kind {
    None,            // nothing yet (non-blocking wait only)
    Exited,          // code = exit status
    Killed,          // sig = terminating signal
    SignalDelivery,  // sig = the signal about to be delivered
    GroupStop,       // seized task entered a job-control stop; sig = SIGSTOP/SIGTSTP/SIGTTIN/SIGTTOU
    Interrupt,       // PTRACE_EVENT_STOP from PTRACE_INTERRUPT (sig = SIGTRAP)
    Event,           // another PTRACE_EVENT_* stop (event)
    Syscall,         // syscall-enter/exit stop (PTRACE_O_TRACESYSGOOD)
  };
  Kind kind = Kind::None;
  int sig = 0;
  int code = 0;
  int event = 0;
  int status = 0;  // raw wait status
  bool gone() const { return kind == Kind::Exited || kind == Kind::Killed; }
  bool stopped() const { return kind != Kind::None && !gone(); }
};
// Decodes a raw wait status of a seized tracee. A PTRACE_EVENT_STOP whose
// signal is a stop signal is a group-stop (PTRACE_SEIZE semantics), otherwise
// it is the PTRACE_INTERRUPT trap.
Stop decode_wait_status(int status);
// waitpid(tid, __WALL [| WNOHANG]), EINTR retried.
Result<Stop> wait_stop(pid_t tid, bool nohang = false);

Result<user_regs_struct> get_regs(pid_t tid);
Status set_regs(pid_t tid, const user_regs_struct& regs);

// Size of this CPU's XSAVE area as CPUID leaf 0xD reports it (all supported
// features); the kernel's NT_X86_XSTATE regset is never larger.
size_t xstate_buffer_size();
// The task's whole XSAVE area (NT_X86_XSTATE), sized as the kernel returns it
// (2432 bytes on this machine; never assume a size).
Result<std::vector<uint8_t>> get_xstate(pid_t tid);
// Writes a whole area back; the kernel wants exactly the size it returns.
Status set_xstate(pid_t tid, std::span<const uint8_t> xstate);

// Blocked-signal mask (bit N-1 = signal N).
Result<uint64_t> get_sigmask(pid_t tid);
Status set_sigmask(pid_t tid, uint64_t mask);

// siginfo of the signal a signal-delivery-stop is about to deliver.
Result<siginfo_t> get_siginfo(pid_t tid);
Status set_siginfo(pid_t tid, const siginfo_t& info);

// Whether and where the stopped task is inside a syscall (op: none, entry,
// exit, seccomp). At an interrupt stop of a task blocked in a syscall, op is
// none; the registers (orig_rax, rax = -ERESTART*) tell the rest.
Result<__ptrace_syscall_info> get_syscall_info(pid_t tid);

// Pending signals with their siginfo, without dequeuing them: the thread's
// own queue, or with `shared` the process-wide one.
Result<std::vector<siginfo_t>> peek_siginfo(pid_t tid, bool shared);

// rseq area registered by the thread (rseq_abi_pointer 0 if none).
Result<__ptrace_rseq_configuration> get_rseq_configuration(pid_t tid);

// Seccomp filters of the task, most recently installed first (index 0 is
// the newest, as PTRACE_SECCOMP_GET_FILTER numbers them); empty if none.
struct SeccompFilter {
  uint64_t flags = 0;  // SECCOMP_FILTER_FLAG_* it was installed with
  std::vector<sock_filter> insns;
};
Result<std::vector<SeccompFilter>> get_seccomp_filters(pid_t tid);

// Memory of another task (process_vm_readv/writev), all or an error: a
// short transfer is an error naming the address. Writes fail with EFAULT on
// areas without PROT_WRITE (use /proc/PID/mem for those).
Status read_memory(pid_t pid, uint64_t addr, std::span<std::byte> out);
Status write_memory(pid_t pid, uint64_t addr, std::span<const std::byte> data);

}  // namespace amber::sys
