// A task's fd table: dumped from outside (/proc/PID/fd + fdinfo, kcmp,
// pidfd_getfd), restored inside the task itself (plain C++ in the restored
// process, in its namespaces, before it stops for the controller).
//
// Supported kinds (one file each): regular files and directories, the
// container's log (regular.cpp); /dev/null, zero, full, random, urandom
// (chardev.cpp); pipes with both ends in the task, unread data included
// (pipe.cpp). Anything else is refused (Exit::Unsupported) naming the fd and
// what it is.
#pragma once
#include <sys/types.h>

#include <span>
#include <string>

#include "base/result.h"
#include "files.pb.h"

namespace amber::kinds {

struct FdDumpContext {
  pid_t pid = 0;   // as amber sees it
  pid_t vpid = 0;  // in the container's pid namespace: "task VPID" in messages
  // Link text of /proc/PID/root: paths are stored relative to it.
  std::string root;
  // The container's log as amber reaches it (e.g. /run/amber/NAME/log); a
  // regular-file fd on that very file (same device and inode) is marked
  // container_log. Empty: none.
  std::string log_path;
};

// Every fd of the task. Fds sharing an open file description get the same
// ofd_id (found with kcmp KCMP_FILE: equal inode and position prove
// nothing); every description gets one: (vpid << 32) | (its lowest fd + 1).
Result<img::Files> dump_fds(const FdDumpContext& ctx);

struct FdRestoreContext {
  pid_t vpid = 0;  // for messages
  // Fds of the restoring process to keep open (e.g. the sync pipe to the
  // controller). Each is moved above the image's highest fd first, and the
  // number is updated in place (close-on-exec kept).
  std::span<int> keep;
  // The new container's log, open O_WRONLY | O_APPEND: fds marked
  // container_log get it (one description per dumped description). Closed
  // at the end unless it is also in `keep`. -1: none (an fd marked
  // container_log is then an error).
  int log_fd = -1;
};

// Makes the calling process's fd table the image's: closes every fd that is
// neither in the image nor kept, then creates each description once and
// installs it at every fd number that shared it, with its flags, position
// and close-on-exec. Pipes are re-created with their unread data and size.
Status open_fds_in_child(const img::Files& files, const FdRestoreContext& ctx);

}  // namespace amber::kinds
