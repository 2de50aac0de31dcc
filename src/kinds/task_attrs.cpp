// Per-task attributes: scheduling, prctl state, membarrier, oom_score_adj,
// loginuid, job-control stop (see task_attrs.h for where and why).
#include "kinds/task_attrs.h"

#include <linux/membarrier.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/files.h"

namespace amber::kinds {

namespace {

// struct sched_attr (SCHED_ATTR_SIZE_VER1: with the uclamp requests).
struct KernelSchedAttr {
  uint32_t size;
  uint32_t policy;
  uint64_t flags;
  int32_t nice;
  uint32_t priority;
  uint64_t runtime, deadline, period;
  uint32_t util_min, util_max;
};
static_assert(sizeof(KernelSchedAttr) == 56);

constexpr uint32_t kSchedOther = 0, kSchedFifo = 1, kSchedRr = 2, kSchedBatch = 3, kSchedIdle = 5,
                   kSchedDeadline = 6, kSchedExt = 7;
constexpr uint64_t kFlagResetOnFork = 0x01;
constexpr uint64_t kFlagUtilClamp = 0x20 | 0x40;  // SCHED_FLAG_UTIL_CLAMP_MIN | _MAX
constexpr uint32_t kUclampMax = 1024;             // SCHED_CAPACITY_SCALE: the default util_max
constexpr int kIoprioWhoProcess = 1;              // IOPRIO_WHO_PROCESS: one thread by tid
constexpr uint64_t kThpExceptAdvised = 1 << 1;    // PR_THP_DISABLE_EXCEPT_ADVISED (6.18 uapi)
constexpr size_t kCpuWords = 1024 / 64;           // up to 1024 CPUs

const char* policy_name(uint32_t p) {
  switch (p) {
    case kSchedOther: return "SCHED_OTHER";
    case kSchedFifo: return "SCHED_FIFO";
    case kSchedRr: return "SCHED_RR";
    case kSchedBatch: return "SCHED_BATCH";
    case kSchedIdle: return "SCHED_IDLE";
    case kSchedDeadline: return "SCHED_DEADLINE";
    case kSchedExt: return "SCHED_EXT";
    default: return "unknown";
  }
}

bool is_rt(uint32_t p) { return p == kSchedFifo || p == kSchedRr; }

std::string who(pid_t vpid, pid_t vtid) {
  return vtid == vpid ? fmt::format("task {}", vpid) : fmt::format("task {} thread {}", vpid, vtid);
}

// The membarrier commands whose EPERM tells "not registered", with the
// command that registers them.
struct Membarrier {
  int query, reg;
};
constexpr Membarrier kMembarriers[] = {
    {MEMBARRIER_CMD_PRIVATE_EXPEDITED, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED},
    {MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE},
    {MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ},
};

Result<int64_t> read_int_file(const std::string& path) {
  std::string text = TRY(read_file(path));
  auto v = parse_int(trim(text));
  if (!v) return failf("{}: not a number: {}", path, trim(text));
  return static_cast<int64_t>(*v);
}

Status check_scratch(const remote::RemoteTask& task, size_t need) {
  if (!task.has_executor() || task.scratch_size() < need)
    return failf("thread {}: needs the executor's scratch area", task.tid());
  return {};
}

Status set_sched_one(const SchedTarget& t) {
  const img::Sched& s = t.thread->sched();
  const std::string w = who(t.vpid, t.thread->tid());
  if (s.cpus_allowed_size() > 0) {
    std::vector<uint64_t> mask(s.cpus_allowed().begin(), s.cpus_allowed().end());
    if (::syscall(SYS_sched_setaffinity, t.host_tid, mask.size() * sizeof(uint64_t), mask.data()) != 0)
      return sys_fail("{}: CPU affinity (Cpus_allowed)", w);
  }
  KernelSchedAttr a{};
  a.size = sizeof a;
  a.policy = s.policy();
  a.flags = s.reset_on_fork() ? kFlagResetOnFork : 0;
  a.nice = s.nice();
  a.priority = is_rt(s.policy()) ? s.rt_priority() : 0;
  if (s.has_util_clamp() && (s.util_min() != 0 || s.util_max() != kUclampMax)) {
    a.flags |= kFlagUtilClamp;
    a.util_min = s.util_min();
    a.util_max = s.util_max();
  }
  if (::syscall(SYS_sched_setattr, t.host_tid, &a, 0) != 0)
    return sys_fail("{}: scheduling policy {} priority {}", w, policy_name(s.policy()), a.priority);
  // sched_setattr sets nice for the fair policies only; a real-time thread
  // keeps one too (it applies again if the policy goes back).
  if (::setpriority(PRIO_PROCESS, static_cast<id_t>(t.host_tid), s.nice()) != 0)
    return sys_fail("{}: nice {}", w, s.nice());
  // ioprio_get reports a value derived from nice and policy while the
  // thread has no io priority of its own: set only when that differs.
  long cur = ::syscall(SYS_ioprio_get, kIoprioWhoProcess, t.host_tid);
  if (cur < 0) return sys_fail("{}: ioprio_get", w);
  if (cur != s.ioprio() && ::syscall(SYS_ioprio_set, kIoprioWhoProcess, t.host_tid, s.ioprio()) != 0)
    return sys_fail("{}: io priority {:#x} (class {}, level {})", w, s.ioprio(), s.ioprio() >> 13, s.ioprio() & 0xff);
  return {};
}

}  // namespace

Status dump_sched(pid_t tid, img::Sched& out) {
  KernelSchedAttr a{};
  if (::syscall(SYS_sched_getattr, tid, &a, sizeof a, 0) != 0) return sys_fail("sched_getattr");
  switch (a.policy) {
    case kSchedOther:
    case kSchedFifo:
    case kSchedRr:
    case kSchedBatch:
    case kSchedIdle:
      break;
    default:
      return unsupported("scheduling policy {} is not supported yet", a.policy == kSchedDeadline || a.policy == kSchedExt ? policy_name(a.policy) : fmt::format("{}", a.policy));
  }
  if (a.flags & ~(kFlagResetOnFork | kFlagUtilClamp))
    return unsupported("scheduling flags {:#x} are not supported yet", a.flags);
  out.set_policy(a.policy);
  out.set_rt_priority(a.priority);
  out.set_reset_on_fork((a.flags & kFlagResetOnFork) != 0);
  // Without CONFIG_UCLAMP_TASK both are 0 (util_max is never 0 with it).
  out.set_has_util_clamp(a.util_max != 0);
  out.set_util_min(a.util_min);
  out.set_util_max(a.util_max);
  errno = 0;
  int nice = ::getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
  if (nice == -1 && errno != 0) return sys_fail("getpriority (nice)");
  out.set_nice(nice);
  uint64_t mask[kCpuWords] = {};
  long n = ::syscall(SYS_sched_getaffinity, tid, sizeof mask, mask);
  if (n < 0) return sys_fail("sched_getaffinity");
  out.clear_cpus_allowed();
  for (size_t i = 0; i < static_cast<size_t>(n) / sizeof(uint64_t); ++i) out.add_cpus_allowed(mask[i]);
  long io = ::syscall(SYS_ioprio_get, kIoprioWhoProcess, tid);
  if (io < 0) return sys_fail("ioprio_get");
  out.set_ioprio(static_cast<int32_t>(io));
  return {};
}

Status dump_thread_prctl(remote::RemoteTask& task, img::Thread& out) {
  TRY(check_scratch(task, 8));
  const uint64_t at = task.scratch_addr();
  const int32_t zero[2] = {};
  TRY_CTX(task.write(at, std::as_bytes(std::span(zero))), "thread {}: clear scratch", out.tid());
  std::vector<remote::Call> calls = {remote::make_call(SYS_prctl, PR_GET_PDEATHSIG, at, 0, 0, 0),
                                     remote::make_call(SYS_prctl, PR_GET_TIMERSLACK, 0, 0, 0, 0)};
  TRY_CTX(task.run_batch(calls), "thread {}: prctl(PR_GET_PDEATHSIG, PR_GET_TIMERSLACK)", out.tid());
  TRY(remote::check_syscall(calls[0].result, fmt::format("thread {}: prctl(PR_GET_PDEATHSIG)", out.tid())));
  const uint64_t slack =
      TRY(remote::check_syscall(calls[1].result, fmt::format("thread {}: prctl(PR_GET_TIMERSLACK)", out.tid())));
  int32_t sig = 0;
  TRY_CTX(task.read(at, std::as_writable_bytes(std::span(&sig, 1))), "thread {}: read parent-death signal",
          out.tid());
  out.set_pdeath_signal(static_cast<uint32_t>(sig));
  out.set_timer_slack_ns(slack);
  return {};
}

Status restore_thread_prctl(remote::RemoteTask& task, const img::Thread& thread) {
  const pid_t tid = thread.tid();
  if (thread.pdeath_signal() > 64) return bad_input("thread {}: parent-death signal {}", tid, thread.pdeath_signal());
  std::vector<remote::Call> calls = {remote::make_call(SYS_prctl, PR_SET_PDEATHSIG, thread.pdeath_signal(), 0, 0, 0)};
  // A real-time thread's slack is 0, forced by the kernel when the policy
  // is set (restore_sched, later); PR_SET_TIMERSLACK 0 would mean "the
  // default" instead.
  if (!is_rt(thread.sched().policy()) && thread.timer_slack_ns() != 0)
    calls.push_back(remote::make_call(SYS_prctl, PR_SET_TIMERSLACK, thread.timer_slack_ns(), 0, 0, 0));
  TRY_CTX(task.run_batch(calls), "restore thread {}: prctl", tid);
  TRY(remote::check_syscall(calls[0].result,
                            fmt::format("restore thread {}: parent-death signal {}", tid, thread.pdeath_signal())));
  if (calls.size() > 1)
    TRY(remote::check_syscall(calls[1].result,
                              fmt::format("restore thread {}: timer slack {} ns", tid, thread.timer_slack_ns())));
  return {};
}

Status dump_process_attrs(remote::RemoteTask& leader, bool stopped, img::Task& out) {
  const pid_t vpid = out.pid();
  const pid_t pid = leader.tgid();
  TRY(check_scratch(leader, 8));
  const uint64_t at = leader.scratch_addr();
  const int32_t zero[2] = {};
  TRY_CTX(leader.write(at, std::as_bytes(std::span(zero))), "task {}: clear scratch", vpid);
  std::vector<remote::Call> calls = {remote::make_call(SYS_prctl, PR_GET_CHILD_SUBREAPER, at, 0, 0, 0),
                                     remote::make_call(SYS_prctl, PR_GET_THP_DISABLE, 0, 0, 0, 0)};
  for (const Membarrier& m : kMembarriers) calls.push_back(remote::make_call(SYS_membarrier, m.query, 0, 0));
  TRY_CTX(leader.run_batch(calls), "task {}: prctl / membarrier", vpid);
  TRY(remote::check_syscall(calls[0].result, fmt::format("task {}: prctl(PR_GET_CHILD_SUBREAPER)", vpid)));
  const uint64_t thp =
      TRY(remote::check_syscall(calls[1].result, fmt::format("task {}: prctl(PR_GET_THP_DISABLE)", vpid)));
  if (thp & ~(1 | kThpExceptAdvised))
    return unsupported("task {}: THP disable mode {:#x} (PR_GET_THP_DISABLE) is not supported yet", vpid, thp);
  out.set_thp_disable(static_cast<uint32_t>(thp));
  int32_t subreaper = 0;
  TRY_CTX(leader.read(at, std::as_writable_bytes(std::span(&subreaper, 1))), "task {}: read subreaper", vpid);
  out.set_child_subreaper(subreaper != 0);
  uint32_t registered = 0;
  for (size_t i = 0; i < std::size(kMembarriers); ++i) {
    const long r = calls[2 + i].result;
    // EPERM: not registered; EINVAL: the kernel lacks the command.
    if (r == 0) registered |= static_cast<uint32_t>(kMembarriers[i].reg);
    else if (r != -EPERM && r != -EINVAL)
      TRY(remote::check_syscall(r, fmt::format("task {}: membarrier({:#x})", vpid, kMembarriers[i].query)));
  }
  out.set_membarrier_registered(registered);
  out.set_oom_score_adj(static_cast<int32_t>(TRY(read_int_file(fmt::format("/proc/{}/oom_score_adj", pid)))));
  const std::string loginuid = fmt::format("/proc/{}/loginuid", pid);
  if (::access(loginuid.c_str(), F_OK) == 0) {
    out.set_has_loginuid(true);
    out.set_loginuid(static_cast<uint32_t>(TRY(read_int_file(loginuid))));
  }
  out.set_stopped(stopped);
  return {};
}

Status restore_process_attrs(remote::RemoteTask& leader, const img::Task& task) {
  const pid_t vpid = task.pid();
  if (task.thp_disable() & ~(1 | kThpExceptAdvised))
    return bad_input("task {}: THP disable mode {:#x}", vpid, task.thp_disable());
  std::vector<remote::Call> calls;
  std::vector<std::string> what;
  if (task.child_subreaper()) {
    // Also marks every existing descendant (has_child_subreaper), so that
    // orphans of the restored tree go to this process.
    calls.push_back(remote::make_call(SYS_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
    what.push_back("child subreaper");
  }
  if (task.thp_disable() & 1) {
    calls.push_back(remote::make_call(SYS_prctl, PR_SET_THP_DISABLE, 1,
                                      task.thp_disable() & kThpExceptAdvised, 0, 0));
    what.push_back(fmt::format("THP disable {:#x}", task.thp_disable()));
  }
  for (const Membarrier& m : kMembarriers) {
    if (task.membarrier_registered() & static_cast<uint32_t>(m.reg)) {
      calls.push_back(remote::make_call(SYS_membarrier, m.reg, 0, 0));
      what.push_back(fmt::format("membarrier registration {:#x}", m.reg));
    }
  }
  // Not observable at dump (see task_attrs.h): registered for every process.
  calls.push_back(remote::make_call(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0));
  what.push_back("membarrier registration GLOBAL_EXPEDITED");
  TRY_CTX(leader.run_batch(calls), "task {}: prctl / membarrier", vpid);
  for (size_t i = 0; i < calls.size(); ++i)
    TRY(remote::check_syscall(calls[i].result, fmt::format("task {}: {}", vpid, what[i])));

  const std::string path = fmt::format("/proc/{}/oom_score_adj", leader.tgid());
  if (TRY(read_int_file(path)) != task.oom_score_adj()) {
    if (task.oom_score_adj() < -1000 || task.oom_score_adj() > 1000)
      return bad_input("task {}: oom_score_adj {}", vpid, task.oom_score_adj());
    Status w = write_file(path, fmt::format("{}\n", task.oom_score_adj()));
    if (!w && w.error().sys_errno == EACCES)
      return unsupported("task {}: oom_score_adj {} is below what amber may set without CAP_SYS_RESOURCE", vpid,
                         task.oom_score_adj());
    TRY_CTX(std::move(w), "task {}: oom_score_adj {}", vpid, task.oom_score_adj());
  }
  return {};
}

Status apply_loginuid_in_child(const img::Task& task) {
  if (!task.has_loginuid()) return {};
  const std::string path = "/proc/self/loginuid";
  if (::access(path.c_str(), F_OK) != 0)
    return unsupported("task {}: loginuid {}: this kernel has no audit (/proc/self/loginuid)", task.pid(),
                       task.loginuid());
  if (static_cast<uint32_t>(TRY(read_int_file(path))) == task.loginuid()) return {};
  // Only the task itself may write it (and with CAP_AUDIT_CONTROL once set).
  TRY_CTX(write_file(path, fmt::format("{}", task.loginuid())), "task {}: loginuid {}", task.pid(), task.loginuid());
  return {};
}

Status restore_sched(const std::vector<SchedTarget>& threads) {
  for (int rt = 0; rt < 2; ++rt)
    for (const SchedTarget& t : threads)
      if (t.thread->has_sched() && is_rt(t.thread->sched().policy()) == (rt == 1)) TRY(set_sched_one(t));
  return {};
}

Status stop_again(pid_t host_tgid, const std::vector<pid_t>& host_tids, pid_t vpid) {
  for (pid_t tid : host_tids)
    if (::syscall(SYS_tgkill, host_tgid, tid, SIGSTOP) != 0) return sys_fail("task {}: SIGSTOP (it was stopped)", vpid);
  return {};
}

}  // namespace amber::kinds
