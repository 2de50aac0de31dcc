// RemoteTask: seize, stop handling, remote syscalls through [vdso], release.
// The executor (batches) is in executor.cpp.
#include "remote/remote_task.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "base/files.h"

namespace amber::remote {

namespace {

constexpr uint64_t kSigTrapBit = uint64_t{1} << (SIGTRAP - 1);
// The mask remote code runs with: every signal but SIGTRAP (the kernel
// ignores the SIGKILL and SIGSTOP bits). The single-step trap is
// force_sig(SIGTRAP): when SIGTRAP is blocked or
// ignored the kernel resets its disposition to SIG_DFL (and unblocks it) —
// the task would lose its own SIGTRAP handler, or die of its next
// kill(SIGTRAP). Unblocked, the handler stays; the trap is a
// signal-delivery-stop we discard, so the handler never runs.
constexpr uint64_t kRunMask = ~kSigTrapBit;
constexpr unsigned long long kTrapFlag = 0x100;
constexpr unsigned long long kUserCs64 = 0x33;
constexpr int kMaxRestarts = 1000;
constexpr uint64_t kStopTimeoutMs = 10000;

// -ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK:
// seen only when a job-control stop cut a syscall we single-stepped.
bool is_restart(long r) { return r == -512 || r == -513 || r == -514 || r == -516; }

bool is_fault_signal(int sig) {
  return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGSYS || sig == SIGTRAP;
}

uint64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

void sleep_us(long us) {
  timespec ts{0, us * 1000};
  nanosleep(&ts, nullptr);
}

Result<pid_t> read_tgid(pid_t tid) {
  std::string text = TRY(read_file(fmt::format("/proc/{}/status", tid)));
  for (auto line : split(text, '\n')) {
    if (!starts_with(line, "Tgid:")) continue;
    auto v = parse_int(trim(line.substr(5)));
    if (v) return static_cast<pid_t>(*v);
  }
  return failf("/proc/{}/status: no Tgid line", tid);
}

// A hex signal set line ("SigIgn:\t0000000000000010": SIGTRAP) of /proc/TID/status.
uint64_t status_mask(std::string_view status, std::string_view key) {
  for (auto line : split(status, '\n'))
    if (starts_with(line, key)) return parse_uint(trim(line.substr(key.size())), 16).value_or(0);
  return 0;
}

// "Seccomp:" of /proc/TID/status (0 none, 1 strict, 2 filter).
int seccomp_mode(pid_t tid) {
  auto text = read_file(fmt::format("/proc/{}/status", tid));
  if (!text) return -1;
  for (auto line : split(*text, '\n'))
    if (starts_with(line, "Seccomp:")) return static_cast<int>(parse_int(trim(line.substr(8))).value_or(-1));
  return -1;
}

// The [vdso] park gadget (remote_task.h "amber killed"): a syscall fallback
//   mov $nr, %eax; syscall; leave; xor r,r ...; ret
// with nr a call that is harmless with NULL arguments, and xors that clear
// at least edx, esi and edi (the loop's arguments). Offsets in `text`.
struct Gadget {
  size_t entry, syscall, end;
};
std::optional<Gadget> find_park_gadget(std::span<const std::byte> text) {
  auto at = [&](size_t i) { return std::to_integer<unsigned>(text[i]); };
  for (size_t i = 0; i + 8 < text.size(); ++i) {
    if (at(i) != 0xb8 || at(i + 5) != 0x0f || at(i + 6) != 0x05 || at(i + 7) != 0xc9) continue;
    const unsigned nr = at(i + 1) | at(i + 2) << 8 | at(i + 3) << 16 | at(i + 4) << 24;
    if (nr != SYS_gettimeofday && nr != SYS_time && nr != SYS_clock_getres && nr != SYS_getcpu) continue;
    unsigned cleared = 0;  // bits: 1 edx, 2 esi, 4 edi
    for (size_t j = i + 8; j < text.size() && j < i + 48;) {
      if (at(j) == 0xc3) {
        if (cleared == 7) return Gadget{i, i + 5, j + 1};
        break;
      }
      // xor r32,r32: 31 /r with mod 11 and reg == rm, optionally after REX 0x45.
      const size_t op = at(j) == 0x45 ? j + 1 : j;
      if (op + 1 >= text.size() || at(op) != 0x31) break;
      const unsigned modrm = at(op + 1);
      if ((modrm >> 6) != 3 || ((modrm >> 3) & 7) != (modrm & 7)) break;
      if (op == j) cleared |= (modrm & 7) == 2 ? 1 : (modrm & 7) == 6 ? 2 : (modrm & 7) == 7 ? 4 : 0;
      j = op + 2;
    }
  }
  return std::nullopt;
}

std::string describe_end(const sys::Stop& s) {
  if (s.kind == sys::Stop::Kind::Exited) return fmt::format("exited with status {}", s.code);
  return fmt::format("was killed by signal {} ({})", s.sig, strsignal(s.sig));
}

}  // namespace

Result<uint64_t> check_syscall(long ret, std::string_view what) {
  if (ret < 0 && ret >= -4095) return sys_fail_errno(static_cast<int>(-ret), "{}", what);
  return static_cast<uint64_t>(ret);
}

Result<RemoteTask> RemoteTask::seize(pid_t tid, bool exit_kill) {
  RemoteTask t = TRY(attach(tid, 0, exit_kill));
  // Polled, not blocking: a task in uninterruptible sleep (or a vfork
  // parent) stops only when that ends.
  const uint64_t deadline = now_ms() + kStopTimeoutMs;
  for (;;) {
    Progress p = TRY(t.poll_stop());
    if (p == Progress::Stopped) return t;
    if (p == Progress::Gone) return failf("task {} ended while being seized", tid);
    if (now_ms() > deadline) return failf("task {} did not stop within {} ms of PTRACE_INTERRUPT", tid, kStopTimeoutMs);
    sleep_us(50);
  }
}

Result<RemoteTask> RemoteTask::attach(pid_t tid, pid_t tgid, bool exit_kill) {
  if (tgid == 0) tgid = TRY(read_tgid(tid));
  unsigned long options = kSeizeOptions | (exit_kill ? PTRACE_O_EXITKILL : 0);
  Status seized = sys::ptrace_seize(tid, options);
  // SUSPEND_SECCOMP needs CAP_SYS_ADMIN and a tracer not itself under
  // seccomp; a task without filters does not need it.
  if (!seized && seized.error().sys_errno == EPERM && seccomp_mode(tid) == 0) {
    options &= ~static_cast<unsigned long>(PTRACE_O_SUSPEND_SECCOMP);
    seized = sys::ptrace_seize(tid, options);
  }
  TRY(std::move(seized));
  RemoteTask t(tid, tgid);
  t.options_ = options;
  t.state_ = State::Running;
  if (auto r = sys::ptrace_interrupt(tid); !r) {
    // ESRCH: it died right after the seize; nothing else can fail here.
    t.state_ = State::Gone;
    t.reap();
    return std::unexpected(std::move(r.error()));
  }
  return t;
}

RemoteTask::RemoteTask(RemoteTask&& o) noexcept { *this = std::move(o); }

RemoteTask& RemoteTask::operator=(RemoteTask&& o) noexcept {
  if (this == &o) return *this;
  (void)release();
  tid_ = o.tid_;
  tgid_ = o.tgid_;
  state_ = o.state_;
  group_stop_ = o.group_stop_;
  resumable_ = o.resumable_;
  to_exec_ = o.to_exec_;
  options_ = o.options_;
  regs_dirty_ = o.regs_dirty_;
  mask_dirty_ = o.mask_dirty_;
  mask_saved_ = o.mask_saved_;
  signals_blocked_ = o.signals_blocked_;
  rseq_checked_ = o.rseq_checked_;
  sigtrap_checked_ = o.sigtrap_checked_;
  user_sigtrap_ = o.user_sigtrap_;
  saved_regs_ = o.saved_regs_;
  saved_mask_ = o.saved_mask_;
  syscall_insn_ = o.syscall_insn_;
  park_ = o.park_;
  exec_base_ = o.exec_base_;
  exec_size_ = o.exec_size_;
  table_addr_ = o.table_addr_;
  table_calls_ = o.table_calls_;
  scratch_addr_ = o.scratch_addr_;
  scratch_size_ = o.scratch_size_;
  exec_shared_ = o.exec_shared_;
  map_observer_ = std::move(o.map_observer_);
  o.state_ = State::Detached;
  return *this;
}

RemoteTask::~RemoteTask() { (void)release(); }

Result<RemoteTask::Progress> RemoteTask::on_hold_stop(const sys::Stop& s) {
  using K = sys::Stop::Kind;
  switch (s.kind) {
    case K::None:
      return Progress::Pending;
    case K::Exited:
    case K::Killed:
      state_ = State::Detached;  // the wait that reported it reaped it
      return Progress::Gone;
    case K::Interrupt:
    case K::GroupStop:
      group_stop_ = s.kind == K::GroupStop;
      saved_regs_ = TRY(sys::get_regs(tid_));
      if (!mask_saved_) {
        saved_mask_ = TRY(sys::get_sigmask(tid_));
        mask_saved_ = true;
      }
      if (resumable_ && signals_blocked_) {
        // A dequeued signal was requeued (below): its own mask back now.
        TRY(sys::set_sigmask(tid_, saved_mask_));
        signals_blocked_ = mask_dirty_ = false;
      }
      state_ = State::Stopped;
      return Progress::Stopped;
    case K::SignalDelivery:
      // The thread dequeued a signal before our trap. Handed back while
      // blocked, the kernel requeues it with its siginfo (ptrace_signal());
      // the restored mask lets it through after release. SIGSTOP cannot be
      // blocked: it starts the group-stop it asked for.
      TRY(block_signals());
      TRY(sys::ptrace_cont(tid_, s.sig));
      return Progress::Pending;
    case K::Event:
      if (to_exec_ && s.event == PTRACE_EVENT_EXEC) {
        // The exec is done (the vfork parent woke up): stop at the new
        // program's entry. A PTRACE_INTERRUPT sent in an event stop traps at
        // the resumed task's first return to user space.
        to_exec_ = false;
        TRY(sys::ptrace_set_options(tid_, options_));
        TRY(sys::ptrace_interrupt(tid_));
      }
      TRY(sys::ptrace_cont(tid_, 0));
      return Progress::Pending;
    case K::Syscall:
      TRY(sys::ptrace_cont(tid_, 0));
      return Progress::Pending;
  }
  return Progress::Pending;
}

Status RemoteTask::run_to_exec() {
  if (state_ != State::Stopped || group_stop_ || regs_dirty_ || mask_dirty_ || signals_blocked_ || exec_base_ != 0)
    return failf("task {}: run_to_exec: not in a plain hold stop", tid_);
  TRY(sys::ptrace_set_options(tid_, options_ | PTRACE_O_TRACEEXEC));
  TRY(sys::ptrace_cont(tid_, 0));
  to_exec_ = true;
  state_ = State::Running;
  return {};
}

Result<RemoteTask::Progress> RemoteTask::poll_stop() {
  for (;;) {
    if (state_ == State::Stopped) return Progress::Stopped;
    if (state_ != State::Running) return Progress::Gone;
    sys::Stop s = TRY(sys::wait_stop(tid_, /*nohang=*/true));
    if (s.kind == sys::Stop::Kind::None) return Progress::Pending;
    TRY(on_hold_stop(s));
  }
}

Result<RemoteTask::Progress> RemoteTask::wait_stop() {
  for (;;) {
    if (state_ == State::Stopped) return Progress::Stopped;
    if (state_ != State::Running) return Progress::Gone;
    sys::Stop s = TRY(sys::wait_stop(tid_));
    TRY(on_hold_stop(s));
  }
}

void RemoteTask::set_saved_regs(const user_regs_struct& regs) {
  saved_regs_ = regs;
  regs_dirty_ = true;
}

void RemoteTask::set_saved_sigmask(uint64_t mask) {
  saved_mask_ = mask;
  mask_saved_ = true;
  mask_dirty_ = true;
}

Status RemoteTask::put_back_saved() {
  if (state_ != State::Stopped) return failf("task {} is not held in a ptrace stop", tid_);
  if (regs_dirty_) TRY(sys::set_regs(tid_, saved_regs_));
  if (mask_dirty_) TRY(sys::set_sigmask(tid_, saved_mask_));
  regs_dirty_ = mask_dirty_ = signals_blocked_ = false;
  return {};
}

Status RemoteTask::block_signals() {
  if (signals_blocked_) return {};
  if (!mask_saved_) {
    saved_mask_ = TRY(sys::get_sigmask(tid_));
    mask_saved_ = true;
  }
  TRY(sys::set_sigmask(tid_, kRunMask));
  signals_blocked_ = mask_dirty_ = true;
  return {};
}

// Remote code stops on force_sig(SIGTRAP) (see kRunMask). Two states of the
// task's SIGTRAP it would change, refused before the first instruction:
// SIG_IGN (the kernel resets an ignored forced signal to SIG_DFL), and a
// SIGTRAP pending while blocked (unblocked for our code, it would be taken
// out of the queue — a dump would lose it). The task's pid inside the
// container is added by the callers' context.
Status RemoteTask::check_sigtrap() {
  if (sigtrap_checked_) return {};
  std::string status = TRY(read_file(fmt::format("/proc/{}/task/{}/status", tgid_, tid_)));
  if (status_mask(status, "SigIgn:") & kSigTrapBit)
    return unsupported("SIGTRAP is ignored (SIG_IGN): amber's remote code stops on a trap, which would reset it to "
                       "SIG_DFL; not supported yet");
  if ((status_mask(status, "SigPnd:") | status_mask(status, "ShdPnd:")) & kSigTrapBit)
    return unsupported("a SIGTRAP is pending: amber's remote code stops on a trap and would take it; not supported "
                       "yet");
  sigtrap_checked_ = true;
  return {};
}

Status RemoteTask::settle_rseq() {
  if (state_ != State::Stopped) return failf("task {} is not held in a ptrace stop", tid_);
  if (rseq_checked_) return {};
  auto conf = sys::get_rseq_configuration(tid_);
  // An error: a kernel without the request, so no rseq to care about.
  if (!conf || conf->rseq_abi_pointer == 0) {
    rseq_checked_ = true;
    return {};
  }
  // struct rseq: u32 cpu_id_start, u32 cpu_id, u64 rseq_cs, ...
  const uint64_t cs_field = conf->rseq_abi_pointer + 8;
  uint64_t cs_ptr = 0;
  TRY_CTX(read(cs_field, std::as_writable_bytes(std::span(&cs_ptr, 1))), "task {}: read rseq area", tid_);
  if (cs_ptr != 0) {
    // struct rseq_cs: u32 version, u32 flags, u64 start_ip, u64 post_commit_offset, u64 abort_ip.
    struct {
      uint32_t version, flags;
      uint64_t start_ip, post_commit_offset, abort_ip;
    } cs{};
    TRY_CTX(read(cs_ptr, std::as_writable_bytes(std::span(&cs, 1))), "task {}: read rseq_cs at {:#x}", tid_, cs_ptr);
    if (saved_regs_.rip - cs.start_ip < cs.post_commit_offset) {
      // The kernel's abort: ip to the handler, rseq_cs cleared. The task's
      // registers change now, not at release: whatever happens to amber,
      // the task resumes at the handler. (Cleared the other way round, it
      // could resume mid-section unprotected.)
      saved_regs_.rip = cs.abort_ip;
      TRY(sys::set_regs(tid_, saved_regs_));
      const uint64_t zero = 0;
      TRY_CTX(write(cs_field, std::as_bytes(std::span(&zero, 1))), "task {}: clear rseq_cs", tid_);
    }
  }
  rseq_checked_ = true;
  return {};
}

Status RemoteTask::prepare_run() {
  if (state_ != State::Stopped) return failf("task {} is not held in a ptrace stop", tid_);
  if (saved_regs_.cs != kUserCs64)
    return unsupported("task {} runs 32-bit code (cs {:#x}): remote syscalls need x86-64", tid_, saved_regs_.cs);
  TRY(check_sigtrap());
  // The mask is set by run_remote, right before our code runs.
  return settle_rseq();
}

Result<user_regs_struct> RemoteTask::run_until_stop(uint64_t stop_rip, Until until) {
  using K = sys::Stop::Kind;
  const bool step = until == Until::Step;
  int inject = 0;
  for (;;) {
    switch (until) {
      case Until::Park:
        TRY(sys::ptrace_cont(tid_, inject));
        break;
      case Until::Step:
        TRY(sys::ptrace_singlestep(tid_, inject));
        break;
      case Until::SyscallExit:
        TRY(sys::ptrace_syscall(tid_, inject));
        break;
    }
    inject = 0;
    sys::Stop s = TRY(sys::wait_stop(tid_));
    switch (s.kind) {
      case K::Exited:
      case K::Killed:
        state_ = State::Detached;  // reaped by that wait
        return failf("task {} {} while running remote code", tid_, describe_end(s));
      case K::SignalDelivery: {
        siginfo_t si = TRY(sys::get_siginfo(tid_));
        bool from_kernel = si.si_code > 0;  // SI_USER, SI_TKILL, SI_QUEUE are <= 0
        if (until == Until::Park && s.sig == SIGSTOP && si.si_code == SI_TKILL) {
          // The executor's park (executor.cpp): its own tgkill. Discarded
          // by the next resume, which passes no signal.
          user_regs_struct regs = TRY(sys::get_regs(tid_));
          if (regs.rip == stop_rip) return regs;
        }
        if (step && s.sig == SIGTRAP && from_kernel) {
          user_regs_struct regs = TRY(sys::get_regs(tid_));
          if (regs.rip == stop_rip) return regs;
          return failf("task {}: unexpected trap at {:#x} (expected {:#x})", tid_, regs.rip, stop_rip);
        }
        if (is_fault_signal(s.sig) && from_kernel) {
          // Ours: the task stays in this stop; the next resume discards it.
          user_regs_struct regs = TRY(sys::get_regs(tid_));
          return failf("task {}: remote code got {} at {:#x} (address {})", tid_, strsignal(s.sig), regs.rip,
                       si.si_addr);
        }
        if (s.sig == SIGTRAP) {
          // Sent by someone (kill, tgkill) while our code ran with SIGTRAP
          // unblocked: injected, the task's handler would run on top of our
          // code. Discarded now, sent again at release (the sender's pid
          // and uid are lost: amber sends it).
          user_sigtrap_ = true;
          continue;
        }
        // Sent by someone else while all other signals are blocked: only
        // SIGSTOP gets here. Injected, it starts the group-stop it asked for.
        inject = s.sig;
        continue;
      }
      case K::GroupStop:
        // PTRACE_CONT overrides a job-control stop of a seized task; the
        // kernel puts the thread back into it at detach.
        group_stop_ = true;
        continue;
      case K::Syscall:
        if (until == Until::SyscallExit) {
          auto info = TRY(sys::get_syscall_info(tid_));
          if (info.op == PTRACE_SYSCALL_INFO_EXIT) {
            user_regs_struct regs = TRY(sys::get_regs(tid_));
            if (regs.rip == stop_rip) return regs;
            return failf("task {}: unexpected syscall exit at {:#x} (expected {:#x})", tid_, regs.rip, stop_rip);
          }
        }
        continue;
      case K::None:
      case K::Interrupt:
      case K::Event:
        continue;
    }
  }
}

Result<user_regs_struct> RemoteTask::run_remote(const user_regs_struct& regs, uint64_t stop_rip, Until until) {
  // Registers first, then the mask: a task whose tracer vanishes between the
  // two runs our code with its own mask and parks (see "amber killed").
  TRY(sys::set_regs(tid_, regs));
  regs_dirty_ = true;
  TRY(block_signals());
  user_regs_struct out = TRY(run_until_stop(stop_rip, until));
  TRY(end_remote());
  return out;
}

Status RemoteTask::end_remote() {
  if (!resumable_) return {};
  // The task sits in a signal-delivery-stop (our SIGSTOP, or the
  // single-step SIGTRAP). Were amber killed now, the kernel would deliver
  // that signal at detach (ptrace_signal() keeps exit_code): a SIGTRAP kills,
  // a SIGSTOP stops the group. PTRACE_INTERRUPT then PTRACE_CONT with no
  // signal turns it into an interrupt stop before the task returns to user
  // mode (get_signal() handles the trap first); that stop ends harmlessly.
  TRY(sys::ptrace_interrupt(tid_));
  TRY(sys::ptrace_cont(tid_, 0));
  for (bool stopped = false; !stopped;) {
    sys::Stop s = TRY(sys::wait_stop(tid_));
    using K = sys::Stop::Kind;
    switch (s.kind) {
      case K::Exited:
      case K::Killed:
        state_ = State::Detached;
        return failf("task {} {} after remote code", tid_, describe_end(s));
      case K::Interrupt:
        stopped = true;
        break;
      case K::GroupStop:
        group_stop_ = stopped = true;
        break;
      case K::SignalDelivery:
        if (s.sig == SIGTRAP) {
          user_sigtrap_ = true;  // sent by someone: see run_until_stop
          TRY(sys::ptrace_cont(tid_, 0));
        } else {
          TRY(sys::ptrace_cont(tid_, s.sig));
        }
        break;
      case K::None:
      case K::Event:
      case K::Syscall:
        TRY(sys::ptrace_cont(tid_, 0));
        break;
    }
  }
  // Mask first, registers last: in between the task is still parked in the
  // executor, which recovery recognizes.
  TRY(sys::set_sigmask(tid_, saved_mask_));
  signals_blocked_ = mask_dirty_ = false;
  TRY(sys::set_regs(tid_, saved_regs_));
  regs_dirty_ = false;
  return {};
}

Result<long> RemoteTask::run_one(uint64_t insn, bool step, long nr, const std::array<uint64_t, 6>& a) {
  user_regs_struct r = saved_regs_;
  r.rip = insn;
  r.rax = static_cast<unsigned long long>(nr);
  // orig_rax -1: no syscall restart logic applies to our registers.
  r.orig_rax = ~0ull;
  r.rdi = a[0];
  r.rsi = a[1];
  r.rdx = a[2];
  r.r10 = a[3];
  r.r8 = a[4];
  r.r9 = a[5];
  r.eflags &= ~kTrapFlag;
  // In the executor: its park, result in r13. Through [vdso]: its park
  // gadget if it has one, else single-stepped (the trap right after
  // `syscall`, 2 bytes), result in rax.
  if (!step) return static_cast<long>(TRY(run_remote(r, executor_parked(), Until::Park)).r13);
  if (park_.entry != 0 && insn > park_.entry && insn < park_.end) return run_vdso_parked(r);
  return static_cast<long>(TRY(run_remote(r, insn + 2, Until::Step)).rax);
}

Result<long> RemoteTask::run_vdso_parked(user_regs_struct r) {
  // The frame `leave; ret` takes after the syscall: rbp -> {frame, entry}.
  // Below the thread's red zone, so nothing live is there; the two words
  // are put back afterwards.
  const uint64_t frame = park_frame(saved_regs_);
  std::array<uint64_t, 2> old{};
  const std::array<uint64_t, 2> park{frame, park_.entry};
  if (!read(frame, std::as_writable_bytes(std::span(old))) || !write(frame, std::as_bytes(std::span(park))))
    return static_cast<long>(TRY(run_remote(r, r.rip + 2, Until::Step)).rax);  // no writable stack there
  r.rbp = frame;
  user_regs_struct out = TRY(run_remote(r, r.rip + 2, Until::SyscallExit));
  TRY_CTX(write(frame, std::as_bytes(std::span(old))), "task {}: put its stack back", tid_);
  return static_cast<long>(out.rax);
}

Result<long> RemoteTask::raw_syscall(bool via_vdso, long nr, const std::array<uint64_t, 6>& args) {
  TRY(prepare_run());
  uint64_t insn = via_vdso ? TRY(syscall_insn()) : exec_base_;
  long r = 0;
  for (int i = 0; i < kMaxRestarts; ++i) {
    r = TRY(run_one(insn, via_vdso, nr, args));
    if (!is_restart(r)) break;
  }
  return r;
}

Result<long> RemoteTask::syscall(long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5,
                                 uint64_t a6) {
  return raw_syscall(!has_executor(), nr, {a1, a2, a3, a4, a5, a6});
}

Result<uint64_t> RemoteTask::syscall_checked(std::string_view what, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
                                             uint64_t a4, uint64_t a5, uint64_t a6) {
  long r = TRY_CTX(syscall(nr, a1, a2, a3, a4, a5, a6), "task {}: {}", tid_, what);
  return check_syscall(r, fmt::format("task {}: {}", tid_, what));
}

Result<uint64_t> RemoteTask::syscall_insn() {
  if (syscall_insn_ == 0) TRY(refresh_syscall_insn());
  return syscall_insn_;
}

Result<RemoteTask::VdsoPark> RemoteTask::vdso_park() {
  TRY(syscall_insn());
  return park_;
}

Status RemoteTask::refresh_syscall_insn() {
  syscall_insn_ = 0;
  park_ = {};
  std::string maps = TRY(read_file(fmt::format("/proc/{}/maps", tid_)));
  struct Text {
    uint64_t start, end;
  };
  std::vector<Text> texts;
  for (auto line : split(maps, '\n')) {
    auto fields = split_ws(line);
    if (fields.size() < 5) continue;
    auto range = split(fields[0], '-');
    uint64_t start = 0, end = 0;
    if (range.size() == 2) {
      start = parse_uint(range[0], 16).value_or(0);
      end = parse_uint(range[1], 16).value_or(0);
    }
    if (end <= start) return failf("task {}: bad line in maps: {}", tid_, line);
    if (fields.size() >= 6 && fields[5] == "[vdso]") return refresh_syscall_insn(start, end);
    // [vsyscall] is emulated (execute-only, faults); the executor goes away.
    const bool executor = exec_base_ != 0 && start >= exec_base_ && end <= exec_base_ + exec_size_;
    if (fields[1].size() >= 3 && fields[1][2] == 'x' && !executor && !(fields.size() >= 6 && fields[5] == "[vsyscall]"))
      texts.push_back({start, end});
  }
  // Through /proc/PID/mem: it reads execute-only code too (FOLL_FORCE),
  // which process_vm_readv does not.
  UniqueFd mem = TRY(open_fd(fmt::format("/proc/{}/mem", tid_), O_RDONLY | O_CLOEXEC));
  // No [vdso] (the program unmapped it): a `syscall` in its own code serves
  // the same way (jumped to and single-stepped, it is one instruction
  // whatever it belongs to); a program that makes syscalls has one.
  constexpr uint64_t kScanChunk = uint64_t{64} << 10;
  std::vector<std::byte> text;
  for (const Text& t : texts) {
    for (uint64_t at = t.start; at < t.end; at += kScanChunk) {
      const uint64_t n = std::min(kScanChunk + 1, t.end - at);  // one byte more: a pair across chunks
      text.resize(n);
      ssize_t got = ::pread(mem.get(), text.data(), n, static_cast<off_t>(at));
      if (got <= 0) break;
      text.resize(static_cast<size_t>(got));
      for (size_t i = 0; i + 1 < text.size(); ++i)
        if (text[i] == std::byte{0x0f} && text[i + 1] == std::byte{0x05}) {
          syscall_insn_ = at + i;
          return {};
        }
    }
  }
  return failf("task {} has no [vdso] and no syscall instruction in its code (needed to run a remote syscall "
               "without an executor)",
               tid_);
}

void RemoteTask::forget_syscall_insn() {
  syscall_insn_ = 0;
  park_ = {};
}

Status RemoteTask::refresh_syscall_insn(uint64_t start, uint64_t end) {
  syscall_insn_ = 0;
  park_ = {};
  if (end <= start || end - start > (uint64_t{1} << 20))
    return failf("task {}: bad [vdso] range {:#x}-{:#x}", tid_, start, end);
  std::vector<std::byte> text(end - start);
  TRY_CTX(sys::read_memory(tid_, start, text), "task {}: read [vdso]", tid_);
  if (auto g = find_park_gadget(text)) {
    park_ = {start + g->entry, start + g->end};
    syscall_insn_ = start + g->syscall;
    return {};
  }
  // Any 0f 05 pair decodes as `syscall` when jumped to directly, whatever
  // instruction it belongs to in the vdso's own code.
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] == std::byte{0x0f} && text[i + 1] == std::byte{0x05}) {
      syscall_insn_ = start + i;
      return {};
    }
  }
  return failf("task {}: no syscall instruction in [vdso]", tid_);
}

Status RemoteTask::read(uint64_t addr, std::span<std::byte> out) const {
  return sys::read_memory(tid_, addr, out);
}

Status RemoteTask::write(uint64_t addr, std::span<const std::byte> data) const {
  return sys::write_memory(tid_, addr, data);
}

void RemoteTask::reap() {
  // A traced thread that died stays a zombie until its tracer waits for it.
  for (int i = 0; i < 1000; ++i) {
    auto s = sys::wait_stop(tid_, /*nohang=*/true);
    if (!s || s->gone()) break;
    if (s->stopped()) (void)sys::ptrace_cont(tid_, 0);
    sleep_us(1000);
  }
  state_ = State::Detached;
}

Status RemoteTask::release() {
  if (state_ == State::Detached) return {};
  if (state_ == State::Gone) {
    reap();
    return {};
  }
  if (state_ == State::Running) {
    // Seized and interrupted, stop not collected yet: a tracee can only be
    // detached from a stop.
    const uint64_t deadline = now_ms() + kStopTimeoutMs;
    for (;;) {
      Progress p = TRY_CTX(poll_stop(), "release task {}", tid_);
      if (p == Progress::Gone) return {};
      if (p == Progress::Stopped) break;
      if (now_ms() > deadline)
        return failf("release task {}: no ptrace stop within {} ms (left seized; the kernel detaches it when amber "
                     "exits)",
                     tid_, kStopTimeoutMs);
      sleep_us(200);
    }
  }
  auto restore = [&]() -> Status {
    // "As it was" includes no executor mapping. Best effort: in a task whose
    // address space is half rebuilt (a failed restore, killed next) there
    // may be no vdso to run the munmap through; detaching matters more.
    if (exec_shared_) drop_shared_executor();
    if (exec_base_ != 0) (void)unmap_executor();
    if (regs_dirty_) TRY(sys::set_regs(tid_, saved_regs_));
    if (mask_dirty_) TRY(sys::set_sigmask(tid_, saved_mask_));
    if (user_sigtrap_ && ::syscall(SYS_tgkill, tgid_, tid_, SIGTRAP) != 0 && errno != ESRCH)
      return sys_fail("send back the SIGTRAP thread {} got while running remote code", tid_);
    user_sigtrap_ = false;
    return sys::ptrace_detach(tid_, 0);
  };
  Status st = restore();
  if (!st && st.error().sys_errno == ESRCH) {
    // Killed while held (SIGKILL ends even a ptrace stop): collect it.
    reap();
    return {};
  }
  if (!st) return context(std::move(st), fmt::format("release task {}", tid_));
  state_ = State::Detached;
  regs_dirty_ = mask_dirty_ = signals_blocked_ = rseq_checked_ = false;
  return {};
}

Status RemoteTask::send_kill() {
  if (!attached()) return {};
  if (::kill(tgid_, SIGKILL) < 0 && errno != ESRCH) return sys_fail("kill {} (thread {})", tgid_, tid_);
  return {};
}

Status RemoteTask::wait_gone() {
  uint64_t deadline = now_ms() + 30000;
  while (state_ != State::Detached) {
    auto s = sys::wait_stop(tid_, /*nohang=*/true);
    if (!s && s.error().sys_errno == ECHILD) break;  // reaped already
    if (!s) return failf("kill task {}: {}", tid_, s.error().message);
    if (s->gone()) break;
    if (s->stopped()) {
      (void)sys::ptrace_cont(tid_, 0);
      continue;
    }
    if (now_ms() > deadline) return failf("kill task {}: still there after 30 s", tid_);
    sleep_us(200);
  }
  state_ = State::Detached;
  return {};
}

Result<bool> RemoteTask::poll_gone() {
  if (state_ == State::Detached) return true;
  auto s = sys::wait_stop(tid_, /*nohang=*/true);
  if ((!s && s.error().sys_errno == ECHILD) || (s && s->gone())) {
    state_ = State::Detached;
    return true;
  }
  if (!s) return failf("kill task {}: {}", tid_, s.error().message);
  if (s->stopped()) (void)sys::ptrace_cont(tid_, 0);
  return false;
}

Status wait_all_gone(std::span<RemoteTask* const> tasks) {
  const uint64_t deadline = now_ms() + 30000;
  for (;;) {
    size_t left = 0;
    pid_t example = 0;
    for (RemoteTask* t : tasks) {
      if (TRY(t->poll_gone())) continue;
      ++left;
      example = t->tid();
    }
    if (left == 0) return {};
    if (now_ms() > deadline) return failf("kill task {}: still there after 30 s ({} left)", example, left);
    sleep_us(200);
  }
}

Status RemoteTask::kill() {
  TRY(send_kill());
  return wait_gone();
}

}  // namespace amber::remote
