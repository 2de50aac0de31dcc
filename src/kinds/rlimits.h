// Resource limits of a process: dumped and restored from outside with
// prlimit64(pid, ...), no remote code.
//
// Without CAP_SYS_RESOURCE (this machine: KERNEL-NOTES) no hard limit can be
// raised above amber's own, so a restore checks the image with
// check_rlimits() before it creates anything, and refuses rather than
// restore a task with different limits.
#pragma once
#include <sys/types.h>

#include <string>

#include "base/result.h"
#include "remote/remote_task.h"
#include "task.pb.h"

namespace amber::kinds {

// Fills task.rlimits with every RLIMIT_* (0..RLIM_NLIMITS-1) of `pid`.
// prlimit64 on another process needs its real, effective and saved uids and
// gids all equal to the caller's, or CAP_SYS_RESOURCE (check_prlimit_permission):
// a task that dropped to another uid answers only itself.
Status dump_rlimits(pid_t pid, img::Task& out);
// The same by remote prlimit64(0, ...) in the task (executor mapped):
// works whatever the task's uids are.
Status dump_rlimits(remote::RemoteTask& task, img::Task& out);

// Unsupported (exit 4) when a hard limit of the image is above amber's own
// (it could not be set), naming the resource and both values; BadInput for
// an unknown resource or soft > hard.
Status check_rlimits(const img::Task& task);

// Sets every limit of the image on `pid` (prlimit64 from outside). Soft
// limits are set together with their hard limit.
Status restore_rlimits(pid_t pid, const img::Task& task);

// "RLIMIT_NOFILE", or "rlimit 42".
std::string rlimit_name(unsigned resource);

}  // namespace amber::kinds
