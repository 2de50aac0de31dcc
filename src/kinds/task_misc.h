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
#include <vector>

#include "base/result.h"
#include "kinds/tree.h"
#include "task.pb.h"

namespace amber::kinds {

// A link text of /proc/PID/... as the task sees it, given the task's root
// link text. Unsupported when the target is outside that root, deleted, or
// not a path ("pipe:[..]", "anon_inode:..").
Result<std::string> path_in_root(std::string_view link, std::string_view root);

// The link text of /proc/PID/root.
Result<std::string> read_root_link(pid_t pid);

// Which /proc/<pid>/ paths of the container's procfs a restored task can
// open by path (its fds, its cwd): only those of processes that exist when
// it does so — itself and its ancestors — and of their main threads (threads
// are made after fds and cwd). Vpids.
struct ProcReopen {
  std::vector<pid_t> reopenable;  // the task itself and its ancestors up to the init
  std::vector<pid_t> all;         // every process of the container, zombies included
};

// What task `vpid` of the dumped `tree` can reopen: itself and its
// ancestors.
ProcReopen proc_reopen_for(const std::vector<TreeTask>& tree, pid_t vpid);

// `path` (as the task sees it) reached through the magic link `link`
// ("/proc/HOSTPID/fd/3", "/proc/HOSTPID/cwd"): if it is a /proc/<pid>/ file
// or directory of a procfs that `reopen` does not allow, Unsupported naming
// the pid — a process that has exited (the restore failed late, ENOENT, or
// opened another process's file) or one that does not exist yet then.
Status check_proc_reopen(const std::string& link, const std::string& path, const ProcReopen& reopen);

// Fills comm, cwd, umask of `out`, and root: the task's root relative to
// `container_root` (the link text of the container init's /proc/PID/root),
// "/" for a task whose root is the container's. A cwd in /proc is checked
// against `reopen`.
Status dump_fs_context(pid_t pid, std::string_view container_root, const ProcReopen& reopen, img::Task& out);

// Runs inside the restored task (plain C++, in its namespaces and under the
// container's root) before it stops: chroot when its root is not the
// container's, chdir, umask, comm of the calling thread.
Status apply_fs_context_in_child(const img::Task& task);

}  // namespace amber::kinds
