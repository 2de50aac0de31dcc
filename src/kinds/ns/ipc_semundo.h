// SysV semaphore undo lists (SEM_UNDO adjustments, "semadj") of the
// container's tasks. Dump and restore side by side.
//
// The kernel keeps one undo list per task (struct sem_undo_list), shared by
// the threads cloned with CLONE_SYSVSEM (every pthread) and applied to the
// semaphores (exit_sem) when its last sharer exits or unshares. semop with
// SEM_UNDO adds -sem_op to the list's semadj; SETVAL/SETALL clear that
// semaphore's semadj in every list; IPC_RMID frees every entry of the set.
// No /proc file and no call reads a semadj, and kcmp(KCMP_SYSVSEM) only
// compares lists.
//
// Reading without changing anything (checked by the unit test
// SemUndo.ReadWithoutChangeAndRebuiltExactly: the kernel's own exit_sem
// applies exactly the adjustments read, after the probes): a semop of several operations on the same semaphore takes the
// kernel's slow path (perform_atomic_semop_slow), which applies them in
// order — value and semadj — and undoes all of them when one fails. A
// remote semop in a thread of the list's process with
//   (+k, -k SEM_UNDO) or (-k SEM_UNDO, +k) pairs   (the value returns to v,
//                                                   semadj grows by k)
//   ... adding up to D, then one operation that always blocks (-32768,
//   IPC_NOWAIT)
// fails with ERANGE iff semadj + D > 32767 (SEMAEM: "exceeding the undo
// range is an error"), else with EAGAIN at the last operation: a test
// "semadj > 32767 - D" that never succeeds, so nothing changes, not even
// sem_otime or sempid, and no waiter is woken. A binary search over
// [-32768, 32767] reads each semaphore's semadj (16 semops, one batch of
// the executor per round for all semaphores at once); first, two probes
// per chunk of semaphores tell the all-zero sets apart. The one trace: a
// list without an entry for a set gets an all-zero entry (find_alloc_undo),
// which exit_sem applies as nothing. The values v are the ones the dump
// read (the container is held; a task held in semop has left its queue).
//
// Restore: per process and set, one remote semop of the same pairs in the
// restored task (before its credentials are set: it is root), value
// neutral (v -> v + k -> v), which leaves semadj at the image's value; read
// back by the same probe.
//
// Refused by name: a list shared by several processes (clone with
// CLONE_SYSVSEM without CLONE_THREAD), the threads of one process that do
// not share one list, a task that may not alter a set it could hold
// adjustments on (EACCES: its semadj cannot be read), a namespace whose
// kernel.sem semopm is below what one probe needs.
#pragma once
#include <sys/types.h>

#include <map>
#include <vector>

#include "base/result.h"
#include "kinds/tree.h"
#include "ns.pb.h"
#include "remote/remote_task.h"

namespace amber::kinds {

// A process whose threads hold a SysV semaphore undo list.
struct SemUndoHolder {
  pid_t pid = 0;   // as amber sees it
  pid_t vpid = 0;  // in the container
  pid_t tid = 0;   // a thread of it that shares the list (runs the probes)
};

// The processes of `tree` with an undo list. Unsupported for a list shared
// by several processes, or threads of one process that do not share one.
Result<std::vector<SemUndoHolder>> find_sem_undo_holders(const std::vector<TreeTask>& tree);

// Reads the adjustments of `task`'s list on every set of `ipc` (remote
// semops, see above; the executor is mapped for it if it is not) and adds
// a SemUndo of `vpid` to each set where one is not 0.
Status dump_sem_undo(remote::RemoteTask& task, pid_t vpid, img::IpcNs& ipc);

// ---- restore ----

// One set's adjustments of one process, with the set's values.
struct SemUndoPlan {
  int32_t semid = 0;
  std::vector<uint32_t> values;
  std::vector<int32_t> adj;
};

// vpid -> its adjustments, from the image (validate_sysv checked them);
// BadInput if a pid is not a live task of `live`.
Result<std::map<pid_t, std::vector<SemUndoPlan>>> plan_sem_undo(const img::IpcNs& ipc, const std::vector<pid_t>& live);

// In the restored task (executor mapped, the semaphores at the image's
// values, the task still root): gives its undo list the adjustments, then
// reads them back when `verify`.
Status restore_sem_undo(remote::RemoteTask& task, pid_t vpid, const std::vector<SemUndoPlan>& plan, bool verify);

}  // namespace amber::kinds
