// Starting a container's init under a shim.
//
// spawn_init forks the shim (a per-container amber process: own session,
// stdio on /dev/null, no other fd, child subreaper, named "amber-shim"). The
// shim clone3s the init with the namespace flags, the optional set_tid pids
// and CLONE_INTO_CGROUP, runs `fn` in it, reports the init's host pid to
// spawn_init, waits for the init and records how it ended in
// `exit_status_path`. `amber run` passes an InitFn that sets up mounts and
// stdio and execs the command; restore will pass one that rebuilds a task.
#pragma once
#include <sched.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace amber::container {

// The namespaces every amber container has of its own (user and time are the host's).
inline constexpr uint64_t kContainerNsFlags =
    CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWCGROUP;

struct SpawnSpec {
  uint64_t clone_flags = 0;    // CLONE_NEW* of the init
  std::vector<pid_t> set_tid;  // see sys::CloneSpec::set_tid; empty: any pid
  int cgroup_fd = -1;          // the container's v2 cgroup (CLONE_INTO_CGROUP); -1: the shim's
  // Where the shim records the init's end ("exit N" / "signal N", atomically).
  std::string exit_status_path;
  // Fds the InitFn uses (all CLOEXEC). The shim keeps only these, the cgroup fd
  // and the report pipe, and closes them as soon as the init exists.
  std::vector<int> init_fds;
  // `amber run --tty`: the master of the container's terminal, kept by the
  // shim (not by the init), which hands it to `amber attach` through a unix
  // socket at attach_path. -1: none.
  int console_fd = -1;
  std::string attach_path;
  // No shim: the caller clones the init itself with CLONE_PARENT, so that it
  // is the child of the caller's parent (a runtime that ran `amber swrk`,
  // CRIU's rst_sibling); exit_status_path and console_fd are unused.
  bool sibling = false;
};

// Runs in the init, after clone3. `report_fd` is the CLOEXEC report pipe: an
// exec closes it, which tells spawn_init's caller the init has started; an fn
// that does not exec closes it itself when ready. Returning means failure:
// the error travels back to the caller and the init exits.
using InitFn = std::function<Status(int report_fd)>;

struct Spawned {
  pid_t shim_pid = 0;   // child of the caller of spawn_init (0: sibling)
  pid_t init_pid = 0;   // host pid
  UniqueFd report;      // read end: the init's outcome (see wait_init_started)
};

// Returns once the init exists (its fn may still be running). On failure the
// shim and init are gone (killed through the cgroup, shim reaped).
Result<Spawned> spawn_init(const SpawnSpec& spec, InitFn fn);

// Waits until the init's report pipe closes (exec done) or it reports an error.
Status wait_init_started(Spawned& s);

// Kills the init (through the cgroup when there is one: its pid namespace dies
// with it) and reaps the shim. For the caller's failure paths.
void abort_spawned(Spawned& s, int cgroup_fd);

// How an init ended, as the shim records it.
struct ExitStatus {
  bool signaled = false;
  int code = 0;  // exit code, or the signal number
};
std::string format_exit_status(const ExitStatus& s);  // "exit 7" / "signal 9"
Result<ExitStatus> parse_exit_status(std::string_view text);

}  // namespace amber::container
