// The fork phase of a restore: runs inside the restored processes
// themselves, in the container's namespaces, before the controller seizes
// them. The init (a clone of the shim) sets up the container's file system,
// then every process of the plan (kinds/tree.h) forks its own children at
// their pids (clone3 + set_tid), makes its session and group, opens the
// descriptions it shares with its descendants (kinds/files/shared.h), then
// builds its own fd table, cwd and threads, and waits: a task in pause()
// for the controller, a zombie's stand-in for its signal to end, a helper
// for its SIGKILL. Each says "ready" by closing its copy of the report pipe
// (the controller sees end-of-file once every process has); a failure is
// written to the pipe and ends the process. `shmem_fds`: the shared memory
// objects the controller made (kinds/shmem.h): every task keeps them open
// through its fd-table rebuild, for the controller to map.
#pragma once
#include "base/faults.h"
#include "base/result.h"
#include "restore/externals.h"
#include "restore/plan.h"

namespace amber::restore {

// The init's InitFn (spawn_init): returns only on failure.
// console_fd: the new console's slave for a --tty image (-1: none).
// `host_ns`: an fd of the host's net namespace for the host link (--net
// veth), -1 if none; closed before any task is forked. `ext`: the declared
// externals handed in (restore/externals.h): the init joins their
// namespaces first, and every process inherits their descriptions.
Status init_side(const Plan& plan, int log_fd, int console_fd, int report_fd, std::vector<int> shmem_fds, int host_ns,
                 const ExternalFds& ext, Faults faults);

}  // namespace amber::restore
