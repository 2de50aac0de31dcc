// Signal dispositions by remote rt_sigaction batches.
#include "kinds/signals.h"

#include <signal.h>
#include <sys/syscall.h>

#include <array>
#include <vector>

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

Status restore_sigactions(remote::RemoteTask& task, const img::Task& in) {
  TRY(check_scratch(task));
  std::array<KernelSigaction, kMaxSignal> acts{};
  for (const img::SigAction& s : in.sigactions()) {
    const int sig = static_cast<int>(s.signo());
    if (s.signo() > kMaxSignal || !settable(sig))
      return bad_input("task {}: sigaction for signal {} cannot be set", in.pid(), s.signo());
    acts[sig - 1] = {s.handler(), s.flags(), s.restorer(), s.mask()};
  }
  const uint64_t base = task.scratch_addr();
  TRY_CTX(task.write(base, std::as_bytes(std::span(acts))), "task {}: write sigactions", in.pid());
  TRY(run_sigaction_batch(task, base, 0, "restore"));
  return {};
}

}  // namespace amber::kinds
