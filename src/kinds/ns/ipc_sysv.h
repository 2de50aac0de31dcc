// SysV IPC objects of a container's own ipc namespace: shm segments,
// semaphore sets, message queues. Dump and restore side by side; every
// function but the pure checks runs in a thread that joined the namespace
// (sys::in_namespace), because the SysV calls and /proc/sys/kernel/* act on
// the calling thread's ipc namespace.
//
// Dump: the objects are listed by index with *_STAT_ANY (no permission check
// but the namespace's), in index order.
//  - shm: IPC_STAT fields; the content through an attach of the dumper's own
//    (SHM_RDONLY): its /proc/self/map_files link opens the segment's shmem
//    file, whose pages are copied with SEEK_DATA/SEEK_HOLE and big preads
//    into a page store of its own (as shmem.h's objects); the link's name
//    "/SYSV%08x" gives the key the segment was created with, which a segment
//    marked IPC_RMID no longer shows. Hugetlb segments are refused by name.
//    The dumper's attach changes shm_atime, shm_dtime and shm_lpid, which no
//    restore can set anyway.
//  - sem: IPC_STAT fields and every value (GETALL). sempid, sem_otime and
//    the wait counts are not kept (the kernel has no call to set them).
//    SEM_UNDO adjustments of each task's undo list: ipc_semundo.h (read by
//    remote probing semops, recorded in the set's `undo`).
//  - msg: IPC_STAT fields and every message with its type, in queue order,
//    read with msgrcv(MSG_COPY | IPC_NOWAIT), which copies message N without
//    removing it (CONFIG_CHECKPOINT_RESTORE). A message longer than the
//    namespace's msgmax cannot be copied without changing msgmax: refused.
//    msg_lspid/lrpid and the times are not kept.
//
// Restore (controller, after the fork phase, before any task is rebuilt):
// each object is made with its id (kernel.*_next_id written right before the
// create, which consumes it) and its key, by a thread whose effective uid/gid
// are the creator's (cuid/cgid come from the creating thread's euid/egid;
// the thread's own credentials only, raw setresuid), then IPC_SET gives owner,
// mode and msg_qbytes; shm content is written through an attach of the
// controller (pwrite into the segment's shmem file), sem values with SETALL,
// messages with msgsnd in order. Segments marked IPC_RMID are made first
// (their key may be in use again by a live segment), stay attached in the
// controller (SysvHold), and are marked IPC_RMID at once: the tasks attach
// them by id during the rebuild (Linux allows shmat of a removed segment),
// and the controller detaches once every task is rebuilt.
#pragma once
#include <cstdint>
#include <map>
#include <vector>

#include "base/result.h"
#include "image/pages.h"
#include "image/reader.h"
#include "image/writer.h"
#include "mm.pb.h"
#include "ns.pb.h"

namespace amber::kinds {

// ---- dump (in a thread of the namespace) ----

// Fills out.shm/sem/msg; shm contents go into `image`.
Status dump_sysv(img::IpcNs& out, image::ImageWriter* image);

// ---- restore ----

// Consistency of the objects (ids unique, sizes, values in range); nothing
// is touched.
Status validate_sysv(const img::IpcNs& ipc);

// Opens every segment's page store and checks it against the segment's
// size, in out.shm's order.
Result<std::vector<image::PageReader>> read_sysv_pages(const image::ImageReader& image, const img::IpcNs& ipc);

// shm id -> segment size, for the rebuild of the areas that attach them.
std::map<uint64_t, uint64_t> sysv_shm_sizes(const img::IpcNs& ipc);

// Every VMA_SYSVSHM area of `mm` attaches a segment of `sizes` inside its size.
Status check_sysv_refs(const std::map<uint64_t, uint64_t>& sizes, const img::Mm& mm, pid_t vpid);

// The controller's attachments of segments marked IPC_RMID: they keep the
// segments alive until every task has attached them again. shmdt needs no
// namespace; the destructor detaches what is left (a failed restore).
class SysvHold {
 public:
  SysvHold() = default;
  SysvHold(SysvHold&& o) noexcept : addrs_(std::move(o.addrs_)) { o.addrs_.clear(); }
  SysvHold& operator=(SysvHold&&) = delete;
  ~SysvHold() { (void)release(); }
  void keep(void* addr) { addrs_.push_back(addr); }
  Status release();

 private:
  std::vector<void*> addrs_;
};

// Makes every object of `ipc` (see above). `msgmax`/`msgmnb` are raised in
// the namespace where a queue needs it; the caller writes the sysctls after.
Status create_sysv(const img::IpcNs& ipc, std::vector<image::PageReader>& pages, SysvHold& hold);

// The objects of the namespace are the image's: the same ids with the same
// keys, owners, modes, sizes, attach counts, semaphore values and message
// counts and bytes, and nothing else (in a thread of the namespace, after
// the rebuild and SysvHold::release).
Status verify_sysv(const img::IpcNs& ipc);

}  // namespace amber::kinds
