// Signal dispositions by remote rt_sigaction batches.
#include "kinds/signals.h"

#include <signal.h>
#include <sys/syscall.h>

#include <array>
#include <cstring>
#include <vector>

#include "sys/ptrace.h"

namespace amber::kinds {

namespace {

// rt_sigaction's sigsetsize: the kernel's sigset_t is 64 bits on x86-64.
constexpr uint64_t kSigsetSize = 8;
constexpr size_t kTableBytes = sizeof(KernelSigaction) * kMaxSignal;

bool settable(int sig) { return sig >= 1 && sig <= kMaxSignal && sig != SIGKILL && sig != SIGSTOP; }

// Runs one rt_sigaction per settable signal; a failure names the signal.
Status run_sigaction_batch(remote::RemoteTask& task, uint64_t act_base, uint64_t old_base, std::string_view what) {
  std::vector<remote::Call> calls;
  std::vector<int> sigs;
  for (int sig = 1; sig <= kMaxSignal; ++sig) {
    if (!settable(sig)) continue;
    const uint64_t off = (sig - 1) * sizeof(KernelSigaction);
    calls.push_back(remote::make_call(SYS_rt_sigaction, sig, act_base ? act_base + off : 0,
                                      old_base ? old_base + off : 0, kSigsetSize));
    sigs.push_back(sig);
  }
  TRY_CTX(task.run_batch(calls), "task {}: rt_sigaction ({})", task.tid(), what);
  for (size_t i = 0; i < calls.size(); ++i) {
    if (!calls[i].ran) return failf("task {}: rt_sigaction({}) ({}) did not run", task.tid(), sigs[i], what);
    if (calls[i].failed())
      return sys_fail_errno(static_cast<int>(-calls[i].result), "task {}: rt_sigaction({}, {}) ({})", task.tid(),
                            sigs[i], sigabbrev_np(sigs[i]) ? sigabbrev_np(sigs[i]) : "?", what);
  }
  return {};
}

Status check_scratch(const remote::RemoteTask& task) {
  if (!task.has_executor()) return failf("task {}: sigactions need the executor (map_executor first)", task.tid());
  if (task.scratch_size() < kTableBytes)
    return failf("task {}: executor scratch of {} bytes, sigactions need {}", task.tid(), task.scratch_size(),
                 kTableBytes);
  return {};
}

}  // namespace

Result<std::array<KernelSigaction, kMaxSignal>> read_sigactions(remote::RemoteTask& task) {
  TRY(check_scratch(task));
  const uint64_t base = task.scratch_addr();
  // Zeroed first: the slots of SIGKILL and SIGSTOP are never written.
  std::array<KernelSigaction, kMaxSignal> acts{};
  TRY_CTX(task.write(base, std::as_bytes(std::span(acts))), "task {}: clear sigaction buffer", task.tid());
  TRY(run_sigaction_batch(task, 0, base, "read"));
  TRY_CTX(task.read(base, std::as_writable_bytes(std::span(acts))), "task {}: read sigactions", task.tid());
  return acts;
}

Status dump_sigactions(remote::RemoteTask& task, img::Task& out) {
  auto acts = TRY(read_sigactions(task));
  out.clear_sigactions();
  for (int sig = 1; sig <= kMaxSignal; ++sig) {
    const KernelSigaction& a = acts[sig - 1];
    if (!settable(sig) || (a.handler == 0 && a.flags == 0 && a.restorer == 0 && a.mask == 0)) continue;
    img::SigAction* s = out.add_sigactions();
    s->set_signo(sig);
    s->set_handler(a.handler);
    s->set_flags(a.flags);
    s->set_restorer(a.restorer);
    s->set_mask(a.mask);
  }
  return {};
}

namespace {

Status check_sigactions(const img::Task& in) {
  for (const img::SigAction& s : in.sigactions()) {
    const int sig = static_cast<int>(s.signo());
    if (s.signo() > kMaxSignal || !settable(sig))
      return bad_input("task {}: sigaction for signal {} cannot be set", in.pid(), s.signo());
    // Every later remote call ends on a forced SIGTRAP, which resets an
    // ignored SIGTRAP to SIG_DFL (remote_task.h); the dump refuses it too.
    if (sig == SIGTRAP && s.handler() == reinterpret_cast<uint64_t>(SIG_IGN))
      return unsupported("task {}: SIGTRAP ignored (SIG_IGN) is not supported yet", in.pid());
  }
  return {};
}

Status check_pending(pid_t vtid, const google::protobuf::RepeatedPtrField<img::PendingSignal>& pending) {
  for (const img::PendingSignal& p : pending) {
    if (p.siginfo().size() != sizeof(siginfo_t))
      return bad_input("thread {}: pending signal {}: siginfo of {} bytes, expected {}", vtid, p.signo(),
                       p.siginfo().size(), sizeof(siginfo_t));
    siginfo_t si;
    std::memcpy(&si, p.siginfo().data(), sizeof si);
    if (si.si_signo != static_cast<int>(p.signo()) || !settable(si.si_signo))
      return bad_input("thread {}: pending signal {} cannot be queued", vtid, p.signo());
    // Queued while remote code runs with SIGTRAP unblocked, it would be
    // taken at once (remote_task.h); the dump refuses it as well.
    if (si.si_signo == SIGTRAP)
      return unsupported("thread {}: a pending SIGTRAP is not supported yet", vtid);
  }
  return {};
}

}  // namespace

Status check_signals_image(const img::Task& in) {
  TRY(check_sigactions(in));
  for (const img::Thread& th : in.threads()) TRY(check_pending(th.tid(), th.pending()));
  if (in.threads_size() > 0) TRY(check_pending(in.threads(0).tid(), in.shared_pending()));
  return {};
}

Status restore_sigactions(remote::RemoteTask& task, const img::Task& in) {
  TRY(check_scratch(task));
  std::array<KernelSigaction, kMaxSignal> acts{};
  TRY(check_sigactions(in));
  for (const img::SigAction& s : in.sigactions())
    acts[s.signo() - 1] = {s.handler(), s.flags(), s.restorer(), s.mask()};
  const uint64_t base = task.scratch_addr();
  TRY_CTX(task.write(base, std::as_bytes(std::span(acts))), "task {}: write sigactions", in.pid());
  TRY(run_sigaction_batch(task, base, 0, "restore"));
  return {};
}

Status verify_sigactions(remote::RemoteTask& task, const img::Task& in) {
  auto have = TRY(read_sigactions(task));
  std::array<KernelSigaction, kMaxSignal> want{};
  for (const img::SigAction& s : in.sigactions())
    if (s.signo() >= 1 && s.signo() <= kMaxSignal)
      want[s.signo() - 1] = {s.handler(), s.flags(), s.restorer(), s.mask()};
  for (int sig = 1; sig <= kMaxSignal; ++sig) {
    const KernelSigaction &h = have[sig - 1], &w = want[sig - 1];
    if (!settable(sig) || (h.handler == w.handler && h.flags == w.flags && h.restorer == w.restorer && h.mask == w.mask))
      continue;
    return failf("task {}: action of signal {} ({}) after the restore: handler {:#x} flags {:#x} mask {:#x}; the image "
                 "has handler {:#x} flags {:#x} mask {:#x}",
                 in.pid(), sig, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?", h.handler, h.flags, h.mask, w.handler,
                 w.flags, w.mask);
  }
  return {};
}

Status dump_pending(pid_t tid, bool shared, google::protobuf::RepeatedPtrField<img::PendingSignal>& out) {
  std::vector<siginfo_t> queue = TRY(sys::peek_siginfo(tid, shared));
  out.Clear();
  for (const siginfo_t& si : queue) {
    if (si.si_signo == SIGKILL || si.si_signo == SIGSTOP) continue;
    if (si.si_signo < 1 || si.si_signo > kMaxSignal)
      return failf("thread {}: pending signal {} out of range", tid, si.si_signo);
    img::PendingSignal* p = out.Add();
    p->set_signo(static_cast<uint32_t>(si.si_signo));
    p->set_siginfo(std::string(reinterpret_cast<const char*>(&si), sizeof si));
  }
  return {};
}

Status restore_pending(remote::RemoteTask& task, pid_t vtgid, pid_t vtid, bool shared,
                       const google::protobuf::RepeatedPtrField<img::PendingSignal>& pending) {
  if (pending.empty()) return {};
  const char* what = shared ? "process-wide" : "thread";
  if (!task.has_executor()) return failf("thread {}: queuing signals needs the executor", vtid);
  // Validated in full before the first one is queued.
  TRY(check_pending(vtid, pending));
  // As many siginfos per batch as the scratch area holds; queue order kept.
  const size_t per_batch = std::max<size_t>(1, task.scratch_size() / sizeof(siginfo_t));
  for (int first = 0; first < pending.size();) {
    const int n = static_cast<int>(std::min<size_t>(per_batch, static_cast<size_t>(pending.size() - first)));
    std::string buf;
    std::vector<remote::Call> calls;
    for (int i = 0; i < n; ++i) {
      const img::PendingSignal& p = pending[first + i];
      const uint64_t at = task.scratch_addr() + buf.size();
      buf += p.siginfo();
      calls.push_back(shared ? remote::make_call(SYS_rt_sigqueueinfo, vtgid, p.signo(), at)
                             : remote::make_call(SYS_rt_tgsigqueueinfo, vtgid, vtid, p.signo(), at));
    }
    TRY_CTX(task.write(task.scratch_addr(), std::as_bytes(std::span(buf.data(), buf.size()))),
            "thread {}: write siginfo", vtid);
    TRY_CTX(task.run_batch(calls), "thread {}: queue {} signals", vtid, what);
    for (int i = 0; i < n; ++i) {
      const int sig = static_cast<int>(pending[first + i].signo());
      // EAGAIN: RLIMIT_SIGPENDING of the task's user is exhausted.
      if (calls[i].failed())
        return sys_fail_errno(static_cast<int>(-calls[i].result), "thread {}: queue {} signal {} ({})", vtid, what,
                              sig, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
    }
    first += n;
  }
  return {};
}

}  // namespace amber::kinds
