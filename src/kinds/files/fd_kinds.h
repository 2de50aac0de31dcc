// Internal to src/kinds/files: what fdtable.cpp knows of one fd while
// dumping, and the per-kind dump/open functions (one .cpp per kind).
#pragma once
#include <sys/stat.h>

#include <array>
#include <map>
#include <span>
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

// opath.cpp: O_PATH fds of any file type (before every other kind: an
// O_PATH fd of a FIFO or a device is no open of it).
bool is_opath(const FdProbe& p);
Status dump_opath(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);
Status verify_opath(const FdProbe& now, const img::Fd& fd);

// nsfs.cpp: fds of the holding task's own namespaces.
bool is_nsfs(const FdProbe& p);
Status dump_nsfs(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);
Status verify_nsfs(const FdProbe& now, const img::Fd& fd);

// pidfd.cpp: pidfds of tasks of the container (made by the controller
// later: restore_pidfds in fdtable.h).
bool is_pidfd(const FdProbe& p);
Status dump_pidfd(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);
Status verify_pidfd(const FdProbe& now, const img::Fd& fd);
struct OpenContext;
// mqueue.cpp: an fd of a POSIX message queue of the container's ipc
// namespace (opened again by name; the queue is the ipc namespace's).
bool is_mqueue(const FdProbe& p);
Status dump_mqueue(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);
Result<UniqueFd> open_mqueue(const img::Fd& fd, const OpenContext& ctx);
Status verify_mqueue(const FdProbe& now, const img::Fd& fd);

// external.cpp: descriptions declared external (FdDumpContext::externals):
// recorded by name only; the restore installs the one handed in to it.
bool is_declared_external(const FdProbe& p, const FdDumpContext& ctx);
bool is_external(const FdProbe& p);
Status dump_external(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);
struct OpenContext;
Result<UniqueFd> open_external(const img::Fd& fd, const OpenContext& ctx);
Status verify_external(const FdProbe& now, const img::Fd& fd);
// Once the ofd ids are assigned: all fds on one external share one
// description (the restore hands in one). Unsupported otherwise.
Status check_external_descriptions(const std::vector<TaskFds>& tasks);

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
// The same for a pipe whose read end is closed in every task (the seal
// check proved no outside task has it): peeked through a read end of our
// own opened from /proc/PID/fd/WRITE_FD.
Result<img::Pipe> dump_pipe_without_reader(uint64_t id, pid_t pid, const FdDumpContext& ctx, int write_fd,
                                           bool packet);
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

struct OpenContext;

// eventfd.cpp, signalfd.cpp, timerfd.cpp: their fdinfo read into the
// image's state (parse_*: BadInput for a line missing or malformed).
bool is_eventfd(const FdProbe& p);
Result<img::EventfdState> parse_eventfd(const sys::FdInfo& info);
Status dump_eventfd(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);
Result<UniqueFd> open_eventfd(const img::Fd& fd, const OpenContext& ctx);
Status verify_eventfd(const FdProbe& now, const img::Fd& fd);
bool is_signalfd(const FdProbe& p);
Result<img::SignalfdState> parse_signalfd(const sys::FdInfo& info);
Status dump_signalfd(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);
Result<UniqueFd> open_signalfd(const img::Fd& fd, const OpenContext& ctx);
Status verify_signalfd(const FdProbe& now, const img::Fd& fd);
// parse_timerfd: value_ns is fdinfo's time left, whatever the flags (the
// dump turns it into an absolute expiry for TFD_TIMER_ABSTIME).
bool is_timerfd(const FdProbe& p);
Result<img::TimerfdState> parse_timerfd(const sys::FdInfo& info);
Status dump_timerfd(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);
Result<UniqueFd> open_timerfd(const img::Fd& fd, const OpenContext& ctx);
Status verify_timerfd(const FdProbe& now, const img::Fd& fd);

// epoll.cpp: one line "tfd: N events: X data: Y pos:P ino:I sdev:D" of an
// epoll's fdinfo.
struct EpollWatch {
  int32_t tfd = -1;
  uint32_t events = 0;
  uint64_t data = 0;
  int64_t pos = 0;    // the target description's position
  uint64_t ino = 0;   // the target's inode
  uint32_t sdev = 0;  // the target's device
};
bool is_epoll(const FdProbe& p);
Result<std::vector<EpollWatch>> parse_epoll(const sys::FdInfo& info);
Status dump_epoll(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);
Result<UniqueFd> open_epoll(const img::Fd& fd, const OpenContext& ctx);
int install_rank_epoll(const img::Fd& fd, const img::Files& files);
Status after_install_epoll(const img::Fd& fd, const img::Files& files);
Status verify_epoll(const FdProbe& now, const img::Fd& fd);
// Once the ofd ids are assigned (link_fds): picks, for each epoll held by
// several tasks, the holder that adds its watches (EpollState.added_by).
// Unsupported: a watch whose target no single holder's fd table holds.
Status check_shared_epolls(std::vector<TaskFds>& tasks);
// inotify.cpp: an inotify instance with its watches (same wds), refused
// with unread events or a watch on a deleted file or one outside the root.
bool is_inotify(const FdProbe& p);
Status dump_inotify(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);
// One fdinfo "inotify" line's value ("wd:1 ino:.. sdev:.. mask:.. ...");
// path, dir and tmpfs are left for the dump to fill in.
Result<img::InotifyWatch> parse_inotify_watch(std::string_view value);
struct OpenContext;
Result<UniqueFd> open_inotify(const img::Fd& fd, const OpenContext& ctx);
// The restored fdinfo has the image's wds and masks, on the same inodes
// (but on a tmpfs, whose inodes the restore makes anew).
Status verify_inotify(const FdProbe& now, const img::Fd& fd);

// Moves `fd` to a number above `floor` (close-on-exec), so that installing
// the image's fds never lands on a temporary.
Result<UniqueFd> lift_fd(UniqueFd fd, int floor);

// tty.cpp: pty masters and slaves of the container's devpts.
bool is_pty(const FdProbe& p);
Status dump_pty(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);
// Once every task's fds are probed: the state of every pair (through its
// master and a slave), and the controlling terminal of each session
// leader. Unsupported: a slave whose master is not in the container.
Status link_ptys(std::vector<TaskFds>& tasks);
// The pair of `ends` (its master and slave descriptions, one fd each) made
// again with its state, in the calling process: ofd_id -> fd above `floor`.
Result<std::vector<std::pair<uint64_t, UniqueFd>>> create_pty(const std::vector<img::Fd>& ends, pid_t creator,
                                                              int floor);
// Only the console's slave is opened alone (from OpenContext.console_fd);
// any other pty end fails: it is made with its pair (create_pty).
struct OpenContext;
Result<UniqueFd> open_pty_end(const img::Fd& fd, const OpenContext& ctx);
Status verify_pty(const FdProbe& now, const img::Fd& fd);
// The state of a pair (termios, window size, packet/lock/exclusive, unread
// data both ways) through a master and, if >= 0, a slave fd; every queue
// read is put back before returning.
Status read_pair(int master, int slave, img::Tty& t);
// Puts termios, window size and the unread data of `t` on a new pair
// (slave: any fd of it; -1 if none and no data is for it).
Status put_pair_state(int master, int slave, const img::Tty& t);

// inet_socket.cpp (+ inet_sockopts.cpp, tcp_repair.cpp): TCP and UDP
// sockets of IPv4 and IPv6.
bool is_inet_socket(const FdProbe& p);
Status dump_inet_socket(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);
struct OpenContext;
Result<UniqueFd> open_inet_socket(const img::Fd& fd, const OpenContext& ctx);
Status verify_inet_socket(const FdProbe& now, const img::Fd& fd);

// What making one description again needs besides its Fd entry.
struct OpenContext {
  // The new container's log; `log_original`: this description gets log_fd
  // itself, the others a new open of it.
  int log_fd = -1;
  bool log_original = false;
  const UnlinkedMap* unlinked = nullptr;  // every unlinked file's content
  const MemfdFds* memfds = nullptr;       // the shared memory objects' fds
  PipeSet* pipes = nullptr;               // pipe and FIFO ends (nullptr: none may be opened)
  // The new console's slave (Fd.console); `console_original`: this
  // description gets a dup of it, the others a new open.
  int console_fd = -1;
  bool console_original = false;
};

Result<UniqueFd> open_opath(const img::Fd& fd, const OpenContext& ctx);
Result<UniqueFd> open_nsfs(const img::Fd& fd, const OpenContext& ctx);
Result<UniqueFd> open_pidfd_placeholder(const img::Fd& fd, const OpenContext& ctx);

// One kind of fd: how amber recognises it in /proc, what it records of it,
// and how a restoring task makes a description of it again. The table
// (fd_kinds.cpp) is the only place that lists the kinds; fdtable.cpp walks
// it for every fd. A kind's functions live in its own file.
struct FdKindOps {
  const char* name;  // for messages
  // The FdKind values its dump records (FD_UNSUPPORTED: an unused slot).
  std::array<img::FdKind, 2> kinds;
  bool (*match)(const FdProbe& p);
  // Fills in `out` (fd, flags, cloexec, pos are set already); Unsupported
  // for a shape of the kind amber cannot restore. Messages start with what
  // the fd is: the caller prefixes "task V: fd N".
  Status (*dump)(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out);
  // A new description, in the restoring task.
  Result<UniqueFd> (*open)(const img::Fd& fd, const OpenContext& ctx);
  // Optional: once the task's whole fd table is installed (a description
  // whose state refers to other fds of the table).
  Status (*after_install)(const img::Fd& fd, const img::Files& files) = nullptr;
  // Optional restore verification of the kind's own state: the restored
  // fd as probed from outside against the image.
  Status (*verify)(const FdProbe& now, const img::Fd& fd) = nullptr;
  // Optional: the order of after_install among the task's descriptions,
  // lowest first (an epoll watched by another epoll before the outer one).
  int (*install_rank)(const img::Fd& fd, const img::Files& files) = nullptr;

  bool records(img::FdKind k) const { return k != img::FD_UNSUPPORTED && (kinds[0] == k || kinds[1] == k); }
};

// Every kind amber restores, in match order (the first that matches an fd
// takes it).
std::span<const FdKindOps> fd_kind_table();
// The kind that takes this fd; nullptr: none (unsupported).
const FdKindOps* kind_of_probe(const FdProbe& p);
// The kind that restores this FdKind; nullptr: none.
const FdKindOps* kind_ops(img::FdKind k);

// Opens the description of `fd` through its kind (a pipe end through
// ctx.pipes).
Result<UniqueFd> open_description(const img::Fd& fd, const OpenContext& ctx);

}  // namespace amber::kinds::files
