// A task's address space: dump (areas, mm fields, page contents) and restore
// (the controller rebuilds it inside a stopped task through remote syscalls).
//
// Dump (mm_dump.cpp): /proc/PID/maps + smaps VmFlags classify every area.
// Private anonymous areas and private file mappings are supported; only the
// anonymous (written) pages of a file mapping go to the page store, the rest
// comes from the file again at restore. MAP_SHARED file mappings are mapped
// again from the file and never hold pages (the page cache is the file: the
// restore must never write it). Shared anonymous memory and memfds mapped
// MAP_SHARED are objects of their own (VMA_SHMEM, see shmem.h). [vvar],
// [vvar_vclock] and [vdso] are recorded (layout and an xxh3 of the vdso
// code), not filled; [vsyscall] is left alone. A memfd mapped privately
// (what execveat of a memfd leaves: the executable is then the memfd too,
// Mm.exe_shmem_*) maps its object of shmem.img, written pages in the page
// store as for a file. SysV shm, MAP_SHARED deleted
// files, io_uring rings, memfd_secret, device
// mappings, hugetlb, userfaultfd-registered areas, shadow stacks and guard regions are refused
// with Exit::Unsupported naming the area. Pages: PAGEMAP_SCAN finds present
// and swapped pages (holes and the zero page are skipped); the page store is
// laid out, then copy_workers() threads each read 2 MiB batches with one
// process_vm_readv (up to IOV_MAX iovecs; /proc/PID/mem for areas without
// PROT_READ) into a reused buffer, hash and write them at their place;
// stretches of zero pages stay holes of the file. Pages that are the very
// same physical pages as the parent task's (copy-on-write, kinds/mm_cow.h)
// are listed as the parent's instead (PagesIndex.parent_runs).
//
// Restore (mm_restore.cpp), in a task that is a fork of amber with the
// executor mapped (see pick_executor_addr):
//   validate the image (areas, runs, the store's size) and check the vdso
//   of this kernel is the dumping kernel's — all before the task is touched
//   (page checksums are checked as each chunk is copied, below);
//   unregister rseq; unmap everything but the executor and [vsyscall];
//   place the vdso (ARCH_MAP_VDSO_64); PR_SET_MM_MAP (mm fields, auxv, exe);
//   map every saved area (areas with pages writable while being filled;
//   an area the fork phase built for copy-on-write sharing, restore/cow.h,
//   is kept through the teardown and moved to its place with mremap);
//   copy_workers() threads read the page store a chunk at a time into
//   reused buffers, verify each chunk's checksum and copy it: private
//   anonymous memory by UFFDIO_COPY through a userfaultfd the task creates
//   (holes of the store skipped), the written pages of private file
//   mappings by process_vm_writev after the task populated them;
//   mprotect to the saved protection; mseal what was sealed;
//   then (restore_mm_locks) mlock2 the locked areas, mlockall(MCL_FUTURE).
// VM_LOCKED/VM_LOCKONFAULT ("lo", "lf") and MAP_DROPPABLE ("dp": mapped so
// again, its pages never dumped) are kept per area; mlockall(MCL_FUTURE)'s
// mm->def_flags, which /proc does not show, is read from a probe page the
// dump maps (and unmaps) in the task.
// A failure after the teardown leaves the task unusable: the caller kills it.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "base/progress.h"
#include "base/result.h"
#include "kinds/blockers.h"
#include "image/pages.h"
#include "mm.pb.h"
#include "remote/remote_task.h"
#include "sys/procfs.h"

namespace amber::kinds {

// Dumps the address space of the stopped task into `mm` and `pages` (the
// caller finishes the PageWriter and sets mm.pages_index to its index path).
// The task's own executor, if one is mapped, is not part of the dump.
// `progress` (may be null) learns the bytes to copy and those copied.
// `parent` (host pid, 0 if none): a held task of the container that forked
// this one; the pages of a private anonymous area that are the very same
// physical pages as the parent's at that address (copy-on-write since the
// fork, compared by pagemap PFN) are recorded as the parent's
// (PagesIndex.parent_runs) instead of being stored again.
Result<img::Mm> dump_mm(remote::RemoteTask& task, image::PageWriter& pages, Progress* progress = nullptr,
                        pid_t parent = 0);

// Every area of task `pid` (`vpid` inside the container) that dump_mm would
// refuse, each kept in `out` ("task VPID: mapping ...") — for the one report
// of everything that blocks a dump (dump/blockers.h). Reads /proc only.
Status find_area_blockers(pid_t pid, pid_t vpid, Blockers& out);

// An address where `size` bytes are free both in the image's layout and in
// the task's current layout (with a margin on each side, so the executor
// neither merges with a neighbour nor sits in a stack's guard gap). 0 if
// there is none. `size` may be an upper bound of the executor's size.
uint64_t pick_executor_addr(const img::Mm& saved, const std::vector<sys::VmArea>& current, size_t size);

// Checks the image's description of an address space against itself and its
// page store (areas ordered and inside user space, every page run inside an
// area that holds pages, nothing unsupported): Exit::BadInput or
// Exit::Unsupported. Touches no task; restore_mm calls it first.
Status validate_mm(const img::Mm& mm, const image::PageReader& pages);

// The fds of the shared memory objects (shmem.h) in one task: (dev, inode)
// as the image's areas know them -> fd number in the task.
using ShmemFds = std::map<std::pair<uint64_t, uint64_t>, int>;

// SysV shm segments of the restored ipc namespace: shm id -> size in bytes.
using SysvSizes = std::map<uint64_t, uint64_t>;

// Copy-on-write sharing with the parent task (mm_cow.h): the page stores of
// the task's ancestors, the parent's first, which hold the pages its
// PagesIndex.parent_runs lists.
struct CowRestore {
  std::vector<const image::PageReader*> ancestors;
  // Areas the fork phase built, filled and shared (restore/cow.h): kept
  // through the teardown, moved from `slot` to their place, not filled.
  struct Premapped {
    uint64_t start, end, slot;
  };
  std::vector<Premapped> premapped;  // ascending
  const Premapped* find(uint64_t start) const {
    for (const Premapped& p : premapped)
      if (p.start == start) return &p;
    return nullptr;
  }
};

// Rebuilds `mm` in the task (see the header comment). The task must have an
// executor mapped at an address free in `mm`; `shmem` has an fd for every
// object its VMA_SHMEM areas map, and `sysv` every segment its VMA_SYSVSHM
// areas attach (made in the task's ipc namespace beforehand).
// `progress` (may be null) learns the bytes copied.
Status restore_mm(remote::RemoteTask& task, const img::Mm& mm, image::PageReader& pages, const ShmemFds& shmem,
                  Progress* progress = nullptr, const SysvSizes& sysv = {}, const CowRestore& cow = {});

// After restore_mm: locks the areas that were mlock()ed again (VMA_LOCKED,
// VMA_LOCKONFAULT) and puts back mlockall(MCL_FUTURE [| MCL_ONFAULT]).
// Nothing may be mapped in the task afterwards (it would be locked too).
Status restore_mm_locks(remote::RemoteTask& task, const img::Mm& mm);

// The rebuilt /proc/PID/maps equals the image's areas (addresses, perms,
// paths and names), ignoring [executor_base, executor_base+executor_size).
// Adjacent areas the kernel merges when they are mapped again are compared
// merged on both sides.
Status verify_mm(pid_t pid, const img::Mm& mm, uint64_t executor_base, uint64_t executor_size);
// Restore verification: each area's smaps VmFlags that restore recreates
// (VmArea.vm_flags, completeness.h) are the image's. `vpid` for messages.
Status verify_vmflags(pid_t pid, pid_t vpid, const img::Mm& mm);

}  // namespace amber::kinds
