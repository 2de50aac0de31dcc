#include "restore/rebuild.h"

#include "kinds/mm.h"
#include "kinds/rlimits.h"
#include "kinds/signals.h"
#include "kinds/thread.h"
#include "kinds/tree.h"
#include "sys/procfs.h"

namespace amber::restore {

Status rebuild_task(std::vector<remote::RemoteTask>& threads, TaskPlan& t, bool drain_sigchld, Faults& faults) {
  remote::RemoteTask& leader = threads.front();
  const img::Task& task = t.task;
  TRY(faults.hit("restore.executor"));
  auto current = TRY(sys::read_maps(leader.tgid()));
  // The executor's size is bounded well below 1 MiB (code page, table, scratch).
  uint64_t at = kinds::pick_executor_addr(t.mm, current, size_t{1} << 20);
  if (at == 0) return failf("no room for the executor in the saved address space");
  TRY_CTX(leader.map_executor(at), "map executor at {:#x}", at);
  TRY(faults.hit("restore.mm"));
  TRY(kinds::restore_mm(leader, t.mm, *t.pages));
  TRY(faults.hit("restore.signals"));
  if (drain_sigchld) TRY(kinds::drain_sigchld(leader));
  TRY_CTX(kinds::restore_sigactions(leader, task), "signal actions");
  TRY(faults.hit("restore.rlimits"));
  TRY_CTX(kinds::restore_rlimits(leader.tgid(), task), "rlimits");
  TRY(faults.hit("restore.thread"));
  for (size_t i = 0; i < threads.size(); ++i) {
    if (i > 0) TRY(threads[i].share_executor(leader));
    const img::Thread& th = task.threads(static_cast<int>(i));
    TRY(kinds::restore_thread(threads[i], th));
    TRY(kinds::restore_thread_attrs(threads[i], th));
    if (i > 0) threads[i].drop_shared_executor();
  }
  TRY(faults.hit("restore.unmap-executor"));
  TRY_CTX(leader.unmap_executor(), "unmap executor");
  TRY(faults.hit("restore.verify"));
  TRY(kinds::verify_mm(leader.tgid(), t.mm, 0, 0));
  for (size_t i = 0; i < threads.size(); ++i)
    TRY(kinds::restore_thread_final(threads[i], task.threads(static_cast<int>(i))));
  return {};
}

}  // namespace amber::restore
