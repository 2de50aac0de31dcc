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

namespace amber::kinds::files {

// One fd of the dumped task, looked at from outside.
struct FdProbe {
  int fd = -1;
  std::string link;           // readlink /proc/PID/fd/N
  struct stat st {};          // stat through the link (the open file itself)
  sys::FdInfo info;           // /proc/PID/fdinfo/N
};

// The flags of a description as restore passes them to open()/F_SETFL:
// fdinfo's flags without O_CLOEXEC, which is per fd (Fd.cloexec).
uint32_t description_flags(const FdProbe& p);

// regular.cpp: regular files, directories, the container's log.
bool is_regular_kind(const FdProbe& p);
Status dump_regular(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);
// Opens path with the description's flags at its position (not for
// container_log fds: fdtable.cpp hands those the new log).
Result<UniqueFd> open_regular(const img::Fd& fd);

// chardev.cpp: the harmless character devices (/dev/null, zero, full,
// random, urandom).
bool is_supported_chardev(const FdProbe& p);
Status dump_chardev(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);
Result<UniqueFd> open_chardev(const img::Fd& fd);

// pipe.cpp
bool is_pipe(const FdProbe& p);
// Fills out.pipe for every pipe fd and adds one Files.pipes entry per pipe
// (size, unread data peeked through a pidfd_getfd copy of a read end).
// Unsupported when a pipe has an end outside this task.
Status dump_pipes(const std::vector<FdProbe>& probes, const FdDumpContext& ctx, int pidfd, img::Files& out);
// The restored pipes, by id: both ends created, size set, data written back.
class PipeSet {
 public:
  // Ends are kept above `floor` (the image's highest fd).
  static Result<PipeSet> create(const img::Files& files, pid_t vpid, int floor);
  // A description of one end for `fd`: the pipe's own end the first time,
  // a fresh open of /proc/self/fd/END for another description of that end.
  Result<UniqueFd> open_end(const img::Fd& fd);

 private:
  struct Ends {
    UniqueFd read, write;
    bool read_used = false, write_used = false;
  };
  std::map<uint64_t, Ends> pipes_;
  int floor_ = -1;
};

// Moves `fd` to a number above `floor` (close-on-exec), so that installing
// the image's fds never lands on a temporary.
Result<UniqueFd> lift_fd(UniqueFd fd, int floor);

}  // namespace amber::kinds::files
