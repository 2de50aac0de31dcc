// Internal to src/kinds/files: what fdtable.cpp knows of one fd while
// dumping, and the per-kind dump/open functions (one .cpp per kind).
#pragma once
#include <sys/stat.h>

#include <map>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "files.pb.h"
#include "kinds/files/fdtable.h"
#include "sys/procfs.h"
#include "sys/resolve.h"

namespace amber::kinds::files {

using kinds::FdProbe;

// The flags of a description as restore passes them to open()/F_SETFL:
// fdinfo's flags without O_CLOEXEC, which is per fd (Fd.cloexec).
uint32_t description_flags(const FdProbe& p);

// regular.cpp: regular files, directories, the container's log.
bool is_regular_kind(const FdProbe& p);
Status dump_regular(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);
// Opens path with the description's flags at its position (not for
// container_log fds: fdtable.cpp hands those the new log). The path is the
// image's, opened by the restoring task itself (sys::kTaskPath: no /proc
// magic link); unlinked.cpp reopens a file it made through /proc/self/fd
// with `resolve` 0.
Result<UniqueFd> open_regular(const img::Fd& fd, uint64_t resolve = sys::kTaskPath);

// unlinked.cpp: regular files open but unlinked (content in the image), and
// unlinked nodes of the harmless character devices (made again by mknod).
using UnlinkedMap = std::map<uint64_t, img::UnlinkedFile>;  // by ofd_id
bool is_unlinked(const FdProbe& p);  // a regular file or a character device
// Reads the content of every unlinked file once (after the ofd ids are
// assigned) into the files of the first task holding it. Unsupported: one
// unlinked file behind several descriptions, or too big.
Status collect_unlinked(std::vector<TaskFds>& tasks);
// A new file with the content, unlinked again, opened as `fd` describes.
Result<UniqueFd> open_unlinked(const img::Fd& fd, const img::UnlinkedFile& u);

// memfd.cpp: an fd of a memfd (its content is an object of shmem.img).
bool is_memfd(const FdProbe& p);
Status dump_memfd(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);
// Marks memfd_original the first O_RDWR description of each memfd (see
// memfd.cpp), once the ofd ids are assigned.
void mark_memfd_originals(std::vector<TaskFds>& tasks);
// A new description of the object, from this process's fd of it.
Result<UniqueFd> open_memfd(const img::Fd& fd, const MemfdFds* memfds);

// chardev.cpp: the harmless character devices (/dev/null, zero, full,
// random, urandom).
bool is_supported_chardev(const FdProbe& p);
bool is_harmless_chardev(dev_t rdev);
Status dump_chardev(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);
Result<UniqueFd> open_chardev(const img::Fd& fd);

// locks.cpp: file locks (POSIX, OFD, flock) held through a regular file's
// description. Unsupported: leases; a lock on any other kind of fd.
Result<std::vector<img::FileLock>> parse_fd_locks(const sys::FdInfo& info);
// Records the locks fdinfo shows for this fd (after its kind is set).
Status dump_locks(const FdProbe& p, img::Fd& out);
// Marks after_mm the POSIX locks on files some task of the container maps
// (the restore opens and closes mapped files inside the tasks, which would
// drop them: the controller takes those later, take_mapped_locks).
Status mark_mapped_locks(std::vector<TaskFds>& tasks);
// "POSIX write lock on bytes 0-9", for messages.
std::string lock_text(const img::FileLock& l);
// Takes fd's locks again but the after_mm ones, through fd.fd() of the
// calling process (once its whole table is installed: closing any other fd
// of the file afterwards would drop a POSIX lock). Fails if another process
// holds a conflicting one.
Status take_locks(const img::Fd& fd);

// mqueue.cpp: an fd of a POSIX message queue (refused by name for now).
bool is_mqueue(const FdProbe& p, pid_t pid);
Status dump_mqueue(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);

// pipe.cpp
bool is_pipe(const FdProbe& p);
// Named pipes: FD_FIFO ends (O_RDWR too), the same Pipe entries with
// fifo_path set.
bool is_fifo(const FdProbe& p);
Status dump_fifo_end(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);
// Size and data of a FIFO no task of the container reads: peeked through
// our own read end, opened from `fd` of task `pid`.
Result<img::Pipe> dump_fifo_without_reader(uint64_t id, pid_t pid, const FdDumpContext& ctx, int fd);
// Marks a pipe fd: kind, pipe id (its inode), which end. Unsupported for an
// end opened read-write.
Status dump_pipe_end(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);
// Size and unread data of pipe `id` (tee() through a pidfd_getfd copy of
// read end `read_fd` of the task behind `pidfd`, nothing consumed).
// `packet`: some end is O_DIRECT (data then refused: boundaries would be lost).
Result<img::Pipe> dump_pipe(uint64_t id, int pidfd, const FdDumpContext& ctx, int read_fd, bool packet);
// The restored pipes, by id: both ends created, size set, data written back.
class PipeSet {
 public:
  // Ends are kept above `floor` (the image's highest fd).
  static Result<PipeSet> create(const std::vector<const img::Pipe*>& pipes, pid_t vpid, int floor);
  // A description of one end for `fd`: the pipe's own end the first time,
  // a fresh open of /proc/self/fd/END for another description of that end.
  Result<UniqueFd> open_end(const img::Fd& fd);

 private:
  Status add_fifo(const img::Pipe& p, pid_t vpid);
  struct Ends {
    UniqueFd keeper;  // FIFOs: an O_RDWR open holding the pipe
    UniqueFd read, write;
    bool read_used = false, write_used = false;
  };
  std::map<uint64_t, Ends> pipes_;
  int floor_ = -1;
};

// Moves `fd` to a number above `floor` (close-on-exec), so that installing
// the image's fds never lands on a temporary.
Result<UniqueFd> lift_fd(UniqueFd fd, int floor);

// A new description for `fd` (not a pipe end): the container's log
// (`original`: log_fd itself, else a new open of it), a memory device, an
// unlinked file (its content in `unlinked`), a memfd (from `memfds`) or a regular file or directory
// at its position.
Result<UniqueFd> open_description(const img::Fd& fd, int log_fd, bool original, const UnlinkedMap* unlinked,
                                  const MemfdFds* memfds);

}  // namespace amber::kinds::files
