// `amber restore`: rebuild a container from an image directory.
#pragma once
#include <array>
#include <string>

#include "base/faults.h"
#include "base/log.h"
#include "base/result.h"

namespace amber::restore {

struct RestoreOptions {
  std::string dir;   // the image directory
  std::string name;  // "" → the name in the image
};

// Every step of the driver, in order (`amber restore --list-fault-points`).
// restore.fork fails in the restored processes themselves (the fork phase).
inline constexpr std::array<const char*, 27> kFaultPoints = {
    "restore.validate", "restore.reserve",  "restore.cgroup",  "restore.shmem",    "restore.fork",
    "restore.spawn",    "restore.seize",    "restore.tree",    "restore.verify-tree", "restore.executor",
    "restore.shmem-fds", "restore.mm",      "restore.locks",   "restore.signals", "restore.rlimits",  "restore.thread",
    "restore.pending",  "restore.itimers",  "restore.creds",   "restore.dumpable", "restore.seccomp",
    "restore.task-attrs", "restore.unmap-executor", "restore.verify",
    "restore.state",    "restore.sched",    "restore.release",
};

// Returns the container's name once it runs. On failure nothing is left:
// no task, cgroup, mount or state directory; the image is never written.
Result<std::string> restore_container(const RestoreOptions& opts, Log& log, Faults& faults);

}  // namespace amber::restore
