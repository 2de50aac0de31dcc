// IPC namespace: its sysctls and its SysV objects (ipc_sysv.h) are dumped and
// restored, and so are its POSIX message queues (ipc_mqueue.h).
//
// Restore order: the POSIX queues by the restored init before it forks the
// tree (each task opens its mq fds in the fork phase); then the controller,
// through threads that join the restored namespace: the SysV objects before
// any task is rebuilt (each task attaches
// its segments again during its rebuild), the sysctls once every task is
// rebuilt — the *_next_id ones last, and kernel.shm_rmid_forced only when
// the segments are attached again (writing 1 destroys every segment attached
// nowhere whose creator is gone: all restored ones are) — then the check of
// the objects against the image.
#pragma once
#include <sys/types.h>

#include <vector>

#include "base/result.h"
#include "image/pages.h"
#include "image/writer.h"
#include "kinds/ns/ipc_sysv.h"
#include "ns.pb.h"

namespace amber::kinds {

// The ipc namespace of `pid`, read from a short-lived thread that joins it
// (/proc/sysvipc/*, /proc/sys/kernel/{msg,sem,shm}*, /proc/sys/fs/mqueue/*
// and the SysV calls answer for the calling thread's ipc namespace). SysV shm
// contents go into `image`. Unsupported (exit 4) for a POSIX message queue
// or a SysV object this amber cannot keep, named by key, id and size.
// `image` nullptr: a scan for blockers (src/dump/blockers.h), no content.
Result<img::IpcNs> dump_ipc(pid_t pid, image::ImageWriter* image);

// Restore, before anything is created: every sysctl of the image is one of
// the ipc namespace's, and its SysV objects are consistent (BadInput otherwise).
Status validate_ipc(const img::IpcNs& ipc);

// Makes the SysV objects in the ipc namespace of `pid` (the restored init);
// `hold` keeps the segments marked IPC_RMID alive (ipc_sysv.h).
Status create_ipc_objects(pid_t pid, const img::IpcNs& ipc, std::vector<image::PageReader>& pages, SysvHold& hold);

// Makes the POSIX message queues in the calling thread's ipc namespace: run
// by the restored init before it forks (the fork phase opens the tasks'
// mq fds by name, kinds/files/mqueue.cpp).
Status create_ipc_mqueues(const img::IpcNs& ipc);

// Writes the sysctls into the ipc namespace of `pid`, the *_next_id ones
// last, and reads each back.
Status restore_ipc_sysctls(pid_t pid, const img::IpcNs& ipc);

// The namespace's SysV objects are the image's (verify_sysv).
Status verify_ipc(pid_t pid, const img::IpcNs& ipc);

}  // namespace amber::kinds
