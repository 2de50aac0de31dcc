// Per-thread state (see thread.h for the restore order).
#include "kinds/thread.h"

#include <linux/rseq.h>
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

Status restore_comm(remote::RemoteTask& task, const img::Thread& thread) {
  const std::string& comm = thread.comm();
  if (comm.empty()) return {};
  if (comm.size() >= kCommLen || comm.find('\0') != std::string::npos)
    return bad_input("thread {}: comm of {} bytes is not a kernel task name", thread.tid(), comm.size());
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
