#include "sys/ptrace.h"

#include <cpuid.h>
#include <elf.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <algorithm>

namespace amber::sys {

namespace {

// ptrace() returns -1/errno for requests that return a status.
long do_ptrace(__ptrace_request req, pid_t tid, const void* addr, const void* data) {
  errno = 0;
  return ::ptrace(req, tid, const_cast<void*>(addr), const_cast<void*>(data));
}

Status simple(__ptrace_request req, const char* name, pid_t tid, uintptr_t addr, uintptr_t data) {
  if (do_ptrace(req, tid, reinterpret_cast<void*>(addr), reinterpret_cast<void*>(data)) < 0)
    return sys_fail("{} {}", name, tid);
  return {};
}

bool is_stop_signal(int sig) { return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU; }

}  // namespace

Status ptrace_seize(pid_t tid, unsigned long options) {
  return simple(PTRACE_SEIZE, "PTRACE_SEIZE", tid, 0, options);
}
Status ptrace_interrupt(pid_t tid) { return simple(PTRACE_INTERRUPT, "PTRACE_INTERRUPT", tid, 0, 0); }
Status ptrace_set_options(pid_t tid, unsigned long options) {
  return simple(PTRACE_SETOPTIONS, "PTRACE_SETOPTIONS", tid, 0, options);
}
Status ptrace_cont(pid_t tid, int sig) {
  return simple(PTRACE_CONT, "PTRACE_CONT", tid, 0, static_cast<uintptr_t>(sig));
}
Status ptrace_singlestep(pid_t tid, int sig) {
  return simple(PTRACE_SINGLESTEP, "PTRACE_SINGLESTEP", tid, 0, static_cast<uintptr_t>(sig));
}
Status ptrace_syscall(pid_t tid, int sig) {
  return simple(PTRACE_SYSCALL, "PTRACE_SYSCALL", tid, 0, static_cast<uintptr_t>(sig));
}
Status ptrace_detach(pid_t tid, int sig) {
  return simple(PTRACE_DETACH, "PTRACE_DETACH", tid, 0, static_cast<uintptr_t>(sig));
}
Result<unsigned long> ptrace_event_msg(pid_t tid) {
  unsigned long msg = 0;
  if (do_ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &msg) < 0) return sys_fail("PTRACE_GETEVENTMSG {}", tid);
  return msg;
}

Stop decode_wait_status(int status) {
  Stop s;
  s.status = status;
  if (WIFEXITED(status)) {
    s.kind = Stop::Kind::Exited;
    s.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    s.kind = Stop::Kind::Killed;
    s.sig = WTERMSIG(status);
  } else if (WIFSTOPPED(status)) {
    s.sig = WSTOPSIG(status);
    s.event = (status >> 16) & 0xff;
    if (s.sig == (SIGTRAP | 0x80)) {
      s.kind = Stop::Kind::Syscall;
      s.sig = SIGTRAP;
    } else if (s.event == PTRACE_EVENT_STOP) {
      s.kind = is_stop_signal(s.sig) ? Stop::Kind::GroupStop : Stop::Kind::Interrupt;
    } else if (s.event != 0) {
      s.kind = Stop::Kind::Event;
    } else {
      s.kind = Stop::Kind::SignalDelivery;
    }
  }
  return s;
}

Result<Stop> wait_stop(pid_t tid, bool nohang) {
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(tid, &status, __WALL | (nohang ? WNOHANG : 0));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return sys_fail("waitpid {}", tid);
    if (r == 0) return Stop{};
    return decode_wait_status(status);
  }
}

Result<user_regs_struct> get_regs(pid_t tid) {
  user_regs_struct regs{};
  if (do_ptrace(PTRACE_GETREGS, tid, nullptr, &regs) < 0) return sys_fail("PTRACE_GETREGS {}", tid);
  return regs;
}

Status set_regs(pid_t tid, const user_regs_struct& regs) {
  if (do_ptrace(PTRACE_SETREGS, tid, nullptr, &regs) < 0) return sys_fail("PTRACE_SETREGS {}", tid);
  return {};
}

size_t xstate_buffer_size() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  // Leaf 0xD sub-leaf 0: ECX = XSAVE area size for every feature the CPU
  // supports, which bounds what the kernel may ever return.
  if (__get_cpuid_count(0xd, 0, &eax, &ebx, &ecx, &edx) && ecx >= 512) return ecx;
  return 4096;
}

Result<std::vector<uint8_t>> get_xstate(pid_t tid) {
  std::vector<uint8_t> buf(xstate_buffer_size());
  for (;;) {
    iovec iov{buf.data(), buf.size()};
    if (do_ptrace(PTRACE_GETREGSET, tid, reinterpret_cast<void*>(NT_X86_XSTATE), &iov) < 0)
      return sys_fail("PTRACE_GETREGSET NT_X86_XSTATE {}", tid);
    // The kernel truncates to our buffer without saying so: a full buffer
    // may be a cut one, so ask again with more room.
    if (iov.iov_len < buf.size()) {
      buf.resize(iov.iov_len);
      return buf;
    }
    if (buf.size() >= (1u << 20)) return failf("PTRACE_GETREGSET NT_X86_XSTATE {}: area larger than 1 MiB", tid);
    buf.resize(buf.size() * 2);
  }
}

Status set_xstate(pid_t tid, std::span<const uint8_t> xstate) {
  iovec iov{const_cast<uint8_t*>(xstate.data()), xstate.size()};
  if (do_ptrace(PTRACE_SETREGSET, tid, reinterpret_cast<void*>(NT_X86_XSTATE), &iov) < 0)
    return sys_fail("PTRACE_SETREGSET NT_X86_XSTATE {} ({} bytes)", tid, xstate.size());
  return {};
}

Result<uint64_t> get_sigmask(pid_t tid) {
  uint64_t mask = 0;
  if (do_ptrace(PTRACE_GETSIGMASK, tid, reinterpret_cast<void*>(sizeof mask), &mask) < 0)
    return sys_fail("PTRACE_GETSIGMASK {}", tid);
  return mask;
}

Status set_sigmask(pid_t tid, uint64_t mask) {
  if (do_ptrace(PTRACE_SETSIGMASK, tid, reinterpret_cast<void*>(sizeof mask), &mask) < 0)
    return sys_fail("PTRACE_SETSIGMASK {}", tid);
  return {};
}

Result<siginfo_t> get_siginfo(pid_t tid) {
  siginfo_t info{};
  if (do_ptrace(PTRACE_GETSIGINFO, tid, nullptr, &info) < 0) return sys_fail("PTRACE_GETSIGINFO {}", tid);
  return info;
}

Status set_siginfo(pid_t tid, const siginfo_t& info) {
  if (do_ptrace(PTRACE_SETSIGINFO, tid, nullptr, &info) < 0) return sys_fail("PTRACE_SETSIGINFO {}", tid);
  return {};
}

Result<__ptrace_syscall_info> get_syscall_info(pid_t tid) {
  __ptrace_syscall_info info{};
  if (do_ptrace(PTRACE_GET_SYSCALL_INFO, tid, reinterpret_cast<void*>(sizeof info), &info) < 0)
    return sys_fail("PTRACE_GET_SYSCALL_INFO {}", tid);
  return info;
}

Result<std::vector<siginfo_t>> peek_siginfo(pid_t tid, bool shared) {
  std::vector<siginfo_t> out;
  siginfo_t chunk[32];
  for (;;) {
    __ptrace_peeksiginfo_args args{};
    args.off = out.size();
    args.flags = shared ? PTRACE_PEEKSIGINFO_SHARED : 0;
    args.nr = 32;
    long n = do_ptrace(PTRACE_PEEKSIGINFO, tid, &args, chunk);
    if (n < 0) return sys_fail("PTRACE_PEEKSIGINFO {} ({})", tid, shared ? "shared" : "thread");
    out.insert(out.end(), chunk, chunk + n);
    if (n < 32) return out;
  }
}

Result<__ptrace_rseq_configuration> get_rseq_configuration(pid_t tid) {
  __ptrace_rseq_configuration conf{};
  if (do_ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, reinterpret_cast<void*>(sizeof conf), &conf) < 0)
    return sys_fail("PTRACE_GET_RSEQ_CONFIGURATION {}", tid);
  return conf;
}

Result<std::vector<SeccompFilter>> get_seccomp_filters(pid_t tid) {
  std::vector<SeccompFilter> out;
  for (unsigned long index = 0;; ++index) {
    long n = do_ptrace(PTRACE_SECCOMP_GET_FILTER, tid, reinterpret_cast<void*>(index), nullptr);
    // ENOENT: past the oldest filter (or no filter at all).
    if (n < 0 && errno == ENOENT) return out;
    if (n < 0) return sys_fail("PTRACE_SECCOMP_GET_FILTER {} #{}", tid, index);
    SeccompFilter f;
    f.insns.resize(static_cast<size_t>(n));
    if (do_ptrace(PTRACE_SECCOMP_GET_FILTER, tid, reinterpret_cast<void*>(index), f.insns.data()) < 0)
      return sys_fail("PTRACE_SECCOMP_GET_FILTER {} #{}", tid, index);
    __ptrace_seccomp_metadata meta{index, 0};
    if (do_ptrace(PTRACE_SECCOMP_GET_METADATA, tid, reinterpret_cast<void*>(sizeof meta), &meta) < 0)
      return sys_fail("PTRACE_SECCOMP_GET_METADATA {} #{}", tid, index);
    f.flags = meta.flags;
    out.push_back(std::move(f));
  }
}

Status read_memory(pid_t pid, uint64_t addr, std::span<std::byte> out) {
  size_t done = 0;
  while (done < out.size()) {
    iovec local{out.data() + done, out.size() - done};
    iovec remote{reinterpret_cast<void*>(addr + done), out.size() - done};
    ssize_t n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_fail("read memory of {} at {:#x}+{:#x}", pid, addr + done, out.size() - done);
    if (n == 0) return failf("read memory of {} at {:#x}: nothing read", pid, addr + done);
    done += static_cast<size_t>(n);
  }
  return {};
}

Status write_memory(pid_t pid, uint64_t addr, std::span<const std::byte> data) {
  size_t done = 0;
  while (done < data.size()) {
    iovec local{const_cast<std::byte*>(data.data()) + done, data.size() - done};
    iovec remote{reinterpret_cast<void*>(addr + done), data.size() - done};
    ssize_t n = ::process_vm_writev(pid, &local, 1, &remote, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_fail("write memory of {} at {:#x}+{:#x}", pid, addr + done, data.size() - done);
    if (n == 0) return failf("write memory of {} at {:#x}: nothing written", pid, addr + done);
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace amber::sys
