// The network lock: from the hold until the restored tasks run (or until a
// failed or --leave-running dump releases them), no packet crosses a link
// of the container's net namespace but lo, either way. A peer outside the
// container (over the host link of `amber run --net veth`) keeps sending
// while the container is held; without the lock the kernel would take and
// acknowledge what arrives after the dump read the queues, and that data
// would be lost — or, at the restore, a segment reaching a connection not
// made yet would be answered with a RST. Dropped instead, it is sent again
// by the peer (TCP) once the lock is lifted; a datagram is lost, as UDP may.
//
// The lock is an nftables table of amber's (kNetLockTable, left out of
// every view of the namespace: never dumped, never compared) in the
// container's own namespace: a drop-everything chain on the ingress and one
// on the egress hook of each of its links but lo (family netdev, priority
// -500), so that a frame is dropped before anything else sees it, and a
// sender is not told (TCP sends again later; a datagram counts as sent, as
// one lost on the way) — a task that runs while it is locked (amber died,
// see below) sees no error. Loopback connections inside the container are
// left to repair mode (kinds/files/inet_socket.h).
//
// Taken only where something can cross: a namespace of the container's own
// (never the host's: a container that shares it, or declared it external,
// has no lock, and a connection to a peer outside stays refused) with a
// link besides lo. Lifted while the tasks are still stopped. A dump that is
// killed has the lock in its journal (recover/): the next amber command
// lifts it before it releases the tasks. A restore locks its links as
// they are made, before any is up; its lock dies with the namespace of a
// restore that fails, so that the killed tasks' ends send their peers
// nothing.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "ns.pb.h"

namespace amber::kinds {

// Dump: the links of `pid`'s net namespace to lock (none: no lock).
// `external`: the user declared it (--external net): not the container's.
Result<std::vector<std::string>> net_lock_links(pid_t pid, bool external);
// Restore: whether the image's namespace is locked while it is rebuilt.
bool net_lock_wanted(const img::NetNs& net);

class NetLock {
 public:
  NetLock() = default;  // no lock
  // Locks the net namespace of `pid`. `journal` is told the namespace's
  // inode before the table is made. A table of that name there already is
  // refused by name. `log`: where the destructor says that it could not
  // lift the lock (the container would stay cut off).
  static Result<NetLock> take(pid_t pid, const std::vector<std::string>& links,
                              const std::function<Status(uint64_t netns_inode)>& journal, Log& log);
  // The namespace of `pid`, locked by install_net_lock (the restore). Not
  // lifted by the destructor: a restore that fails leaves it to die with
  // the namespace, so that its tasks' ends send their peers nothing.
  static Result<NetLock> adopt(pid_t pid);
  NetLock(NetLock&& o) noexcept : ns_(std::move(o.ns_)), log_(o.log_), taken_(o.taken_) {}
  NetLock& operator=(NetLock&&) noexcept;
  // Lifts a lock it took (take), warning if it cannot.
  ~NetLock();

  bool held() const { return ns_.valid(); }
  // Removes the table: packets flow again. Nothing if not held.
  Status lift();
  // The namespace's tasks are dead (the dump killed them): the table goes
  // with the namespace; what their sockets might still send stays locked in.
  void drop() { ns_.reset(); }

 private:
  UniqueFd ns_;
  Log* log_ = nullptr;
  bool taken_ = false;  // by take: lifted at the end
};

// Restore: locks the image's links in the calling thread's (the restored
// init's) net namespace, once they are made and before any is up.
Status install_net_lock(const img::NetNs& net);

// Recovery of a killed dump: lifts the lock in `pid`'s net namespace if
// that namespace is still `netns_inode`. false: nothing to lift.
Result<bool> lift_net_lock(pid_t pid, uint64_t netns_inode);

}  // namespace amber::kinds
