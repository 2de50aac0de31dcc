#include "restore/rebuild.h"

#include "kinds/completeness.h"
#include "kinds/creds.h"
#include "kinds/files/fdtable.h"
#include "kinds/files/owner.h"
#include "kinds/itimers.h"
#include "kinds/mm.h"
#include "kinds/ns/ipc_semundo.h"
#include "kinds/posix_timers.h"
#include "kinds/rlimits.h"
#include "kinds/seccomp.h"
#include "kinds/shmem.h"
#include "kinds/signals.h"
#include "kinds/task_attrs.h"
#include "kinds/thread.h"
#include "kinds/tree.h"
#include "sys/procfs.h"

namespace amber::restore {

namespace {

// Each thread queues its own signals, the leader its process's: the kernel
// lets a task forge kernel and kill() siginfos only for itself (signals.h).
Status restore_pending_signals(std::vector<remote::RemoteTask>& threads, const img::Task& task) {
  for (size_t i = 0; i < threads.size(); ++i) {
    const img::Thread& th = task.threads(static_cast<int>(i));
    TRY_CTX(kinds::restore_pending(threads[i], task.pid(), th.tid(), /*shared=*/false, th.pending()),
            "pending signals");
  }
  TRY_CTX(kinds::restore_pending(threads.front(), task.pid(), task.threads(0).tid(), /*shared=*/true,
                                 task.shared_pending()),
          "pending signals");
  return {};
}

// Credentials of every thread in the DESIGN.md order (kinds/creds.h), the
// process's dumpable flag, then no_new_privs and seccomp filters last
// (kinds/seccomp.h for the one exception), then a check against /proc.
Status restore_identity(std::vector<remote::RemoteTask>& threads, const img::Task& task, Faults& faults) {
  auto thread = [&](size_t i) -> const img::Thread& { return task.threads(static_cast<int>(i)); };
  TRY(faults.hit("restore.creds"));
  for (size_t i = 0; i < threads.size(); ++i) {
    TRY_CTX(kinds::restore_ids(threads[i], thread(i)), "credentials");
    if (kinds::seccomp_needs_caps(thread(i))) TRY_CTX(kinds::restore_seccomp(threads[i], thread(i)), "seccomp");
    TRY_CTX(kinds::restore_caps(threads[i], thread(i)), "credentials");
  }
  TRY(faults.hit("restore.dumpable"));
  TRY_CTX(kinds::restore_dumpable(threads.front(), task), "dumpable");
  TRY(faults.hit("restore.seccomp"));
  for (size_t i = 0; i < threads.size(); ++i) {
    TRY_CTX(kinds::restore_no_new_privs(threads[i], thread(i)), "no_new_privs");
    if (!kinds::seccomp_needs_caps(thread(i))) TRY_CTX(kinds::restore_seccomp(threads[i], thread(i)), "seccomp");
  }
  for (size_t i = 0; i < threads.size(); ++i)
    TRY(kinds::verify_creds(threads[i].tgid(), threads[i].tid(), thread(i)));
  return {};
}

// The leader's executor lent to the other threads of its process for as
// long as this lives (one address space).
class SharedExecutor {
 public:
  explicit SharedExecutor(std::vector<remote::RemoteTask>& threads) : threads_(threads) {}
  Status share() {
    for (size_t i = 1; i < threads_.size(); ++i, ++shared_) TRY(threads_[i].share_executor(threads_.front()));
    return {};
  }
  ~SharedExecutor() {
    for (size_t i = 1; i <= shared_; ++i) threads_[i].drop_shared_executor();
  }

 private:
  std::vector<remote::RemoteTask>& threads_;
  size_t shared_ = 0;
};

}  // namespace

Status rebuild_task(std::vector<remote::RemoteTask>& threads, TaskPlan& t, const kinds::ShmemPlan& shmem,
                    const std::vector<UniqueFd>& shmem_objects, int top, bool drain_sigchld, bool verify,
                    Progress& progress, Faults& faults, Timeline& tl) {
  remote::RemoteTask& leader = threads.front();
  const img::Task& task = t.task;
  TRY(faults.hit("restore.executor"));
  auto current = TRY(sys::read_maps(leader.tgid()));
  // The executor's size is bounded well below 1 MiB (code page, table, scratch).
  uint64_t at = kinds::pick_executor_addr(t.mm, current, size_t{1} << 20);
  if (at == 0) return failf("no room for the executor in the saved address space");
  // These maps say where [vdso] is: the executor's remote mmap (through the
  // vdso's `syscall`) need not read them again.
  for (const sys::VmArea& a : current)
    if (a.path == "[vdso]") TRY(leader.refresh_syscall_insn(a.start, a.end));
  TRY_CTX(leader.map_executor(at), "map executor at {:#x}", at);
  tl.mark("rebuild.executor");
  TRY(faults.hit("restore.shmem-fds"));
  kinds::ShmemFds shmem_fds = TRY(kinds::find_shmem_fds(leader.tgid(), shmem, shmem_objects, top));
  TRY(faults.hit("restore.mm"));
  kinds::CowRestore cow;
  cow.ancestors = t.ancestors;
  // AMBER_BREAK=restore.cow-share (tests): the areas built in the fork
  // phase are dropped and filled with copies; verify_cow must notice.
  if (!faults.broken("restore.cow-share"))
    for (const CowArea& a : t.cow_areas) cow.premapped.push_back({a.start, a.end, a.slot});
  TRY(kinds::restore_mm(leader, t.mm, *t.pages, shmem_fds, &progress, shmem.sysv_sizes, cow));
  TRY_CTX(kinds::close_shmem_fds(leader, shmem_fds), "shared memory fds");
  TRY(faults.hit("restore.mlock"));
  TRY(kinds::restore_mm_locks(leader, t.mm));
  tl.mark("rebuild.mm");
  TRY(faults.hit("restore.locks"));
  TRY_CTX(kinds::take_mapped_locks(leader, t.files), "file locks");
  tl.mark("rebuild.locks");
  TRY(faults.hit("restore.signals"));
  if (drain_sigchld) TRY(kinds::drain_sigchld(leader));
  if (!faults.broken("restore.sigactions")) TRY_CTX(kinds::restore_sigactions(leader, task), "signal actions");
  TRY(faults.hit("restore.rlimits"));
  TRY_CTX(kinds::restore_rlimits(leader.tgid(), task), "rlimits");
  tl.mark("rebuild.signals+rlimits");
  {
    SharedExecutor shared(threads);
    TRY(shared.share());
    TRY(faults.hit("restore.thread"));
    for (size_t i = 0; i < threads.size(); ++i) {
      const img::Thread& th = task.threads(static_cast<int>(i));
      TRY(kinds::restore_thread(threads[i], th));
      TRY(kinds::restore_thread_attrs(threads[i], th));
    }
    tl.mark("rebuild.threads");
    TRY(faults.hit("restore.pending"));
    if (!faults.broken("restore.pending")) TRY(restore_pending_signals(threads, task));
    TRY(faults.hit("restore.itimers"));
    TRY(kinds::restore_itimers(leader, task));
    // After the threads (SIGEV_THREAD_ID targets) and the pending signals.
    TRY(faults.hit("restore.posix-timers"));
    std::map<pid_t, pid_t> vtid_of;
    for (size_t i = 0; i < threads.size(); ++i) vtid_of[threads[i].tid()] = task.threads(static_cast<int>(i)).tid();
    TRY(kinds::restore_posix_timers(leader, vtid_of, task));
    tl.mark("rebuild.pending+itimers");
    // While the task is still root (ipcperms), the semaphores at the
    // image's values: the remote semops leave the values as they are.
    TRY(faults.hit("restore.sem-undo"));
    TRY(kinds::restore_sem_undo(leader, task.pid(), t.sem_undo, verify));
    TRY(restore_identity(threads, task, faults));
    tl.mark("rebuild.creds");
    // After the credentials: commit_creds() clears the parent-death signal
    // when ids change. The fd owners may be any task: all exist by now.
    TRY(faults.hit("restore.task-attrs"));
    for (size_t i = 0; i < threads.size(); ++i)
      TRY_CTX(kinds::restore_thread_prctl(threads[i], task.threads(static_cast<int>(i))), "task attributes");
    TRY(kinds::restore_process_attrs(leader, task));
    TRY(kinds::restore_fd_owners(leader, task.pid(), t.files));
    TRY(kinds::restore_pidfds(leader, task.pid(), t.files));
    TRY_CTX(kinds::restore_tty_foreground(leader, t.files), "task {}", task.pid());
    tl.mark("rebuild.task-attrs");
    // Read back while the executor is still there (one remote batch).
    if (verify) TRY(kinds::verify_sigactions(leader, task));
  }
  TRY(faults.hit("restore.unmap-executor"));
  TRY_CTX(leader.unmap_executor(), "unmap executor");
  tl.mark("rebuild.executor");
  TRY(faults.hit("restore.verify"));
  TRY(kinds::verify_mm(leader.tgid(), t.mm, 0, 0));
  for (size_t i = 0; i < threads.size(); ++i) {
    TRY(kinds::restore_thread_final(threads[i], task.threads(static_cast<int>(i))));
    // In the thread now, so that verification reads the final mask.
    TRY(threads[i].put_back_saved());
  }
  tl.mark("rebuild.verify");
  return {};
}

Status verify_rebuilt(const std::vector<remote::RemoteTask>& threads, const TaskPlan& t) {
  const pid_t pid = threads.front().tgid();
  std::vector<pid_t> tids;
  for (const remote::RemoteTask& th : threads) tids.push_back(th.tid());
  TRY(kinds::verify_proc_fields(pid, tids, t.task));
  TRY(kinds::verify_vmflags(pid, t.task.pid(), t.mm));
  TRY(kinds::verify_fds(pid, t.task.pid(), t.files));
  return {};
}

}  // namespace amber::restore
