// cgroup v2 helpers: find the v2 hierarchy, create/remove a cgroup, open it
// for CLONE_INTO_CGROUP, freeze/thaw (waiting for cgroup.events to agree),
// kill, list members, wait until empty. Paths are absolute cgroupfs paths.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace amber::sys {

using std::chrono::milliseconds;

// Where the v2 hierarchy is mounted: /sys/fs/cgroup/unified on a hybrid host,
// /sys/fs/cgroup on a pure v2 host (checked by filesystem magic, not by name).
// Error (exit 4, unsupported) if there is none.
Result<std::string> cgroup2_mount();

// mkdir; an existing directory is an error with sys_errno EEXIST.
Status cgroup_create(const std::string& path);
// rmdir. ENOENT is success. EBUSY right after the last task left is retried
// for a short while (the kernel releases the css asynchronously).
Status cgroup_remove(const std::string& path);
bool cgroup_exists(const std::string& path);
// An O_DIRECTORY fd on the cgroup, for clone3(CLONE_INTO_CGROUP).
Result<UniqueFd> cgroup_open(const std::string& path);

// cgroup.events as key -> value ("populated" -> "1", "frozen" -> "0").
std::map<std::string, std::string> parse_cgroup_events(std::string_view text);
Result<std::map<std::string, std::string>> cgroup_events(const std::string& path);
Result<bool> cgroup_frozen(const std::string& path);     // events: frozen 1
Result<bool> cgroup_populated(const std::string& path);  // events: populated 1 (itself or a descendant)
// cgroup.freeze as written (1 = freeze requested, whether or not complete).
Result<bool> cgroup_freeze_requested(const std::string& path);

// Writes cgroup.freeze and waits until cgroup.events reports frozen 1 / 0.
Status cgroup_freeze(const std::string& path, milliseconds timeout);
Status cgroup_thaw(const std::string& path, milliseconds timeout);
// cgroup.kill: SIGKILL to every task of the cgroup and its descendants,
// including tasks forked while the kill runs (unlike a loop over cgroup.procs).
Status cgroup_kill(const std::string& path);
// Waits until cgroup.events says populated 0.
Status cgroup_wait_empty(const std::string& path, milliseconds timeout);

// Members: cgroup.procs (processes) and cgroup.threads (threads of a threaded cgroup).
Result<std::vector<pid_t>> cgroup_procs(const std::string& path);

// cgroup v1 freezer (hybrid hosts: container runtimes put their containers in
// the v1 hierarchies, and `freezer` is only there): a directory with
// freezer.state, which reads THAWED, FREEZING or FROZEN and takes THAWED or
// FROZEN. Unlike v2 there is no event to wait on: FREEZING turns into FROZEN
// once every task has stopped, seen by reading the file again.
bool is_v1_freezer(const std::string& path);
enum class FreezerState { Thawed, Freezing, Frozen };
Result<FreezerState> freezer_state(const std::string& path);
Status freezer_write(const std::string& path, bool frozen);
// freezer.parent_freezing 1: an ancestor freezes the cgroup, whatever it says itself.
Result<bool> freezer_parent_freezing(const std::string& path);

}  // namespace amber::sys
