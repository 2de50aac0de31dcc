// clone3(2) wrapper: the one way amber creates a task with new namespaces,
// inside a chosen cgroup (CLONE_INTO_CGROUP) and at chosen pids (set_tid).
#pragma once
#include <sys/types.h>

#include <csignal>
#include <cstdint>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace amber::sys {

struct CloneSpec {
  // CLONE_NEW*, CLONE_PARENT, ... CLONE_PIDFD and CLONE_INTO_CGROUP are added
  // from `want_pidfd` and `cgroup_fd`; do not pass them here.
  uint64_t flags = 0;
  int exit_signal = SIGCHLD;
  bool want_pidfd = false;
  // >= 0: the child starts in this cgroup v2 directory (an open directory fd).
  // The task never runs outside it, so a freeze or kill of the cgroup cannot miss it.
  int cgroup_fd = -1;
  // Pids to take: set_tid[0] in the innermost pid namespace (the new one if
  // CLONE_NEWPID), set_tid[1] in its parent, ... Empty: the kernel chooses.
  std::vector<pid_t> set_tid;
};

struct Cloned {
  pid_t pid = 0;  // 0 in the child; the child's pid in the caller's pid namespace otherwise
  UniqueFd pidfd;  // with want_pidfd, in the parent
  bool in_child() const { return pid == 0; }
};

// Forks like fork(2) (no new stack: the child continues on a copy of the
// caller's). Caveats of bypassing glibc's fork: no atfork handlers run, and
// glibc's cached tid in the child is the parent's, so the child must not use
// raise/abort/pthread_* — it should set itself up and exec or _exit.
// The caller must be single-threaded.
Result<Cloned> clone3(const CloneSpec& spec);

}  // namespace amber::sys
