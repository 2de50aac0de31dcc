// A task's fd table: dumped from outside (/proc/PID/fd + fdinfo, kcmp,
// pidfd_getfd), restored inside the task itself (plain C++ in the restored
// process, in its namespaces, before it stops for the controller).
//
// Supported kinds (one file each): regular files and directories, the
// container's log (regular.cpp); /dev/null, zero, full, random, urandom
// (chardev.cpp); pipes with their ends in any tasks of the container, unread
// data included (pipe.cpp); regular files open but unlinked, their content
// in the image (unlinked.cpp); memfds, which are objects of shmem.img like
// the memfds a task maps (memfd.cpp); eventfds, timerfds, signalfds and
// epolls with their watches (eventfd.cpp, timerfd.cpp, signalfd.cpp,
// epoll.cpp). Anything else is refused (Exit::Unsupported)
// naming the fd and what it is. Descriptions shared between processes:
// shared.h.
#pragma once
#include <sys/stat.h>
#include <sys/types.h>

#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "files.pb.h"
#include "kinds/task_misc.h"
#include "remote/remote_task.h"
#include "sys/procfs.h"

namespace amber::kinds {

// The container's console (`amber run --tty`): a pty of the host's devpts
// whose master amber's shim holds, the way the log is amber's. find_console.
struct ConsoleRef {
  pid_t holder = 0;         // the shim, as amber sees it
  int master_fd = -1;       // its fd of the master
  dev_t dev = 0, rdev = 0;  // the slave's st_dev (the host's devpts) and st_rdev
};

// The console whose master `shim` holds; nullopt: it holds none (no --tty,
// or the shim is gone).
Result<std::optional<ConsoleRef>> find_console(pid_t shim);

struct FdDumpContext {
  pid_t pid = 0;   // as amber sees it
  pid_t vpid = 0;  // in the container's pid namespace: "task VPID" in messages
  // Link text of /proc/PID/root: paths are stored relative to it.
  std::string root;
  // The container's log as amber reaches it (e.g. /run/amber/NAME/log); a
  // regular-file fd on that very file (same device and inode) is marked
  // container_log. Empty: none.
  std::string log_path;
  // Every task of the container: its pid as amber sees it -> its pid inside
  // (SIGIO owners of descriptions, owner.h). nullptr: none known.
  const std::map<pid_t, pid_t>* vpid_of = nullptr;
  // Which /proc/<pid>/ files the restore can reopen in this task.
  ProcReopen proc;
  // Slave fds of it are marked Fd.console. nullptr: the container has none.
  const ConsoleRef* console = nullptr;
  // The container's established TCP connections, read in repair mode all at
  // once (TcpRepairSession, kinds/files/inet_socket.h), by socket inode.
  // nullptr: not read (the blockers pass checks shapes only).
  const std::map<uint64_t, img::TcpConnection>* tcp = nullptr;
  // Listeners by inode: how many of their connections not accepted yet come
  // from clients of the container restored by connecting again.
  const std::map<uint64_t, uint32_t>* tcp_pending = nullptr;
  // This task's fds on a declared external (src/dump/externals.h): fd ->
  // SPEC. Recorded as FD_EXTERNAL, nothing of them dumped. nullptr: none.
  const std::map<int, std::string>* externals = nullptr;
  // false: the blockers pass, which peeks only the unix socket queues with
  // files in flight (to name the kinds amber cannot send again). A peek
  // marks a datagram of no bytes "peeked", and every later peek at an offset
  // skips a peeked empty datagram (__skb_try_recv_from_queue): the dump
  // proper would never see it (one found in such a queue is refused).
  bool read_queues = true;
};

// One fd of a dumped task, looked at from outside.
struct FdProbe {
  pid_t pid = 0;              // the holder, as amber sees it
  int fd = -1;
  std::string link;           // readlink /proc/PID/fd/N
  struct stat st {};          // stat through the link (the open file itself)
  sys::FdInfo info;           // /proc/PID/fdinfo/N
  long fs_type = 0;           // statfs f_type of a regular file's filesystem (else 0)
};

// A task's fd table as probed, before it is linked with the other tasks'.
struct TaskFds {
  FdDumpContext ctx;
  std::vector<FdProbe> probes;
  img::Files files;  // every fd classified; pipes and ofd ids not linked yet
};

class Blockers;

// Every fd of one task, classified (Unsupported for a kind amber cannot
// restore, naming the fd). With `blockers`, every unsupported fd is kept
// there (its entry FD_UNSUPPORTED) and the walk goes on.
Result<TaskFds> probe_fds(const FdDumpContext& ctx, Blockers* blockers = nullptr);

// Links the fd tables of all tasks of the container (process tree order):
// fds sharing an open file description, in one task or several, get the
// same ofd_id (kcmp KCMP_FILE: equal inode and position prove nothing):
// (vpid << 32) | (fd + 1) of the first fd met with it. Pipes are matched by
// inode across tasks; each is peeked once and listed in the files of the
// first task holding a read end. Unsupported: a pipe with an end missing
// from the container.
Status link_fds(std::vector<TaskFds>& tasks);

// probe_fds + link_fds of a single task.
Result<img::Files> dump_fds(const FdDumpContext& ctx);

// Fds of the shared memory objects (kinds/shmem.h) in the restoring
// process: (dev, inode) at dump time -> fd number. Memfd descriptions are
// opened from them.
using MemfdFds = std::map<std::pair<uint64_t, uint64_t>, int>;

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
  // The log description that gets `log_fd` itself; the others re-open the
  // log. 0: the first one met.
  uint64_t log_original = 0;
  // Descriptions an ancestor opened before forking this task (shared with
  // other tasks, see shared.h): ofd_id -> fd number (above every image fd).
  // Installed, never opened again; closed unless the image has them.
  const std::map<uint64_t, int>* inherited = nullptr;
  // Every pipe of the container by id; nullptr: the table's own pipes.
  const std::map<uint64_t, img::Pipe>* pipes = nullptr;
  // The highest fd number of any task: fds amber keeps stay above it.
  int top = -1;
  // Every unlinked file's content by ofd_id; nullptr: the table's own.
  const std::map<uint64_t, img::UnlinkedFile>* unlinked = nullptr;
  // The shared memory objects' fds (FD_MEMFD descriptions); nullptr: none.
  const MemfdFds* memfds = nullptr;
  // The new console's slave (Fd.console descriptions, as log_fd for the
  // log): `console_original` gets a dup of it, the others a new open.
  // Closed at the end like log_fd. -1: none.
  int console_fd = -1;
  uint64_t console_original = 0;
};

// Makes the calling process's fd table the image's: closes every fd that is
// neither in the image nor kept, then creates each description once and
// installs it at every fd number that shared it, with its flags, position
// and close-on-exec. Pipes are re-created with their unread data and size.
Status open_fds_in_child(const img::Files& files, const FdRestoreContext& ctx);

// The POSIX locks open_fds_in_child left for later (FileLock.after_mm: on
// files the container maps), taken by remote fcntl(F_SETLK) once the task's
// address space is rebuilt and no mapped file is opened or closed in it
// any more. Uses the executor's scratch area.
Status take_mapped_locks(remote::RemoteTask& task, const img::Files& files);

// pidfds (pidfd.cpp): pidfd_open of each FD_PIDFD's task run in `task` by
// the controller once every task exists, installed over the placeholders
// at its fd numbers. Needs the executor.
Status restore_pidfds(remote::RemoteTask& task, pid_t vpid, const img::Files& files);
// The session leader's controlling terminal (Tty.controlling), taken with
// TIOCSCTTY right after its setsid, before it forks the other members of
// its session: the pty pair is already among `inherited` (ofd_id -> fd),
// the console is `console_fd` (the new console's slave; -1: none).
Status take_controlling_tty(const img::Files& files, const std::map<uint64_t, int>& inherited, int console_fd);

// A new console in amber's process, with the image's pair state put back
// (termios, window size, unread data both ways), whatever amber's own
// stdin is; its slave opened with the flags of `original` (the console
// description that gets it, SharedFdsPlan.console_original). master: for
// the new shim; slave: handed to the tasks.
struct NewConsole {
  UniqueFd master, slave;
};
Result<NewConsole> make_console(const img::Fd& original);
// The foreground process group of the leader's controlling terminal, by
// remote ioctl(TIOCSPGRP) once every task exists (signals blocked: no
// SIGTTOU). Uses the executor's scratch area.
Status restore_tty_foreground(remote::RemoteTask& task, const img::Files& files);

// Restore verification: the rebuilt task `pid` has exactly the image's fd
// numbers, each with its description's flags, close-on-exec and (files,
// directories) position. Failed naming the task (`vpid`) and the fd.
Status verify_fds(pid_t pid, pid_t vpid, const img::Files& files);

}  // namespace amber::kinds
