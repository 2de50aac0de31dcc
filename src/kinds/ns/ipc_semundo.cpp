// SEM_UNDO adjustments of the container's tasks (see ipc_semundo.h).
#include "kinds/ns/ipc_semundo.h"

#include <linux/kcmp.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <string>

#include "base/files.h"

namespace amber::kinds {

namespace {

constexpr int32_t kAdjMin = -32768;  // -SEMAEM - 1
constexpr int32_t kAdjMax = 32767;   // SEMAEM
constexpr int kStep = 16384;         // one pair moves semadj by at most this: v +- k stays in [0, SEMVMX]
// Operations one probe of one semaphore needs at most: 4 pairs (65535 =
// 3 * 16384 + 16383) and the blocking one.
constexpr int kProbeOps = 9;
// Restore: the namespace still has the default kernel.sem (semopm 500)
// while the tasks are rebuilt; its sysctls are written after.
constexpr int kRestoreOps = 32;
constexpr int kMaxOps = 256;

std::string vpids_text(const std::vector<pid_t>& v) {
  std::string out;
  for (pid_t p : v) out += (out.empty() ? "" : ", ") + std::to_string(p);
  return out;
}

// Pairs that move semaphore `num`'s semadj by `d` (up: +d, else -d) and
// leave its value `v` as it was, every intermediate value in [0, SEMVMX]:
// the SEM_UNDO operation -k raises semadj by k and needs v >= k first; +k
// lowers it and needs v + k <= SEMVMX first.
void push_adj(std::vector<sembuf>& ops, unsigned short num, uint32_t v, int64_t d, bool up) {
  while (d > 0) {
    const short k = static_cast<short>(std::min<int64_t>(d, kStep));
    d -= k;
    const sembuf undo{num, static_cast<short>(up ? -k : k), SEM_UNDO | IPC_NOWAIT};
    const sembuf plain{num, static_cast<short>(up ? k : -k), IPC_NOWAIT};
    const bool undo_first = up ? v >= static_cast<uint32_t>(kStep) : v < static_cast<uint32_t>(kStep);
    ops.push_back(undo_first ? undo : plain);
    ops.push_back(undo_first ? plain : undo);
  }
}

// The last operation of every probe: value - 32768 < 0 always blocks, and
// IPC_NOWAIT makes it EAGAIN. Nothing before it is kept.
void add_blocker(std::vector<sembuf>& ops) { ops.push_back(sembuf{0, -32768, IPC_NOWAIT}); }

struct ProbeSet {
  int32_t semid = 0;
  std::string what;  // "SysV semaphore set key K (id I)"
  std::vector<uint32_t> values;
};

// Runs each op list as one semop in `task` (arrays in the executor's
// scratch, as many per batch as fit). Results: raw returns.
Result<std::vector<long>> run_semops(remote::RemoteTask& task, int32_t semid,
                                     const std::vector<std::vector<sembuf>>& lists) {
  std::vector<long> out;
  out.reserve(lists.size());
  size_t i = 0;
  while (i < lists.size()) {
    std::vector<std::byte> buf;
    std::vector<remote::Call> calls;
    while (i < lists.size() && calls.size() < remote::RemoteTask::kDefaultTableCalls) {
      const size_t bytes = lists[i].size() * sizeof(sembuf);
      if (buf.size() + bytes > task.scratch_size()) break;
      calls.push_back(remote::make_call(SYS_semop, semid, task.scratch_addr() + buf.size(), lists[i].size()));
      const auto* p = reinterpret_cast<const std::byte*>(lists[i].data());
      buf.insert(buf.end(), p, p + bytes);
      i++;
    }
    if (calls.empty()) return failf("semop of {} operations does not fit the executor", lists[i].size());
    TRY(task.write(task.scratch_addr(), buf));
    TRY(task.run_batch(calls));
    for (const remote::Call& c : calls) out.push_back(c.result);
  }
  return out;
}

// A probe's result: true for ERANGE (semadj beyond the tested bound), false
// for EAGAIN (the blocking operation was reached).
Result<bool> probe_result(long r, pid_t vpid, const ProbeSet& s) {
  if (r == -ERANGE) return true;
  if (r == -EAGAIN) return false;
  if (r == 0) return failf("task {}: {}: a SEM_UNDO probe semop succeeded (the semaphores changed under the hold)", vpid, s.what);
  if (r == -EACCES)
    return unsupported("task {}: {}: the task may not alter the set, so its SEM_UNDO adjustments on it cannot be read: "
                       "not supported",
                       vpid, s.what);
  return sys_fail_errno(static_cast<int>(-r), "task {}: {}: SEM_UNDO probe semop", vpid, s.what);
}

// Every semadj of `task`'s list on set `s` (see the header).
Result<std::vector<int32_t>> read_adj(remote::RemoteTask& task, pid_t vpid, const ProbeSet& s, int max_ops) {
  const size_t n = s.values.size();
  std::vector<int32_t> lo(n, kAdjMin), hi(n, kAdjMax);
  // Chunks of semaphores: "any semadj > 0" (up by 32767) and "any < 0" (down
  // by 32768), 4 operations per semaphore.
  const size_t per = static_cast<size_t>(std::max(1, (max_ops - 1) / 4));
  std::vector<std::vector<sembuf>> lists;
  for (size_t c = 0; c < n; c += per)
    for (bool up : {true, false}) {
      std::vector<sembuf> ops;
      for (size_t k = c; k < std::min(n, c + per); k++)
        push_adj(ops, static_cast<unsigned short>(k), s.values[k], up ? kAdjMax : -int64_t{kAdjMin}, up);
      add_blocker(ops);
      lists.push_back(std::move(ops));
    }
  std::vector<long> res = TRY(run_semops(task, s.semid, lists));
  for (size_t c = 0, j = 0; c < n; c += per, j += 2) {
    const bool pos = TRY(probe_result(res[j], vpid, s)), neg = TRY(probe_result(res[j + 1], vpid, s));
    for (size_t k = c; k < std::min(n, c + per); k++) {
      if (!pos) hi[k] = 0;
      if (!neg) lo[k] = 0;
    }
  }
  // Binary search of the rest: "semadj > mid" pushes it up by 32767 - mid.
  for (;;) {
    std::vector<size_t> open;
    lists.clear();
    for (size_t k = 0; k < n; k++) {
      if (lo[k] >= hi[k]) continue;
      const int32_t mid = lo[k] + (hi[k] - lo[k]) / 2;  // floor((lo + hi) / 2): hi - lo >= 0
      std::vector<sembuf> ops;
      push_adj(ops, static_cast<unsigned short>(k), s.values[k], int64_t{kAdjMax} - mid, true);
      add_blocker(ops);
      lists.push_back(std::move(ops));
      open.push_back(k);
    }
    if (open.empty()) break;
    res = TRY(run_semops(task, s.semid, lists));
    for (size_t j = 0; j < open.size(); j++) {
      const size_t k = open[j];
      const int32_t mid = lo[k] + (hi[k] - lo[k]) / 2;  // floor((lo + hi) / 2): hi - lo >= 0
      if (TRY(probe_result(res[j], vpid, s))) lo[k] = mid + 1;
      else hi[k] = mid;
    }
  }
  return lo;
}

std::string set_what(const img::SysvSem& s) {
  return fmt::format("SysV semaphore set key {:#x} (id {})", static_cast<uint32_t>(s.perm().key()), s.perm().id());
}

// kernel.sem is "semmsl semmns semopm semmni".
int semopm_of(const img::IpcNs& ipc) {
  for (const img::Sysctl& s : ipc.sysctls())
    if (s.name() == "kernel/sem") {
      auto f = split_ws(s.value());
      if (f.size() >= 3)
        if (auto v = parse_int(f[2])) return static_cast<int>(std::clamp<int64_t>(*v, 0, kMaxOps));
    }
  return kRestoreOps;
}

// Maps the executor for the probes when the task has none, and removes it
// again whatever happens.
template <class F>
Status with_executor(remote::RemoteTask& task, F&& fn) {
  if (task.has_executor()) return fn();
  TRY(task.check_sigtrap());
  TRY_CTX(task.map_executor(), "map executor");
  Status st = fn();
  Status un = task.unmap_executor();
  TRY(std::move(st));
  return un;
}

}  // namespace

Result<std::vector<SemUndoHolder>> find_sem_undo_holders(const std::vector<TreeTask>& tree) {
  struct Thread {
    pid_t tid;
    size_t task;  // index in tree
  };
  std::vector<Thread> threads;
  for (size_t i = 0; i < tree.size(); i++)
    for (pid_t tid : tree[i].threads) threads.push_back({tid, i});
  if (threads.empty()) return std::vector<SemUndoHolder>{};
  // Whether a thread has a list: kcmp against a task without one. amber is
  // multi-threaded (its pthreads share a list), a vfork child (no
  // CLONE_SYSVSEM) has none; it runs raw syscalls only and writes the
  // answers into our memory.
  std::vector<long> result(threads.size(), 0);
  std::vector<int> err(threads.size(), 0);
  pid_t child = ::vfork();
  if (child == 0) {
    const long self = ::syscall(SYS_getpid);
    for (size_t i = 0; i < threads.size(); i++) {
      long r = ::syscall(SYS_kcmp, self, threads[i].tid, KCMP_SYSVSEM, 0, 0);
      result[i] = r;
      err[i] = r < 0 ? errno : 0;
    }
    ::_exit(0);
  }
  if (child < 0) return sys_fail("vfork for kcmp(KCMP_SYSVSEM)");
  int st = 0;
  while (::waitpid(child, &st, 0) < 0 && errno == EINTR) {
  }
  // Lists by a representative thread; each thread's list index (-1: none).
  std::vector<pid_t> reps;
  std::vector<int> list_of(threads.size(), -1);
  for (size_t i = 0; i < threads.size(); i++) {
    const pid_t vpid = tree[threads[i].task].vpid;
    if (result[i] < 0) return sys_fail_errno(err[i], "task {}: kcmp(KCMP_SYSVSEM)", vpid);
    if (result[i] == 0) continue;
    for (size_t g = 0; g < reps.size() && list_of[i] < 0; g++) {
      long r = ::syscall(SYS_kcmp, reps[g], threads[i].tid, KCMP_SYSVSEM, 0, 0);
      if (r < 0) return sys_fail("task {}: kcmp(KCMP_SYSVSEM)", vpid);
      if (r == 0) list_of[i] = static_cast<int>(g);
    }
    if (list_of[i] < 0) {
      list_of[i] = static_cast<int>(reps.size());
      reps.push_back(threads[i].tid);
    }
  }
  std::vector<SemUndoHolder> out;
  std::vector<std::set<size_t>> tasks_of(reps.size());
  for (size_t i = 0; i < threads.size(); i++)
    if (list_of[i] >= 0) tasks_of[static_cast<size_t>(list_of[i])].insert(threads[i].task);
  for (size_t g = 0; g < reps.size(); g++) {
    if (tasks_of[g].size() > 1) {
      std::vector<pid_t> v;
      for (size_t t : tasks_of[g]) v.push_back(tree[t].vpid);
      return unsupported("tasks {} share one SysV semaphore undo list (clone with CLONE_SYSVSEM without CLONE_THREAD): "
                         "not supported",
                         vpids_text(v));
    }
  }
  // The restore clones every thread with CLONE_SYSVSEM: the threads of a
  // process must share one list, or all have none.
  for (size_t t = 0; t < tree.size(); t++) {
    std::set<int> lists;
    pid_t rep = 0;
    for (size_t i = 0; i < threads.size(); i++)
      if (threads[i].task == t) {
        lists.insert(list_of[i]);
        if (list_of[i] >= 0 && rep == 0) rep = threads[i].tid;
      }
    if (lists.size() > 1)
      return unsupported("task {}: its threads do not share one SysV semaphore undo list (a thread cloned without "
                         "CLONE_SYSVSEM): not supported",
                         tree[t].vpid);
    if (rep != 0) out.push_back({tree[t].pid, tree[t].vpid, rep});
  }
  return out;
}

Status dump_sem_undo(remote::RemoteTask& task, pid_t vpid, img::IpcNs& ipc) {
  if (ipc.sem_size() == 0) return {};
  const int max_ops = semopm_of(ipc);
  if (max_ops < kProbeOps)
    return unsupported("task {}: SysV semaphore undo list: kernel.sem allows {} operations per semop, reading its "
                       "adjustments needs {}: not supported",
                       vpid, max_ops, kProbeOps);
  return with_executor(task, [&]() -> Status {
    for (img::SysvSem& s : *ipc.mutable_sem()) {
      ProbeSet p{s.perm().id(), set_what(s), {s.values().begin(), s.values().end()}};
      std::vector<int32_t> adj = TRY(read_adj(task, vpid, p, max_ops));
      if (std::all_of(adj.begin(), adj.end(), [](int32_t a) { return a == 0; })) continue;
      img::SemUndo* u = s.add_undo();
      u->set_pid(vpid);
      for (int32_t a : adj) u->add_adj(a);
    }
    return {};
  });
}

Result<std::map<pid_t, std::vector<SemUndoPlan>>> plan_sem_undo(const img::IpcNs& ipc, const std::vector<pid_t>& live) {
  std::map<pid_t, std::vector<SemUndoPlan>> out;
  for (const img::SysvSem& s : ipc.sem())
    for (const img::SemUndo& u : s.undo()) {
      if (std::find(live.begin(), live.end(), u.pid()) == live.end())
        return bad_input("ipc namespace: {}: SEM_UNDO adjustments of task {}, which is not a live task of the image",
                         set_what(s), u.pid());
      out[u.pid()].push_back({s.perm().id(), {s.values().begin(), s.values().end()}, {u.adj().begin(), u.adj().end()}});
    }
  return out;
}

Status restore_sem_undo(remote::RemoteTask& task, pid_t vpid, const std::vector<SemUndoPlan>& plan, bool verify) {
  for (const SemUndoPlan& p : plan) {
    const std::string what = fmt::format("SysV semaphore set id {}", p.semid);
    // The task's list has no entry for the set yet: semadj starts at 0.
    std::vector<std::vector<sembuf>> lists(1);
    for (size_t k = 0; k < p.adj.size(); k++) {
      if (p.adj[k] == 0) continue;
      std::vector<sembuf> ops;
      push_adj(ops, static_cast<unsigned short>(k), p.values[k], p.adj[k] > 0 ? p.adj[k] : -int64_t{p.adj[k]},
               p.adj[k] > 0);
      if (lists.back().size() + ops.size() > static_cast<size_t>(kRestoreOps)) lists.emplace_back();
      lists.back().insert(lists.back().end(), ops.begin(), ops.end());
    }
    if (lists.back().empty()) lists.pop_back();
    std::vector<long> res = TRY(run_semops(task, p.semid, lists));
    for (long r : res)
      if (r < 0) return sys_fail_errno(static_cast<int>(-r), "task {}: {}: SEM_UNDO adjustments: semop", vpid, what);
    if (!verify) continue;
    std::vector<int32_t> back = TRY(read_adj(task, vpid, ProbeSet{p.semid, what, p.values}, kRestoreOps));
    for (size_t k = 0; k < back.size(); k++)
      if (back[k] != p.adj[k])
        return failf("task {}: {}: semaphore {} has SEM_UNDO adjustment {} after the restore, the image has {}", vpid,
                     what, k, back[k], p.adj[k]);
  }
  return {};
}

}  // namespace amber::kinds
