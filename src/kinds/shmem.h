// Memory shared between the container's processes: shared anonymous areas
// ("/dev/zero (deleted)": one shmem inode per mmap call, shared by fork)
// and memfds (mapped MAP_SHARED, or MAP_PRIVATE, or executed: the task's
// exe_file). Dump and restore side by side.
//
// Dump (after every task's mm is read, tasks still held): the areas with
// VMA_SHMEM of all tasks are grouped by the (dev, inode) the object had; each
// object is opened once through /proc/PID/map_files/START-END of its first
// holder and its content read from that fd — SEEK_DATA/SEEK_HOLE skip what
// was never written, pread moves big chunks — into a page store of its own
// (offsets instead of addresses). Written once, however many tasks map it.
//
// Restore: the controller creates every object itself before the fork phase
// (shared anonymous: an mmap(MAP_SHARED|MAP_ANONYMOUS) of its own, reopened
// through /proc/self/map_files and unmapped, so that the kernel still calls
// it "/dev/zero (deleted)"; memfd: memfd_create with its name, then its
// seals once the content is in), writes the content with pwrite (never
// through a mapping), and hands the fds to the init. Every restored process
// inherits them across its forks and keeps them through its fd-table rebuild;
// the controller finds them again in each task by inode (find_shmem_fds),
// maps them at the saved addresses and offsets (restore_mm), and closes them
// in the task. One object, one page cache: the tasks share the memory again.
#pragma once
#include <sys/types.h>

#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "files.pb.h"
#include "image/pages.h"
#include "image/reader.h"
#include "image/writer.h"
#include "kinds/mm.h"
#include "mm.pb.h"
#include "remote/remote_task.h"
#include "shmem.pb.h"

namespace amber::kinds {

// ---- dump ----

struct ShmemHolder {
  pid_t pid = 0;   // as amber sees it
  pid_t vpid = 0;  // for messages
  const img::Mm* mm = nullptr;
  // FD_MEMFD fds are objects too; unlinked files' fds of SHMEM_FILE objects
  // are marked as such (Fd.shmem_*) and lose their UnlinkedFile.
  img::Files* files = nullptr;
};

// Lists and copies every shared memory object the tasks map or hold as
// memfd fds (see above).
// The caller writes the result to image::shmem_path().
Result<img::SharedMemory> dump_shmem(const std::vector<ShmemHolder>& tasks, image::ImageWriter& image);

// ---- restore ----

struct ShmemPlan {
  img::SharedMemory meta;
  std::vector<image::PageReader> pages;  // one per object
  // SysV shm segments of the ipc namespace (kinds/ns/ipc_sysv.h), which the
  // areas attach by id: shm id -> size in bytes.
  std::map<uint64_t, uint64_t> sysv_sizes;
};

// Reads shmem.img (an image without one maps no shared memory) and checks
// every object's content against its size; nothing is created.
Result<ShmemPlan> read_shmem(const image::ImageReader& image);

// Every VMA_SHMEM area of `mm` maps an object of the plan, inside its size,
// and every FD_MEMFD fd of `files` is a memfd of the plan.
Status check_shmem_refs(const ShmemPlan& plan, const img::Mm& mm, const img::Files& files, pid_t vpid);

// (dev, inode) at dump time -> fd number, for the objects `fds` (create_shmem's
// order) as they are numbered in this process.
std::map<std::pair<uint64_t, uint64_t>, int> shmem_fd_map(const ShmemPlan& plan, const std::vector<int>& fds);

// The content of a shmem file (an fd of it) into its own page store, and
// back: what SysV shm segments use too (kinds/ns/ipc_sysv.h).
Status copy_shmem_content(int fd, uint64_t size, image::PageWriter& out, std::vector<std::byte>& buf);
Status write_shmem_content(int fd, uint64_t size, image::PageReader& pages);

// Creates every object with its content (the controller, before the fork
// phase); fds in the plan's order, close-on-exec.
Result<std::vector<UniqueFd>> create_shmem(ShmemPlan& plan);

// The fd numbers the objects have in the task `host_pid` (found by inode
// through /proc/PID/fd, above `top`: the task's own memfd fds, at the
// image's numbers, are the same inodes), keyed by the (dev, inode) the
// image knows them by.
Result<ShmemFds> find_shmem_fds(pid_t host_pid, const ShmemPlan& plan, const std::vector<UniqueFd>& objects, int top);

// In the init, once the container's tmpfs mounts exist and before it forks:
// makes each unlinked file (SHMEM_FILE) again at its name, with its owner,
// mode and content (from the controller's fd of it, `fds` in the plan's
// order), and puts it at that fd's number. Its name stays until
// take_shmem_files.
Status place_shmem_files(const ShmemPlan& plan, const std::vector<int>& fds);

// In the controller after the fork phase (no task runs): opens each file
// place_shmem_files made through the init's root, takes it as the object's
// fd (`objects`, create_shmem's order) and unlinks it.
Status take_shmem_files(const ShmemPlan& plan, std::vector<UniqueFd>& objects, pid_t init_host_pid);

// Closes them in the task once its areas are mapped.
Status close_shmem_fds(remote::RemoteTask& task, const ShmemFds& fds);

}  // namespace amber::kinds
