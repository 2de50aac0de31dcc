// POSIX message queues of a container's own ipc namespace, dump and restore
// side by side. Like ipc_sysv.h, every function but the pure check runs in a
// thread that joined the namespace.
//
// Dump: the namespace's mqueue filesystem is mounted detached (fsopen takes
// the calling thread's ipc namespace and hands back its one superblock,
// whether or not the container mounted it anywhere); each queue is opened
// through it (an fd of the mqueue filesystem is an mqd_t), its mode and
// owner are the inode's, its attributes come from mq_getattr. The kernel
// has no call that reads a message without removing it (KERNEL-NOTES): the
// messages are received in order (highest priority first, FIFO within one)
// and sent back in the same order, which rebuilds the same queue — while the
// container is held, so no task sees the queue in between; the queue's size
// and count are compared afterwards. A queue with an mq_notify registration
// is refused by name: sending into the emptied queue would fire it.
// Not kept: the queue's times, the accounting of its bytes to its creator's
// RLIMIT_MSGQUEUE (the restore's creator is amber).
//
// Restore: mq_open(O_CREAT | O_EXCL) with the attributes (fs.mqueue.msg_max,
// msgsize_max and queues_max raised first where the queues need it, as
// amber may lack CAP_SYS_RESOURCE; the sysctls of the image are written after
// the objects), fchown/fchmod, every message sent in order.
#pragma once
#include <sys/types.h>

#include <string>

#include "base/result.h"
#include "ns.pb.h"

namespace amber::kinds {

Status dump_mqueues(img::IpcNs& out);

// Whether the ipc namespace of `pid` has a queue `name` (one path
// component) that is the file `dev`:`ino` — an fd's queue, linked (not
// removed with mq_unlink) and of the container's own namespace.
Result<bool> mqueue_is_linked(pid_t pid, const std::string& name, dev_t dev, ino_t ino);

// Names (one path component), attributes and messages consistent.
Status validate_mqueues(const img::IpcNs& ipc);

Status create_mqueues(const img::IpcNs& ipc);

// The namespace has exactly the image's queues, with their attributes,
// owners, modes and message counts.
Status verify_mqueues(const img::IpcNs& ipc);

}  // namespace amber::kinds
