// The process tree: dump (collect_tree) and the controller's part of the
// restore (see tree.h; the plan is in tree_plan.cpp).
#include "kinds/tree.h"

#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <deque>
#include <set>

#include "base/files.h"
#include "sys/pidfd.h"
#include "sys/procfs.h"

namespace amber::kinds {

namespace {

constexpr int kEndTimeoutMs = 10000;

Result<pid_t> inner(const std::vector<pid_t>& ids, pid_t pid, const char* what) {
  if (ids.empty()) return failf("task {}: no NS{} in /proc/{}/status", pid, what, pid);
  return ids.back();
}

void sleep_ms(long ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000};
  nanosleep(&ts, nullptr);
}

// Children of every thread of `pid` (a child hangs off the thread that
// forked it).
Result<std::vector<pid_t>> children_of(pid_t pid, const std::vector<pid_t>& tids) {
  std::vector<pid_t> out;
  for (pid_t tid : tids) {
    std::string text = TRY(read_file(fmt::format("/proc/{}/task/{}/children", pid, tid)));
    for (auto f : split_ws(text))
      if (auto v = parse_int(f)) out.push_back(static_cast<pid_t>(*v));
  }
  return out;
}

}  // namespace

// ---- dump ----

Result<std::vector<TreeTask>> collect_tree(const std::map<pid_t, std::vector<pid_t>>& held, pid_t init) {
  if (!held.contains(init)) return failf("the container's init {} is not held", init);
  std::map<pid_t, TreeTask> by_pid;
  std::map<pid_t, pid_t> vpid_of;
  auto read_ids = [&](pid_t pid, TreeTask& t) -> Result<sys::ProcStatus> {
    sys::ProcStatus st = TRY_CTX(sys::read_status(pid), "task {}", pid);
    t.pid = pid;
    t.vpid = TRY(inner(st.ns_pid, pid, "pid"));
    t.pgid = TRY(inner(st.ns_pgid, pid, "pgid"));
    t.sid = TRY(inner(st.ns_sid, pid, "sid"));
    sys::ProcStat stat = TRY_CTX(sys::read_stat(pid), "task {}", pid);
    t.comm = stat.comm;
    t.exit_signal = stat.exit_signal;
    t.exit_code = stat.exit_code;
    // A session or group whose leader is outside the container's pid
    // namespace reads as 0 there (a task that joined with setns, e.g.
    // nsenter, keeps its caller's): no task of a restored container can
    // create it, so it is refused here by name rather than by the restore.
    if (t.sid == 0)
      return unsupported("task {} ({}): its session is outside the container (it came in from outside, e.g. with "
                         "nsenter): a restore cannot recreate it",
                         t.vpid, t.comm);
    if (t.pgid == 0)
      return unsupported("task {} ({}): its process group is outside the container: a restore cannot recreate it",
                         t.vpid, t.comm);
    vpid_of[pid] = t.vpid;
    return st;
  };
  std::map<pid_t, pid_t> host_ppid;
  for (const auto& [tgid, tids] : held) {
    TreeTask t;
    sys::ProcStatus st = TRY(read_ids(tgid, t));
    if (std::find(tids.begin(), tids.end(), tgid) == tids.end())
      return unsupported("task {} ({}): its main thread has exited while {} other thread(s) run: not supported",
                         t.vpid, t.comm, tids.size());
    t.threads.push_back(tgid);
    for (pid_t tid : tids)
      if (tid != tgid) t.threads.push_back(tid);
    host_ppid[tgid] = st.ppid;
    by_pid[tgid] = std::move(t);
  }
  // Zombies: children of held tasks that are in no cgroup listing.
  for (const auto& [tgid, tids] : held) {
    for (pid_t child : TRY_CTX(children_of(tgid, tids), "task {}", vpid_of[tgid])) {
      if (held.contains(child)) continue;
      TreeTask z;
      sys::ProcStatus st = TRY(read_ids(child, z));
      if (st.state != 'Z')
        return failf("task {} ({}), a child of task {}, is not in the container's cgroup", z.vpid, z.comm,
                     vpid_of[tgid]);
      z.zombie = true;
      z.exit_signal = z.exit_signal ? z.exit_signal : SIGCHLD;
      host_ppid[child] = tgid;
      by_pid[child] = std::move(z);
    }
  }
  // Parents as the container sees them; the init's is outside (the shim).
  std::map<pid_t, std::vector<pid_t>> kids;
  for (auto& [pid, t] : by_pid) {
    if (pid == init) continue;
    auto it = vpid_of.find(host_ppid[pid]);
    if (it == vpid_of.end() || !held.contains(host_ppid[pid]))
      return failf("task {} ({}): its parent (pid {}) is not in the container", t.vpid, t.comm, host_ppid[pid]);
    t.ppid = it->second;
    kids[host_ppid[pid]].push_back(pid);
  }
  by_pid[init].ppid = 0;
  std::vector<TreeTask> out;
  std::deque<pid_t> queue{init};
  while (!queue.empty()) {
    pid_t p = queue.front();
    queue.pop_front();
    out.push_back(std::move(by_pid[p]));
    std::sort(kids[p].begin(), kids[p].end());
    for (pid_t c : kids[p]) queue.push_back(c);
  }
  if (out.size() != by_pid.size()) return failf("{} task(s) do not descend from the init", by_pid.size() - out.size());
  return out;
}

Status check_unshared(const std::vector<TreeTask>& tasks) {
  static constexpr std::pair<sys::KcmpType, const char*> kShared[] = {
      {sys::KcmpType::Vm, "its address space (vfork or clone(CLONE_VM))"},
      {sys::KcmpType::Files, "its fd table (clone(CLONE_FILES))"},
      {sys::KcmpType::Fs, "its root, cwd and umask (clone(CLONE_FS))"},
  };
  for (auto [type, what] : kShared) {
    std::vector<const TreeTask*> distinct;  // one task per object seen so far
    for (const TreeTask& t : tasks) {
      if (t.zombie) continue;
      for (const TreeTask* d : distinct) {
        int r = TRY_CTX(sys::kcmp(t.pid, d->pid, type), "tasks {} and {}", t.vpid, d->vpid);
        if (r == 0)
          return unsupported("task {} ({}) shares {} with task {} ({}): not supported yet", t.vpid, t.comm, what,
                             d->vpid, d->comm);
      }
      distinct.push_back(&t);
    }
  }
  return {};
}

void fill_task_ids(const TreeTask& t, img::Task& out) {
  out.set_pid(t.vpid);
  out.set_ppid(t.ppid);
  out.set_pgid(t.pgid);
  out.set_sid(t.sid);
  out.set_comm(t.comm);
  out.set_exit_signal(t.exit_signal);
  out.set_state(t.zombie ? img::TASK_ZOMBIE : img::TASK_ALIVE);
  if (t.zombie) out.set_exit_code(t.exit_code);
}

// ---- restore: the controller's phase ----

Result<std::map<pid_t, pid_t>> map_container_pids(const std::string& cgroup) {
  std::string procs = TRY(read_file(cgroup + "/cgroup.procs"));
  if (trim(procs).empty()) return failf("{}: no task in cgroup.procs", cgroup);
  std::map<pid_t, pid_t> out;
  for (auto line : split(procs, '\n')) {
    auto host = parse_int(trim(line));
    if (!host) continue;
    auto st = sys::read_status(static_cast<pid_t>(*host));
    if (!st && (st.error().sys_errno == ENOENT || st.error().sys_errno == ESRCH)) continue;  // gone meanwhile
    if (!st) return std::unexpected(std::move(st.error()).wrap(fmt::format("task {}", *host)));
    if (st->ns_pid.empty()) return failf("task {}: no NSpid in /proc/{}/status", *host, *host);
    out[st->ns_pid.back()] = static_cast<pid_t>(*host);
  }
  return out;
}

namespace {

Result<pid_t> host_pid(const std::map<pid_t, pid_t>& host_of, pid_t vpid, const TreeNode& n) {
  auto it = host_of.find(vpid);
  if (it == host_of.end()) return failf("{} {} is not in the container", node_kind_name(n.kind), vpid);
  return it->second;
}

// Waits until `pid` has exited (a zombie nobody reaped yet).
Status wait_exited(pid_t pid, const TreeNode& n) {
  for (int ms = 0; ms < kEndTimeoutMs; ms += 2) {
    auto st = sys::read_stat(pid);
    if (!st) return failf("{} {}: gone before its end was seen", node_kind_name(n.kind), n.pid);
    if (st->state == 'Z') return {};
    sleep_ms(2);
  }
  return failf("{} {}: still running {} ms after it was told to end", node_kind_name(n.kind), n.pid, kEndTimeoutMs);
}

remote::RemoteTask* leader_of(const std::map<pid_t, remote::RemoteTask*>& leaders, pid_t vpid) {
  auto it = leaders.find(vpid);
  return it == leaders.end() ? nullptr : it->second;
}

}  // namespace

Status run_tree_actions(const TreePlan& plan, const std::map<pid_t, pid_t>& host_of,
                        const std::map<pid_t, remote::RemoteTask*>& leaders) {
  for (const TreeAction& a : plan.actions) {
    const TreeNode& n = plan.node(a.pid);
    switch (a.kind) {
      case TreeAction::Kind::Join: {
        remote::RemoteTask* t = leader_of(leaders, a.pid);
        if (!t) return failf("task {} is not held", a.pid);
        TRY(t->syscall_checked(fmt::format("setpgid(0, {})", n.join_pgid), SYS_setpgid, 0, n.join_pgid));
        break;
      }
      case TreeAction::Kind::ZombieExit: {
        pid_t host = TRY(host_pid(host_of, a.pid, n));
        if (::kill(host, kZombieSignal) != 0) return sys_fail("zombie {}: signal its stand-in", a.pid);
        TRY(wait_exited(host, n));
        break;
      }
      case TreeAction::Kind::HelperEnd: {
        pid_t host = TRY(host_pid(host_of, a.pid, n));
        if (::kill(host, SIGKILL) != 0) return sys_fail("{} {}: kill", node_kind_name(n.kind), a.pid);
        TRY(wait_exited(host, n));
        remote::RemoteTask* parent = leader_of(leaders, n.creator);
        if (!parent) return failf("{} {}: its parent {} is not held", node_kind_name(n.kind), a.pid, n.creator);
        // Exit signal 0: only __WALL (or __WCLONE) waits for it.
        uint64_t r = TRY(parent->syscall_checked(fmt::format("wait4({}) for the {}", a.pid, node_kind_name(n.kind)),
                                                 SYS_wait4, a.pid, 0, __WALL, 0));
        if (static_cast<pid_t>(r) != a.pid) return failf("task {}: wait4({}) reaped {}", n.creator, a.pid, r);
        break;
      }
    }
  }
  return {};
}

Status drain_sigchld(remote::RemoteTask& task) {
  if (!task.has_executor() || task.scratch_size() < 32) return failf("task {}: draining SIGCHLD needs the executor", task.tid());
  const uint64_t set = uint64_t{1} << (SIGCHLD - 1);
  const uint64_t buf[2] = {set, 0};  // sigset, then a zero timespec (tv_sec, tv_nsec)
  const uint64_t ts[2] = {0, 0};
  TRY_CTX(task.write(task.scratch_addr(), std::as_bytes(std::span(buf))), "task {}", task.tid());
  TRY_CTX(task.write(task.scratch_addr() + 16, std::as_bytes(std::span(ts))), "task {}", task.tid());
  // SIGCHLD is not a realtime signal: at most one is queued per queue
  // (the thread's and the process's); a few tries empty both.
  for (int i = 0; i < 4; ++i) {
    long r = TRY(task.syscall(SYS_rt_sigtimedwait, task.scratch_addr(), 0, task.scratch_addr() + 16, 8));
    if (r == -EAGAIN) return {};
    if (r != SIGCHLD) TRY(remote::check_syscall(r, fmt::format("task {}: rt_sigtimedwait(SIGCHLD)", task.tid())));
  }
  return {};
}

Status verify_tree(const TreePlan& plan, const std::map<pid_t, pid_t>& host_of) {
  std::map<pid_t, pid_t> vpid_of;
  for (auto [v, h] : host_of) vpid_of[h] = v;
  for (pid_t pid : plan.order) {
    const TreeNode& n = plan.node(pid);
    pid_t host = TRY(host_pid(host_of, pid, n));
    if (is_helper(n.kind)) {
      if (sys::read_stat(host)) return failf("{} {} is still there", node_kind_name(n.kind), pid);
      continue;
    }
    sys::ProcStatus st = TRY_CTX(sys::read_status(host), "task {}", pid);
    pid_t pgid = TRY(inner(st.ns_pgid, host, "pgid"));
    pid_t sid = TRY(inner(st.ns_sid, host, "sid"));
    if (pgid != n.pgid || sid != n.sid)
      return failf("task {}: restored in group {} and session {}, not {} and {}", pid, pgid, sid, n.pgid, n.sid);
    if (pid != plan.init) {
      auto pp = vpid_of.find(st.ppid);
      pid_t ppid = pp == vpid_of.end() ? 0 : pp->second;
      if (ppid != n.ppid) return failf("task {}: restored as a child of {}, not of {}", pid, ppid, n.ppid);
    }
    if (n.kind == NodeKind::Zombie) {
      sys::ProcStat stat = TRY_CTX(sys::read_stat(host), "zombie {}", pid);
      if (stat.state != 'Z') return failf("zombie {}: state {}, not Z", pid, stat.state);
      if (stat.exit_code != n.exit_code)
        return failf("zombie {}: exit status {:#x}, not {:#x}", pid, stat.exit_code, n.exit_code);
    }
  }
  return {};
}

}  // namespace amber::kinds
