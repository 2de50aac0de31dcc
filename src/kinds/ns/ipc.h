// IPC namespace: its sysctls are dumped and restored; its SysV message
// queues, semaphore sets and shm segments and its POSIX message queues are
// refused by name (not supported yet), never dropped.
#pragma once
#include <sys/types.h>

#include "base/result.h"
#include "ns.pb.h"

namespace amber::kinds {

// The ipc namespace of `pid`, read from a short-lived thread that joins it
// (/proc/sysvipc/*, /proc/sys/kernel/{msg,sem,shm}* and /proc/sys/fs/mqueue/*
// answer for the reading thread's ipc namespace). Unsupported (exit 4) for the
// first SysV object or POSIX message queue found, named by key, id and size.
Result<img::IpcNs> dump_ipc(pid_t pid);

// Restore, before anything is created: every sysctl of the image is one of
// the ipc namespace's (BadInput otherwise).
Status validate_ipc(const img::IpcNs& ipc);

// Writes the sysctls into the calling process's ipc namespace through its
// /proc (the restored init, before it forks anything), the *_next_id ones
// last, and reads each back.
Status restore_ipc(const img::IpcNs& ipc);

}  // namespace amber::kinds
