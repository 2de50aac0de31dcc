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
// `verify`: read the signal actions back while the executor is there
// (restore verification, with verify_rebuilt).
Status rebuild_task(std::vector<remote::RemoteTask>& threads, TaskPlan& t, const kinds::ShmemPlan& shmem,
                    const std::vector<UniqueFd>& shmem_objects, int top, bool drain_sigchld, bool verify,
                    Progress& progress, Faults& faults, Timeline& tl);

// Restore verification of one rebuilt, still seized task: every /proc field
// the completeness table (kinds/completeness.h) recorded, each area's
// VmFlags and the fd table are compared with the image. Run once every
// step that sets something has run (scheduling included), before release.
Status verify_rebuilt(const std::vector<remote::RemoteTask>& threads, const TaskPlan& t);

}  // namespace amber::restore
