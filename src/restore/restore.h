// `amber restore`: rebuild a container from an image directory.
#pragma once
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "base/faults.h"
#include "base/log.h"
#include "base/result.h"
#include "restore/externals.h"

namespace amber::restore {

struct RestoreOptions {
  std::string dir;   // the image directory
  std::string name;  // "" → the name in the image
  // Skip restore verification (restore/verify.h): the rebuilt tasks are not
  // compared with the image before they run.
  bool no_verify = false;
  std::string key_file;  // --key: the image was made with this key, not the host's (image/auth.h)
  // --external: what each external the image declares binds to (externals.h).
  std::vector<ExternalBinding> externals;
  // The container's rootfs on this host, "" for the one the image records
  // (a runtime that mounts it again elsewhere gives it: runc's `root`).
  std::string rootfs;
  // Host paths of the image's external bind mounts, by external name
  // ("mount:/data" -> "/srv/data"); one not given is the path the dump saw
  // (kinds/ns/mounts.h).
  std::map<std::string, std::string> mount_externals;
  // A runtime's restore (amber swrk, CRIU's rst_sibling): no amber container
  // is registered (no state directory, shim, log or cgroup of amber's). The
  // init is the child of amber's parent (CLONE_PARENT) and every task lands
  // in amber's own cgroups, which the runtime made for the container; amber
  // leaves them before the tasks are released together through the freezer.
  bool sibling = false;
  // CRIU's notify scripts a runtime waits for: "setup-namespaces" (the init
  // exists) and "post-restore" (rebuilt, about to run), with the init's host
  // pid; an error fails the restore.
  std::function<Status(const char* script, pid_t init)> notify;
};

// Every step of the driver, in order (`amber restore --list-fault-points`).
// restore.mounts, restore.net and restore.fork fail in the restored
// processes themselves (the fork phase: the init, before it forks anything).
// (std::to_array: the count follows the list.)
inline constexpr auto kFaultPoints = std::to_array<const char*>({
    "restore.validate", "restore.reserve",  "restore.cgroup",  "restore.log",     "restore.shmem",
    "restore.mounts",   "restore.net",      "restore.fork",
    "restore.spawn",    "restore.seize",    "restore.tree",    "restore.verify-tree", "restore.ipc-objects",
    "restore.executor",
    "restore.shmem-fds", "restore.mm",      "restore.mlock",   "restore.locks",   "restore.signals",
    "restore.rlimits",  "restore.thread",
    "restore.pending",  "restore.itimers",  "restore.posix-timers",  "restore.sem-undo", "restore.creds",   "restore.dumpable", "restore.seccomp",
    "restore.task-attrs", "restore.unmap-executor", "restore.verify", "restore.ipc", "restore.tcp-connect", "restore.state", "restore.sched",
    "restore.verify-image", "restore.verify-container", "restore.tcp", "restore.release",
});

// What `amber restore` prints when it is done.
struct RestoreSummary {
  std::string name, dir;
  pid_t pid = 0;                        // the restored init, as the host sees it
  uint32_t processes = 0, threads = 0;  // zombies included, as the image has them
  uint64_t image_bytes = 0;             // every file of the image
  double total_ms = 0;                  // the whole restore, from reading the key to the release
  double fork_ms = 0;                   // creating the tasks (namespaces, mounts, the process tree)
};
// "restored s1 from /tmp/i1: 7 processes (7 threads), 0.4 MiB in 41.2 ms"
std::string format_summary(const RestoreSummary& s);

// Returns once the container runs. On failure nothing is left: no task,
// cgroup, mount or state directory; the image is never written.
Result<RestoreSummary> restore_container(const RestoreOptions& opts, Log& log, Faults& faults);

}  // namespace amber::restore
