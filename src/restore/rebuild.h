// The controller's part of a restore for one task: its address space,
// signals, limits and every thread's state, rebuilt through remote syscalls
// in the seized, stopped threads (DESIGN.md "Restoring").
#pragma once
#include <vector>

#include "base/faults.h"
#include "base/progress.h"
#include "base/result.h"
#include "base/timeline.h"
#include "remote/remote_task.h"
#include "restore/plan.h"

namespace amber::restore {

// `threads`: the task's seized threads in the image's order (leader first).
// `drain_sigchld`: zombie stand-ins ended under it (kinds::drain_sigchld).
// Afterwards every thread holds its final registers and mask: release()
// lets it go.
// `shmem_objects`: the controller's fds of plan.shmem's objects, which the
// task holds above `top` (the highest fd number of the image).
// `verify`: compare the rebuilt task with the image before it may run
// (restore verification: every /proc field the completeness table restores,
// VmFlags, the fd table, signal actions); a difference fails the restore.
Status rebuild_task(std::vector<remote::RemoteTask>& threads, TaskPlan& t, const kinds::ShmemPlan& shmem,
                    const std::vector<UniqueFd>& shmem_objects, int top, bool drain_sigchld, bool verify,
                    Progress& progress, Faults& faults, Timeline& tl);

}  // namespace amber::restore
