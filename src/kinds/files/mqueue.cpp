// POSIX message queue fds (mq_open): an fd of the ipc namespace's mqueue
// filesystem. The queues themselves, with their messages, are dumped and
// restored with the ipc namespace (kinds/ns/ipc_mqueue.h); an fd of one is
// refused by name until its restore is written (the queue must then exist
// before the fork phase, where each task opens its fds, and a queue
// unlinked with mq_unlink while open is not in the namespace's directory).
// Without this check the fd (S_IFREG, link "/NAME") would pass for a
// regular file of the container's root.
#include <sys/statfs.h>

#include "kinds/files/fd_kinds.h"

#ifndef MQUEUE_MAGIC
#define MQUEUE_MAGIC 0x19800202
#endif

namespace amber::kinds::files {

bool is_mqueue(const FdProbe& p) { return S_ISREG(p.st.st_mode) && p.fs_type == MQUEUE_MAGIC; }

Status dump_mqueue(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out) {
  (void)ctx;
  (void)out;
  // fdinfo of an mq fd: "flags", "pos" ..., and the queue's state line is
  // what a read() of it returns; the notify registration is refused with
  // the queue (ipc_mqueue.cpp) when the queue is still linked.
  return unsupported("POSIX message queue {} (mq_open fd): not supported yet", p.link);
}

Result<UniqueFd> open_mqueue(const img::Fd& fd, const OpenContext& ctx) {
  (void)ctx;
  return unsupported("fd {}: POSIX message queue fds are not supported yet", fd.fd());
}

}  // namespace amber::kinds::files
