// The table of fd kinds (fd_kinds.h): one entry per kind, in match order.
// A new kind is a file of its own plus one entry here.
#include "kinds/files/fd_kinds.h"

#include <fcntl.h>

#include "base/files.h"
#include "kinds/files/unix_socket.h"

namespace amber::kinds::files {

namespace {

// The new container's log for one dumped description of the old one: the
// given description for the original one, a new open of it for the others
// (so separately opened stdout and stderr stay separate).
Result<UniqueFd> open_log(int log_fd, bool original) {
  if (log_fd < 0) return failf("the container's log is needed but none was given");
  if (original) {
    int d = ::fcntl(log_fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0) return sys_fail("dup container log");
    return UniqueFd(d);
  }
  return open_fd(fmt::format("/proc/self/fd/{}", log_fd), O_WRONLY | O_APPEND | O_CLOEXEC);
}

Result<UniqueFd> unlinked_of(const img::Fd& fd, const OpenContext& c) {
  auto it = c.unlinked ? c.unlinked->find(fd.ofd_id()) : UnlinkedMap::const_iterator{};
  if (!c.unlinked || it == c.unlinked->end())
    return bad_input("unlinked file {}: its content is not in the image", fd.path());
  return open_unlinked(fd, it->second);
}

Result<UniqueFd> open_file(const img::Fd& fd, const OpenContext& c) {
  if (fd.container_log()) return open_log(c.log_fd, c.log_original);
  // An unlinked file some task maps shared: the object of shmem.img.
  if (fd.unlinked() && fd.shmem_inode() != 0) return open_memfd(fd, c.memfds);
  if (fd.unlinked()) return unlinked_of(fd, c);
  return open_regular(fd);
}

Result<UniqueFd> open_device(const img::Fd& fd, const OpenContext& c) {
  if (fd.unlinked()) return unlinked_of(fd, c);
  return open_chardev(fd);
}

Result<UniqueFd> open_memfd_of(const img::Fd& fd, const OpenContext& c) { return open_memfd(fd, c.memfds); }

Result<UniqueFd> open_pipe_end(const img::Fd& fd, const OpenContext& c) {
  if (!c.pipes) return failf("a pipe end is not opened on its own");
  return c.pipes->open_end(fd);
}

constexpr img::FdKind kNone = img::FD_UNSUPPORTED;

// O_PATH first: an O_PATH fd of a FIFO or a device is not an open of it.
// memfds are regular files too: before regular files.
constexpr FdKindOps kTable[] = {
    {"declared external", {img::FD_EXTERNAL, kNone}, is_external, dump_external, open_external, nullptr,
     verify_external},
    {"O_PATH fd", {img::FD_OPATH, kNone}, is_opath, dump_opath, open_opath, nullptr, verify_opath},
    {"namespace", {img::FD_NSFS, kNone}, is_nsfs, dump_nsfs, open_nsfs, nullptr, verify_nsfs},
    {"pidfd", {img::FD_PIDFD, kNone}, is_pidfd, dump_pidfd, open_pidfd_placeholder, nullptr, verify_pidfd},
    {"pipe", {img::FD_PIPE, kNone}, is_pipe, dump_pipe_end, open_pipe_end},
    {"FIFO", {img::FD_FIFO, kNone}, is_fifo, dump_fifo_end, open_pipe_end},
    {"memfd", {img::FD_MEMFD, kNone}, is_memfd, dump_memfd, open_memfd_of},
    // Before "file": an mq fd looks like a regular file ("/NAME").
    {"POSIX message queue", {img::FD_MQUEUE, kNone}, is_mqueue, dump_mqueue, open_mqueue, nullptr, verify_mqueue},
    {"file", {img::FD_REGULAR, img::FD_DIRECTORY}, is_regular_kind, dump_regular, open_file},
    {"character device", {img::FD_CHARDEV, kNone}, is_supported_chardev, dump_chardev, open_device},
    {"eventfd", {img::FD_EVENTFD, kNone}, is_eventfd, dump_eventfd, open_eventfd, nullptr, verify_eventfd},
    {"timerfd", {img::FD_TIMERFD, kNone}, is_timerfd, dump_timerfd, open_timerfd, nullptr, verify_timerfd},
    {"signalfd", {img::FD_SIGNALFD, kNone}, is_signalfd, dump_signalfd, open_signalfd, nullptr, verify_signalfd},
    {"epoll", {img::FD_EPOLL, kNone}, is_epoll, dump_epoll, open_epoll, after_install_epoll, verify_epoll,
     install_rank_epoll},
    {"inotify", {img::FD_INOTIFY, kNone}, is_inotify, dump_inotify, open_inotify, nullptr, verify_inotify},
    {"pty", {img::FD_TTY, kNone}, is_pty, dump_pty, open_pty_end, nullptr, verify_pty},
    {"unix socket", {img::FD_UNIX_SOCKET, kNone}, is_unix_socket, dump_unix_socket, open_unix_socket, nullptr,
     verify_unix_socket},
    {"inet socket", {img::FD_INET_SOCKET, kNone}, is_inet_socket, dump_inet_socket, open_inet_socket, nullptr,
     verify_inet_socket},
};

}  // namespace

std::span<const FdKindOps> fd_kind_table() { return kTable; }

const FdKindOps* kind_of_probe(const FdProbe& p) {
  for (const FdKindOps& k : kTable)
    if (k.match(p)) return &k;
  return nullptr;
}

const FdKindOps* kind_ops(img::FdKind kind) {
  for (const FdKindOps& k : kTable)
    if (k.records(kind)) return &k;
  return nullptr;
}

Result<UniqueFd> open_description(const img::Fd& fd, const OpenContext& ctx) {
  const FdKindOps* k = kind_ops(fd.kind());
  if (!k) return unsupported("{} fds are not supported yet", img::FdKind_Name(fd.kind()));
  return k->open(fd, ctx);
}

}  // namespace amber::kinds::files
