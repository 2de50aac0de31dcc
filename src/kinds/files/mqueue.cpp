// POSIX message queue fds (mq_open): an fd of the ipc namespace's mqueue
// filesystem (S_IFREG, link "/NAME": without this kind it would pass for a
// regular file of the container's root). The queues themselves, with their
// attributes and messages, are dumped and restored with the ipc namespace
// (kinds/ns/ipc_mqueue.h); an fd records the queue's name and its
// description's flags (O_RDONLY/O_WRONLY/O_RDWR, O_NONBLOCK).
//
// Dump: the fd's queue must be the one of that name in the container's own
// ipc namespace (same device and inode through a detached mount of the
// namespace's mqueue filesystem): a queue removed with mq_unlink while
// still open (link "/NAME (deleted)") is in no directory, and its messages
// could not be read: refused by name. mq_notify registrations are refused
// with the queue (ipc_mqueue.cpp).
//
// Restore: the queues exist before the fork phase (the init makes them, in
// the new ipc namespace, before it forks); the restoring task opens the
// queue by name with mq_open, which uses the calling task's ipc namespace's
// internal mqueue mount (no mount of the container's is needed). Verify:
// the restored fd is an mqueue fd of the same name (flags are compared by
// the fd table).
#include <fcntl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kinds/files/fd_kinds.h"
#include "kinds/ns/ipc_mqueue.h"

#ifndef MQUEUE_MAGIC
#define MQUEUE_MAGIC 0x19800202
#endif

namespace amber::kinds::files {

namespace {

constexpr std::string_view kDeleted = " (deleted)";

// "/NAME" -> "NAME"; empty for anything else.
std::string queue_name(std::string_view link) {
  if (!link.starts_with('/') || link.size() < 2) return {};
  link.remove_prefix(1);
  if (link.find('/') != std::string_view::npos) return {};
  return std::string(link);
}

bool valid_name(const std::string& n) { return !n.empty() && n.size() <= 255 && n.find('/') == std::string::npos && n != "." && n != ".."; }

// mq_open hands its flags to dentry_open, which keeps them as the
// description's f_flags but these (do_dentry_open); O_CREAT would make a
// queue.
constexpr uint32_t kNotKept = O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC;

}  // namespace

bool is_mqueue(const FdProbe& p) { return S_ISREG(p.st.st_mode) && p.fs_type == MQUEUE_MAGIC; }

Status dump_mqueue(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out) {
  if (p.link.ends_with(kDeleted))
    return unsupported("POSIX message queue {}: removed with mq_unlink while open: not supported yet", p.link);
  const std::string name = queue_name(p.link);
  if (!valid_name(name)) return unsupported("POSIX message queue fd with link '{}': not supported", p.link);
  if ((p.info.flags & O_ACCMODE) == O_ACCMODE)
    return bad_input("POSIX message queue {}: access mode {:o}", p.link, p.info.flags & O_ACCMODE);
  if (!TRY_CTX(mqueue_is_linked(ctx.pid, name, p.st.st_dev, p.st.st_ino), "POSIX message queue {}", p.link))
    return unsupported("POSIX message queue {} (mq_open fd): not the queue of that name in the container's ipc "
                       "namespace (removed, or of another namespace): not supported",
                       p.link);
  out.set_kind(img::FD_MQUEUE);
  out.set_mq_name(name);
  out.set_pos(0);
  return {};
}

Result<UniqueFd> open_mqueue(const img::Fd& fd, const OpenContext&) {
  if (!valid_name(fd.mq_name())) return bad_input("fd {}: POSIX message queue name '{}'", fd.fd(), fd.mq_name());
  const uint32_t flags = fd.flags() & ~kNotKept;
  if ((flags & O_ACCMODE) == O_ACCMODE) return bad_input("fd {}: POSIX message queue access mode 3", fd.fd());
  // The raw call takes the name without its "/" (glibc strips it).
  int raw = static_cast<int>(::syscall(SYS_mq_open, fd.mq_name().c_str(), static_cast<int>(flags | O_CLOEXEC), 0, nullptr));
  if (raw < 0) return sys_fail("mq_open(/{})", fd.mq_name());
  return UniqueFd(raw);
}

Status verify_mqueue(const FdProbe& now, const img::Fd& fd) {
  if (!is_mqueue(now)) return failf("not a POSIX message queue fd ({})", now.link);
  if (queue_name(now.link) != fd.mq_name())
    return failf("POSIX message queue {}, the image has /{}", now.link, fd.mq_name());
  return {};
}

}  // namespace amber::kinds::files
