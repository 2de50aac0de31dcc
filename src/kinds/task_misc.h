// Process-wide fs context and name: comm, root, cwd, umask.
//
// Paths are stored as the task sees them. /proc/PID/{root,cwd,fd/N} links
// show a path as amber's own root reaches it: for a task in a pivot_root'ed
// mount namespace that is already the task's view (its mounts are not
// reachable from ours, so the kernel prints the path from the namespace's
// root); for a chroot'ed task it carries the root as a prefix, which is
// removed (path_in_root).
#pragma once
#include <sys/types.h>

#include <string>
#include <string_view>

#include "base/result.h"
#include "task.pb.h"

namespace amber::kinds {

// A link text of /proc/PID/... as the task sees it, given the task's root
// link text. Unsupported when the target is outside that root, deleted, or
// not a path ("pipe:[..]", "anon_inode:..").
Result<std::string> path_in_root(std::string_view link, std::string_view root);

// The link text of /proc/PID/root.
Result<std::string> read_root_link(pid_t pid);

// Fills comm, cwd, umask of `out`, and root: the task's root relative to
// `container_root` (the link text of the container init's /proc/PID/root),
// "/" for a task whose root is the container's.
Status dump_fs_context(pid_t pid, std::string_view container_root, img::Task& out);

// Runs inside the restored task (plain C++, in its namespaces and under the
// container's root) before it stops: chroot when its root is not the
// container's, chdir, umask, comm of the calling thread.
Status apply_fs_context_in_child(const img::Task& task);

}  // namespace amber::kinds
