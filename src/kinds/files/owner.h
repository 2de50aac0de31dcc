// The SIGIO owner and signal of an open file description (fcntl
// F_SETOWN_EX / F_SETSIG), and O_ASYNC with it.
//
// Dump: the owner and signal belong to the description, not to /proc: read
// through a pidfd_getfd copy (same description) with F_GETOWN_EX / F_GETSIG.
// The owner comes back as a pid of amber's namespace: translated to the
// container's (a task of the container, or the leader of a process group of
// it; an owner outside the container is refused, Unsupported). Only for the
// kinds probe_fds supports: pidfd_getfd of a socket is not side-effect free
// (the kernel re-tags it with amber's cgroup, __receive_sock), so sockets
// will need another way when they are supported.
//
// Restore: by the controller, remote fcntl in the first task holding the
// description (the owner may be any task of the container: all exist then),
// after the credentials (the kernel records the caller's uid and euid for
// its permission check of SIGIO). O_ASYNC: open() keeps the flag in f_flags
// without registering the description for SIGIO (only F_SETFL calls the
// file's ->fasync, and only when the flag changes), so it is cleared and set
// again with F_SETFL.
#pragma once
#include <sys/types.h>

#include "base/result.h"
#include "files.pb.h"
#include "kinds/files/fdtable.h"
#include "remote/remote_task.h"

namespace amber::kinds::files {

// Fills owner_type, owner and signal of `out` from a copy of the fd.
Status dump_owner(int pidfd, const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);

}  // namespace amber::kinds::files

namespace amber::kinds {

// The remote half of the restore (see above) for the fds of task `vpid`.
// Needs the executor.
Status restore_fd_owners(remote::RemoteTask& task, pid_t vpid, const img::Files& files);

}  // namespace amber::kinds
