// RemoteTask: one seized, stopped thread, and code run inside it.
//
// Life of a RemoteTask:
//   seize(tid)        PTRACE_SEIZE (TRACESYSGOOD | SUSPEND_SECCOMP) + INTERRUPT,
//                     wait for the stop, remember registers and signal mask.
//                     (attach() + poll_stop() are the two halves, for holding
//                     many tasks at once: see seal/hold.h.)
//   syscall(...)      one remote syscall; the task's own text is never written.
//   map_executor()    maps a small executor in the task (one remote mmap);
//   run_batch(calls)  then runs a whole table of syscalls in one ptrace stop.
//   release()         puts registers and signal mask back and detaches: the
//                     task carries on exactly where it was (a nanosleep or a
//                     read it was blocked in restarts; no EINTR). Also done by
//                     the destructor when still attached.
//   kill()            SIGKILL while seized (end of a dump).
//
// How code runs in the task without touching its pages:
//   - Without an executor, a `syscall` instruction found in the task's
//     [vdso] (or its own code, when it has no [vdso]) is single-stepped (rip set there, PTRACE_SINGLESTEP, the kernel
//     reports the trap right after the syscall returns). Writing a
//     `syscall; int3` into the task's text instead (POKETEXT) would turn that
//     page of a private file mapping anonymous for ever.
//   - With an executor (code page r-x + data area rw-, private anonymous),
//     a tiny position-independent stub runs N syscalls from a table written
//     with process_vm_writev, then parks (sends itself SIGSTOP, a
//     signal-delivery-stop for us); the results come back with one
//     process_vm_readv. One ptrace stop per batch, not per syscall.
//
// amber killed (SIGKILL) while it holds a task: the kernel detaches the
// task as it is. In resumable mode (a live container's tasks: dump, check)
// every remote call ends with the task's own registers and mask put back in
// an interrupt stop, so between calls a detached task just carries on. A
// task detached while in the executor parks there (a job-control stop, see
// executor.cpp) until recovery puts its registers back from the journal
// (src/recover). A syscall through [vdso] (mapping and unmapping the
// executor) parks the same way: it runs at the `syscall` of a fallback
// path whose epilogue is `leave; xor...; ret`, with rbp pointing at a
// two-word frame we write below the red zone ({frame, the gadget's start}):
// after the syscall, `leave; ret` lands back at the gadget, which loops on
// a harmless gettimeofday(NULL, NULL) for ever. We stop it with
// PTRACE_SYSCALL (a syscall stop delivers nothing at detach), never with a
// single-step, whose trap flag would survive the tracer and kill the task.
// Only a [vdso] without such a gadget falls back to single-stepping.
//
// Signals: while remote code runs, every signal of the thread but SIGTRAP
// is blocked (PTRACE_SETSIGMASK) and the real mask is kept in
// saved_sigmask(). SIGTRAP stays unblocked: the single-step traps are forced
// SIGTRAPs, and the kernel resets a forced signal that is blocked or
// ignored to SIG_DFL (the task's handler would be lost). A task whose
// SIGTRAP is ignored, or pending, is refused (Unsupported) before any
// remote code runs in it. A signal sent to the task meanwhile stays pending and is
// delivered, with its siginfo, after release() restores the mask: it can
// neither be lost nor run a handler on top of our stub. A signal the task had
// already dequeued when we stopped it (a signal-delivery-stop) is handed back
// to the kernel while blocked, which requeues it with its siginfo
// (ptrace_signal()). SIGSTOP cannot be blocked: it is let through, the group
// stops, the tracer's PTRACE_CONT overrides the stop while we work and the
// kernel re-enters it at detach. Synchronous faults in our own code
// (SIGSEGV, SIGBUS, ...) are reported as errors and never delivered.
//
// rseq: a thread stopped inside a restartable-sequence critical section
// has its ip moved to the section's abort handler before our code runs,
// exactly what the kernel does when it preempts one. Otherwise the kernel,
// seeing our ip outside the section, would clear rseq_cs, and the thread
// would resume mid-section unprotected.
//
// All calls must come from the thread that seized the task (ptrace links the
// tracee to the tracer thread). x86-64 tasks only.
#pragma once
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/user.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "base/result.h"
#include "sys/ptrace.h"

namespace amber::remote {

// One syscall of a batch.
struct Call {
  long nr = 0;
  std::array<uint64_t, 6> args{};
  bool stop_on_error = false;  // a failure (-errno) ends the batch here
  // Filled by run_batch:
  long result = 0;   // raw kernel return: a value, or -errno
  bool ran = false;  // false for calls after a stop_on_error failure
  bool failed() const { return ran && result < 0 && result >= -4095; }
};
template <class... A>
Call make_call(long nr, A... a) {
  static_assert(sizeof...(A) <= 6, "a syscall has at most 6 arguments");
  return Call{nr, {static_cast<uint64_t>(a)...}};
}

// A raw kernel return turned into a value, or an Error "what: strerror"
// carrying the errno.
Result<uint64_t> check_syscall(long ret, std::string_view what);

class RemoteTask {
 public:
  // PTRACE_O_SUSPEND_SECCOMP: a seccomp-filtered task would be killed (or
  // see ENOSYS) on the first remote syscall its filter forbids.
  static constexpr unsigned long kSeizeOptions = PTRACE_O_TRACESYSGOOD | PTRACE_O_SUSPEND_SECCOMP;
  // Default executor: room for this many calls per stop, and scratch memory
  // for their arguments (paths, structs, buffers).
  static constexpr size_t kDefaultTableCalls = 2048;
  static constexpr size_t kDefaultScratchBytes = 128 * 1024;

  // Seizes the thread, interrupts it and waits (up to 10 s) for the stop.
  // exit_kill: PTRACE_O_EXITKILL, the task dies with amber (a restore's
  // half-built tasks; never a live container's).
  static Result<RemoteTask> seize(pid_t tid, bool exit_kill = false);
  // Seizes and interrupts without waiting. tgid 0: read from /proc.
  static Result<RemoteTask> attach(pid_t tid, pid_t tgid = 0, bool exit_kill = false);

  enum class Progress { Pending, Stopped, Gone };
  // Collects the stop after attach() without blocking. Gone: the thread
  // exited before it stopped (nothing left to release).
  Result<Progress> poll_stop();
  // Blocks until the stop (or the thread's end).
  Result<Progress> wait_stop();
  // A task held between vfork and exec: its parent cannot stop until it
  // execs or exits (wait_for_vfork_done). Lets it run on to its exec, where
  // it stops again (the PTRACE_EVENT_EXEC stop becomes a PTRACE_INTERRUPT
  // stop before the new program's first instruction), or to its exit; the
  // stop comes through poll_stop / wait_stop. Only from a PTRACE_INTERRUPT
  // stop, before anything was changed in the task.
  Status run_to_exec();

  RemoteTask(RemoteTask&& o) noexcept;
  RemoteTask& operator=(RemoteTask&& o) noexcept;
  RemoteTask(const RemoteTask&) = delete;
  RemoteTask& operator=(const RemoteTask&) = delete;
  ~RemoteTask();

  pid_t tid() const { return tid_; }
  pid_t tgid() const { return tgid_; }
  bool attached() const { return state_ == State::Running || state_ == State::Stopped; }
  bool stopped() const { return state_ == State::Stopped; }
  // The task was in a job-control stop (or entered one while held); the
  // kernel puts it back there at detach.
  bool group_stopped() const { return group_stop_; }

  // Registers and signal mask as they were at the stop; release() puts
  // these back, so a restore sets the final values here.
  const user_regs_struct& saved_regs() const { return saved_regs_; }
  void set_saved_regs(const user_regs_struct& regs);
  uint64_t saved_sigmask() const { return saved_mask_; }
  void set_saved_sigmask(uint64_t mask);
  // Puts the saved registers and mask into the thread now rather than at
  // release(): /proc then shows the final state (restore verification).
  // No remote call may follow.
  Status put_back_saved();

  // One remote syscall; returns the raw kernel return (value or -errno).
  // Runs through the executor when one is mapped, else through [vdso].
  Result<long> syscall(long nr, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0,
                       uint64_t a5 = 0, uint64_t a6 = 0);
  // Same, with -errno turned into an Error "what: strerror".
  Result<uint64_t> syscall_checked(std::string_view what, long nr, uint64_t a1 = 0, uint64_t a2 = 0,
                                   uint64_t a3 = 0, uint64_t a4 = 0, uint64_t a5 = 0, uint64_t a6 = 0);

  // Resumable mode (see "amber killed" above): after every remote call
  // the thread's own registers and mask are put back, in an interrupt stop.
  void set_resumable(bool on) { resumable_ = on; }
  // Applies the kernel's rseq abort now if the thread stopped inside a
  // critical section (see "rseq"); done by the first remote call anyway.
  // The registers the journal records are the ones after this.
  Status settle_rseq();

  // The executor's code, as map_executor writes it at the start of its
  // mapping, and that mapping's size: how recovery recognizes an executor
  // left in a task by a killed amber.
  static std::span<const std::byte> stub_code();
  // Told right after amber maps something into the task (mapped true; a
  // failure unmaps it again) and right after it unmaps it: the crash
  // journal. The executor reports itself; other callers use note_mapping().
  using MappingObserver = std::function<Status(pid_t tgid, uint64_t base, size_t size, bool executor, bool mapped)>;
  void set_mapping_observer(MappingObserver f) { map_observer_ = std::move(f); }
  Status note_mapping(uint64_t base, size_t size, bool mapped) {
    return map_observer_ ? map_observer_(tgid_, base, size, false, mapped) : Status{};
  }
  static size_t executor_size_for(size_t table_calls = kDefaultTableCalls,
                                  size_t scratch_bytes = kDefaultScratchBytes);

  // Unsupported when the thread's SIGTRAP is ignored or pending (see
  // "Signals" above). Every first remote instruction checks it; a caller may
  // ask first, for a refusal that names no remote call. Reads /proc once.
  Status check_sigtrap();

  // Maps the executor: one code page (r-x) followed by the call table and
  // scratch area (rw-), private anonymous. addr 0: anywhere, else exactly
  // there (MAP_FIXED_NOREPLACE; EEXIST if taken).
  Status map_executor(uint64_t addr = 0, size_t table_calls = kDefaultTableCalls,
                      size_t scratch_bytes = kDefaultScratchBytes);
  // Runs the calls in order, table_calls per ptrace stop, and fills their
  // result/ran. An error means the batch could not run, or a stop_on_error
  // call failed (message names its index, number and errno).
  Status run_batch(std::span<Call> calls);
  // Removes the executor (its munmap runs through [vdso]'s syscall).
  Status unmap_executor();
  // Threads of one process share its address space, so one executor serves
  // them all: `owner` (another thread of this task's process) mapped it, this
  // thread runs batches in it. A shared executor is never unmapped through
  // this thread; drop_shared_executor() forgets it (before the owner unmaps).
  Status share_executor(const RemoteTask& owner);
  void drop_shared_executor();
  bool has_executor() const { return exec_base_ != 0; }
  uint64_t executor_base() const { return exec_base_; }
  size_t executor_size() const { return exec_size_; }
  // Memory in the executor free for the callers' syscall arguments.
  uint64_t scratch_addr() const { return scratch_addr_; }
  size_t scratch_size() const { return scratch_size_; }

  // The `syscall` instruction used without an executor: found in [vdso]
  // on first use, or, in a task without one, in its own executable code
  // (not the executor). Call refresh after moving or re-creating the vdso;
  // forget after removing it (found again on next use).
  Result<uint64_t> syscall_insn();
  // The [vdso] park gadget found with it ({0, 0}: none, single-steps).
  struct VdsoPark {
    uint64_t entry = 0, end = 0;  // [entry, end): mov $nr,%eax; syscall; leave; xor...; ret
  };
  Result<VdsoPark> vdso_park();
  // The frame a thread parked in [vdso] has in rbp, for the registers it
  // had when it was held (recovery tells a parked thread by it).
  static uint64_t park_frame(const user_regs_struct& own) { return (own.rsp - 512) & ~uint64_t{15}; }
  Status refresh_syscall_insn();
  void forget_syscall_insn();
  // Same, when the caller knows where [vdso] is (it just placed it): no
  // /proc/PID/maps read.
  Status refresh_syscall_insn(uint64_t vdso_start, uint64_t vdso_end);

  // The task's memory (process_vm_readv/writev; writable areas only).
  Status read(uint64_t addr, std::span<std::byte> out) const;
  Status write(uint64_t addr, std::span<const std::byte> data) const;

  // Puts registers and signal mask back and detaches. If the thread died
  // meanwhile, its exit is collected and this succeeds.
  Status release();
  // SIGKILL to the whole thread group, then waits for this thread's end.
  // For a multi-threaded process kill its other threads' RemoteTasks first
  // (or use send_kill() on all, then wait_gone() on non-leaders first): the
  // kernel reports a group leader's end only after its threads are reaped.
  Status kill();
  Status send_kill();
  Status wait_gone();
  // One non-blocking step of wait_gone(): true once the thread is gone.
  Result<bool> poll_gone();

 private:
  enum class State { Detached, Running, Stopped, Gone };
  RemoteTask(pid_t tid, pid_t tgid) : tid_(tid), tgid_(tgid) {}
  // Handles one wait result while waiting for the hold stop.
  Result<Progress> on_hold_stop(const sys::Stop& s);
  enum class Until { Park, Step, SyscallExit };
  Status block_signals();
  Status prepare_run();
  // Sets `regs`, blocks signals, resumes (CONT, SINGLESTEP or SYSCALL) until
  // our stop at stop_rip (the executor's park, the single-step trap, or the
  // exit of the syscall at the [vdso] park) and returns the registers there;
  // then end_remote().
  Result<user_regs_struct> run_remote(const user_regs_struct& regs, uint64_t stop_rip, Until until);
  // Other stops on the way are handled as the header comment says.
  Result<user_regs_struct> run_until_stop(uint64_t stop_rip, Until until);
  // One syscall at the [vdso] park gadget's `syscall` (see "amber killed").
  Result<long> run_vdso_parked(user_regs_struct r);
  // Resumable mode: the signal-delivery-stop becomes an interrupt stop, and
  // the thread's own mask and registers are put back.
  Status end_remote();
  uint64_t executor_parked() const;
  Result<long> run_one(uint64_t insn, bool step, long nr, const std::array<uint64_t, 6>& args);
  // One syscall through [vdso] (via_vdso) or the executor, issued again if
  // a job-control stop of the group cut it (-ERESTART*).
  Result<long> raw_syscall(bool via_vdso, long nr, const std::array<uint64_t, 6>& args);
  Status run_chunk(std::span<Call> calls, size_t first_index);
  void reap();

  pid_t tid_ = 0;
  pid_t tgid_ = 0;
  State state_ = State::Detached;
  bool group_stop_ = false;
  bool resumable_ = false;
  bool to_exec_ = false;            // run_to_exec(): the exec event becomes the hold stop
  unsigned long options_ = 0;       // the PTRACE_O_* of the seize
  bool regs_dirty_ = false;  // registers were changed: put saved_regs_ back at release
  bool mask_dirty_ = false;  // signal mask was changed: put saved_mask_ back
  bool mask_saved_ = false;
  bool signals_blocked_ = false;  // the thread runs with every signal blocked
  bool rseq_checked_ = false;
  bool sigtrap_checked_ = false;  // check_sigtrap() passed
  bool user_sigtrap_ = false;     // a SIGTRAP someone sent was discarded: sent again at release
  user_regs_struct saved_regs_{};
  uint64_t saved_mask_ = 0;
  uint64_t syscall_insn_ = 0;
  VdsoPark park_{};
  uint64_t exec_base_ = 0;
  size_t exec_size_ = 0;
  uint64_t table_addr_ = 0;
  size_t table_calls_ = 0;
  uint64_t scratch_addr_ = 0;
  size_t scratch_size_ = 0;
  bool exec_shared_ = false;  // borrowed from another thread (share_executor)
  MappingObserver map_observer_;
};

// Waits until every one of `tasks` (killed already) is gone, collecting
// their ends in whatever order the kernel reports them: a pid namespace's
// init is reported only after the namespace's other tasks, which its exit
// reaps — those it cannot reap while we trace them and wait for the init.
Status wait_all_gone(std::span<RemoteTask* const> tasks);

}  // namespace amber::remote
