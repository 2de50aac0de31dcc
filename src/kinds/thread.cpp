// Per-thread state (see thread.h for the restore order).
#include "kinds/thread.h"

#include <linux/rseq.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <cstring>

#include "kinds/syscall_restart.h"
#include "base/files.h"
#include "sys/ptrace.h"

namespace amber::kinds {

namespace {

// PR_SET_NAME takes at most 15 bytes and a NUL (TASK_COMM_LEN 16).
constexpr size_t kCommLen = 16;

Result<std::string> read_thread_comm(pid_t tgid, pid_t tid) {
  std::string comm = TRY(read_file(fmt::format("/proc/{}/task/{}/comm", tgid, tid)));
  // The kernel appends one '\n'; a name may itself end in '\n', so only one goes.
  if (!comm.empty() && comm.back() == '\n') comm.pop_back();
  return comm;
}

Result<user_regs_struct> regs_from_image(const img::Thread& thread) {
  const std::string& raw = thread.regs();
  if (raw.size() != sizeof(user_regs_struct))
    return bad_input("thread {}: registers are {} bytes, expected {} (user_regs_struct of x86-64)", thread.tid(),
                     raw.size(), sizeof(user_regs_struct));
  user_regs_struct regs{};
  std::memcpy(&regs, raw.data(), sizeof regs);
  return regs;
}

Status check_comm(const img::Thread& thread) {
  const std::string& comm = thread.comm();
  if (comm.size() >= kCommLen || comm.find('\0') != std::string::npos)
    return bad_input("thread {}: comm of {} bytes is not a kernel task name", thread.tid(), comm.size());
  return {};
}

Status restore_comm(remote::RemoteTask& task, const img::Thread& thread) {
  const std::string& comm = thread.comm();
  if (comm.empty()) return {};
  TRY(check_comm(thread));
  if (!task.has_executor() || task.scratch_size() < kCommLen)
    return failf("thread {}: restoring comm needs the executor's scratch area", thread.tid());
  char buf[kCommLen] = {};
  std::memcpy(buf, comm.data(), comm.size());
  TRY_CTX(task.write(task.scratch_addr(), std::as_bytes(std::span(buf))), "thread {}: write comm", thread.tid());
  // PR_SET_NAME names the calling thread only: it runs in that very thread.
  TRY(task.syscall_checked("prctl(PR_SET_NAME)", SYS_prctl, PR_SET_NAME, task.scratch_addr()));
  return {};
}

// rseq is registered per thread. A fresh task has glibc's registration (or
// none, if the mm restore unregistered it before tearing the address space
// down): make it exactly the dumped one.
Status restore_rseq(remote::RemoteTask& task, const img::Rseq& want) {
  __ptrace_rseq_configuration cur = TRY(sys::get_rseq_configuration(task.tid()));
  if (cur.rseq_abi_pointer == want.ptr() && (want.ptr() == 0 || (cur.rseq_abi_size == want.len() &&
                                                                  cur.signature == want.sig())))
    return {};
  if (cur.rseq_abi_pointer != 0) {
    // The kernel refuses a second registration (EBUSY/EINVAL) until the
    // current one is undone, with its own length and signature.
    TRY(task.syscall_checked(fmt::format("rseq unregister {:#x}", cur.rseq_abi_pointer), SYS_rseq,
                             cur.rseq_abi_pointer, cur.rseq_abi_size, RSEQ_FLAG_UNREGISTER, cur.signature));
  }
  if (want.ptr() == 0) return {};
  TRY(task.syscall_checked(fmt::format("rseq register {:#x} len {} sig {:#x}", want.ptr(), want.len(), want.sig()),
                           SYS_rseq, want.ptr(), want.len(), 0, want.sig()));
  return {};
}

}  // namespace

user_regs_struct apply_restart_rules(user_regs_struct regs) {
  // orig_rax is -1 unless the task entered the kernel through a syscall
  // (the kernel's own syscall_get_nr() test before restarting one).
  if (static_cast<long>(regs.orig_rax) < 0) return regs;
  const long ret = static_cast<long>(regs.rax);
  switch (-ret) {
    case kErestartSys:
    case kErestartNoIntr:
    case kErestartNoHand:
    case kErestartRestartBlock:
      regs.rax = regs.orig_rax;
      regs.rip -= 2;  // back onto the 2-byte `syscall`
      return regs;
    default:
      break;
  }
  // Other kernel-internal codes (ENOIOCTLCMD, EPROBE_DEFER, ...) never reach
  // user space; errnos a program knows are below 512.
  if (ret <= -512 && ret >= -4095) regs.rax = static_cast<unsigned long long>(-static_cast<long>(EINTR));
  return regs;
}

Result<img::Thread> dump_thread(remote::RemoteTask& task) {
  const pid_t tid = task.tid();
  img::Thread t;
  t.set_tid(tid);
  // A task resumed once through restart_syscall carries that number, not
  // the call it continues (syscall_restart.h).
  auto read_mem = [&task](uint64_t addr, size_t len) -> std::optional<std::vector<uint8_t>> {
    std::vector<uint8_t> b(len);
    if (!task.read(addr, std::as_writable_bytes(std::span(b)))) return std::nullopt;
    return b;
  };
  const user_regs_struct regs = resolve_restart_syscall(task.saved_regs(), read_mem);
  t.set_regs(std::string(reinterpret_cast<const char*>(&regs), sizeof regs));
  std::vector<uint8_t> xstate = TRY_CTX(sys::get_xstate(tid), "thread {}: xstate", tid);
  t.set_xstate(std::string(xstate.begin(), xstate.end()));
  // The real mask: RemoteTask blocks every signal while remote code runs.
  t.set_blocked(task.saved_sigmask());

  __ptrace_rseq_configuration rseq = TRY_CTX(sys::get_rseq_configuration(tid), "thread {}: rseq", tid);
  if (rseq.rseq_abi_pointer != 0) {
    t.mutable_rseq()->set_ptr(rseq.rseq_abi_pointer);
    t.mutable_rseq()->set_len(rseq.rseq_abi_size);
    t.mutable_rseq()->set_sig(rseq.signature);
  }

  // At a PTRACE_INTERRUPT stop the op is NONE even for a task blocked in a
  // syscall: the registers tell (orig_rax >= 0, rax = result or -ERESTART*).
  __ptrace_syscall_info info = TRY_CTX(sys::get_syscall_info(tid), "thread {}: syscall info", tid);
  img::SyscallState* sc = t.mutable_syscall();
  sc->set_ptrace_op(info.op);
  sc->set_in_syscall(static_cast<long>(regs.orig_rax) >= 0);
  sc->set_nr(static_cast<long>(regs.orig_rax));
  sc->set_ret(static_cast<long>(regs.rax));

  t.set_comm(TRY_CTX(read_thread_comm(task.tgid(), tid), "thread {}: comm", tid));
  return t;
}

Status check_thread_image(const img::Thread& thread) {
  TRY(regs_from_image(thread));
  return check_comm(thread);
}

Status restore_thread(remote::RemoteTask& task, const img::Thread& thread) {
  TRY_CTX(restore_comm(task, thread), "restore thread {}", thread.tid());
  TRY_CTX(restore_rseq(task, thread.rseq()), "restore thread {}", thread.tid());
  // Applied by release(): remote code keeps running with everything blocked.
  task.set_saved_sigmask(thread.blocked());
  return {};
}

Status restore_thread_final(remote::RemoteTask& task, const img::Thread& thread) {
  user_regs_struct regs = TRY(regs_from_image(thread));
  if (!task.stopped()) return failf("restore thread {}: task {} is not stopped", thread.tid(), task.tid());
  if (!thread.xstate().empty()) {
    const auto* p = reinterpret_cast<const uint8_t*>(thread.xstate().data());
    TRY_CTX(sys::set_xstate(task.tid(), std::span(p, thread.xstate().size())), "restore thread {}", thread.tid());
  }
  task.set_saved_regs(apply_restart_rules(regs));
  return {};
}

}  // namespace amber::kinds

// ---- per-thread attributes ------------------------------------------------

// clone3 for a thread that must not run C++: it has no TLS of its own (fs is
// the creator's) and a stack nobody else knows. The child half loops in
// pause() until the controller seizes it and replaces its registers; it
// touches no memory at all, so its stack may disappear under it.
asm(R"(
  .pushsection .text.amber_clone3_parked, "ax"
  .globl amber_clone3_parked
  .hidden amber_clone3_parked
  .type amber_clone3_parked, @function
amber_clone3_parked:
  mov $435, %eax
  syscall
  test %rax, %rax
  jnz 1f
2:
  mov $34, %eax
  syscall
  jmp 2b
1:
  ret
  .size amber_clone3_parked, .-amber_clone3_parked
  .popsection
)");
extern "C" long amber_clone3_parked(void* args, size_t size);

namespace amber::kinds {

namespace {

// The kernel's stack_t on x86-64.
struct KernelStack {
  uint64_t sp;
  int32_t flags;
  int32_t pad;
  uint64_t size;
};
static_assert(sizeof(KernelStack) == 24);

constexpr uint32_t kSsOnStack = 1;  // SS_ONSTACK: reported, never set
constexpr uint64_t kRobustHeadSize = 24;  // sizeof(struct robust_list_head)
constexpr size_t kParkedStack = 16 * 1024;

Status check_scratch(const remote::RemoteTask& task, size_t need) {
  if (!task.has_executor() || task.scratch_size() < need)
    return failf("thread {}: needs the executor's scratch area", task.tid());
  return {};
}

}  // namespace

Status dump_thread_attrs(remote::RemoteTask& task, img::Thread& out) {
  const pid_t tid = task.tid();
  TRY(check_scratch(task, 64));
  const uint64_t ss = task.scratch_addr(), tidp = ss + 32;
  const uint64_t zero[5] = {};
  TRY_CTX(task.write(ss, std::as_bytes(std::span(zero))), "thread {}: clear scratch", tid);
  // PR_GET_TID_ADDRESS exists with CONFIG_CHECKPOINT_RESTORE only; it and
  // sigaltstack answer about the calling thread, hence remote.
  std::vector<remote::Call> calls = {remote::make_call(SYS_sigaltstack, 0, ss),
                                     remote::make_call(SYS_prctl, PR_GET_TID_ADDRESS, tidp, 0, 0, 0)};
  TRY_CTX(task.run_batch(calls), "thread {}: sigaltstack / PR_GET_TID_ADDRESS", tid);
  TRY(remote::check_syscall(calls[0].result, fmt::format("thread {}: sigaltstack", tid)));
  TRY(remote::check_syscall(calls[1].result, fmt::format("thread {}: prctl(PR_GET_TID_ADDRESS)", tid)));
  struct {
    KernelStack st;
    uint64_t pad;
    uint64_t tid_address;
  } got{};
  static_assert(sizeof got == 40);
  TRY_CTX(task.read(ss, std::as_writable_bytes(std::span(&got, 1))), "thread {}: read results", tid);
  img::SigAltStack* alt = out.mutable_altstack();
  alt->set_sp(got.st.sp);
  alt->set_flags(static_cast<uint32_t>(got.st.flags) & ~kSsOnStack);
  alt->set_size(got.st.size);
  out.set_clear_tid_address(got.tid_address);

  uint64_t head = 0;
  size_t len = 0;
  if (::syscall(SYS_get_robust_list, tid, &head, &len) != 0) return sys_fail("thread {}: get_robust_list", tid);
  out.set_robust_list(head);
  out.set_robust_list_len(len);
  return {};
}

Status restore_thread_attrs(remote::RemoteTask& task, const img::Thread& thread) {
  const pid_t tid = thread.tid();
  TRY(check_scratch(task, sizeof(KernelStack)));
  const img::SigAltStack& alt = thread.altstack();
  KernelStack st{alt.sp(), static_cast<int32_t>(alt.flags() & ~kSsOnStack), 0, alt.size()};
  // No altstack in the image at all (an image of an older amber): none.
  if (!thread.has_altstack()) st = KernelStack{0, SS_DISABLE, 0, 0};
  TRY_CTX(task.write(task.scratch_addr(), std::as_bytes(std::span(&st, 1))), "restore thread {}: write stack_t", tid);
  uint64_t robust_len = thread.robust_list_len() ? thread.robust_list_len() : kRobustHeadSize;
  // The thread was born with amber's state: glibc registered a robust list
  // and a clear-tid address in amber's TLS, which is gone; both are set even
  // when the image's are 0. A fresh thread is never on an altstack, so
  // sigaltstack cannot fail with EPERM here.
  std::vector<remote::Call> calls = {
      remote::make_call(SYS_sigaltstack, task.scratch_addr(), 0),
      remote::make_call(SYS_set_robust_list, thread.robust_list(), robust_len),
      remote::make_call(SYS_set_tid_address, thread.clear_tid_address()),
  };
  TRY_CTX(task.run_batch(calls), "restore thread {}", tid);
  TRY(remote::check_syscall(calls[0].result,
                            fmt::format("restore thread {}: sigaltstack {:#x}+{:#x} flags {:#x}", tid, st.sp, st.size,
                                        st.flags)));
  TRY(remote::check_syscall(calls[1].result,
                            fmt::format("restore thread {}: set_robust_list {:#x}", tid, thread.robust_list())));
  TRY(remote::check_syscall(calls[2].result, fmt::format("restore thread {}: set_tid_address", tid)));
  return {};
}

Status create_threads_in_child(const img::Task& task) {
  if (task.threads_size() <= 1) return {};
  // The threads inherit this mask: every signal blocked until the
  // controller sets each thread's own at release.
  sigset_t all, old;
  sigfillset(&all);
  if (sigprocmask(SIG_SETMASK, &all, &old) != 0) return sys_fail("task {}: block signals", task.pid());
  Status st;
  for (int i = 1; i < task.threads_size() && st; ++i) {
    const pid_t tid = task.threads(i).tid();
    void* stack = ::mmap(nullptr, kParkedStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) {
      st = sys_fail("task {}: stack for thread {}", task.pid(), tid);
      break;
    }
    clone_args args{};
    args.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
    args.stack = reinterpret_cast<uint64_t>(stack);
    args.stack_size = kParkedStack;
    pid_t want = tid;
    args.set_tid = reinterpret_cast<uint64_t>(&want);
    args.set_tid_size = 1;
    long r = amber_clone3_parked(&args, sizeof args);
    if (r < 0)
      st = sys_fail_errno(static_cast<int>(-r), "task {}: clone3 thread {}{}", task.pid(), tid,
                          r == -EEXIST ? " (tid taken)" : "");
    else if (r != tid)
      st = failf("task {}: clone3 made thread {}, not {}", task.pid(), r, tid);
  }
  sigprocmask(SIG_SETMASK, &old, nullptr);
  return st;
}

}  // namespace amber::kinds
