// Regular files, directories and the container's log.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kinds/files/fd_kinds.h"
#include "kinds/task_misc.h"

namespace amber::kinds::files {

namespace {

// open() flags the kernel drops after the open (do_dentry_open) or that
// must not act again on restore.
constexpr int kNotReplayed = O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC;

bool is_log(const FdProbe& p, const FdDumpContext& ctx) {
  if (ctx.log_path.empty() || !S_ISREG(p.st.st_mode)) return false;
  struct stat log {};
  // Same file, not same name: a file of the container may be called like
  // the host's log, and the log may be reached by another path.
  return ::stat(ctx.log_path.c_str(), &log) == 0 && log.st_dev == p.st.st_dev && log.st_ino == p.st.st_ino;
}

}  // namespace

bool is_regular_kind(const FdProbe& p) { return S_ISREG(p.st.st_mode) || S_ISDIR(p.st.st_mode); }

Status dump_regular(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out) {
  if (is_log(p, ctx)) {
    out.set_kind(img::FD_REGULAR);
    out.set_container_log(true);
    out.set_path(p.link);  // for `amber show`; restore uses the new log
    return {};
  }
  if (p.link.starts_with("/memfd:")) return unsupported("{} (memfd): not supported yet", p.link);
  if (is_unlinked(p)) {
    // The name it had; the content is read once per file (collect_unlinked).
    std::string_view name = std::string_view(p.link).substr(0, p.link.size() - std::string_view(" (deleted)").size());
    out.set_kind(img::FD_REGULAR);
    out.set_unlinked(true);
    out.set_path(TRY(path_in_root(name, ctx.root)));
    return {};
  }
  // An open directory that was removed: nothing can be opened as it again
  // (rmdir'ed directories cannot be made and removed back into an fd).
  if (S_ISDIR(p.st.st_mode) && p.link.ends_with(" (deleted)"))
    return unsupported("{} (deleted directory): not supported yet", p.link);
  if (p.link.ends_with(" (deleted)")) return unsupported("{} (deleted file): not supported yet", p.link);
  out.set_kind(S_ISDIR(p.st.st_mode) ? img::FD_DIRECTORY : img::FD_REGULAR);
  out.set_path(TRY(path_in_root(p.link, ctx.root)));
  // A /proc/<pid>/ file is reopened by path inside the task at restore.
  TRY(check_proc_reopen(fmt::format("/proc/{}/fd/{}", ctx.pid, p.fd), out.path(), ctx.proc));
  return {};
}

Result<UniqueFd> open_regular(const img::Fd& fd, uint64_t resolve) {
  const bool dir = fd.kind() == img::FD_DIRECTORY;
  int flags = (static_cast<int>(fd.flags()) & ~kNotReplayed) | O_CLOEXEC | O_NOCTTY;
  // A file made with O_TMPFILE keeps __O_TMPFILE | O_DIRECTORY in its
  // f_flags (fdinfo): replayed, they would ask for a new temporary file in
  // "directory" PATH (ENOTDIR).
  if ((flags & O_TMPFILE) == O_TMPFILE) flags &= ~O_TMPFILE;
  UniqueFd f = TRY_CTX(sys::open_at(AT_FDCWD, fd.path(), flags, resolve), "flags {:#o}", flags);
  struct stat st {};
  if (::fstat(f.get(), &st) != 0) return sys_fail("fstat {}", fd.path());
  if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
    return failf("{} is no longer a {}", fd.path(), dir ? "directory" : "regular file");
  // An O_PATH fd has no position; a directory's is its readdir cookie.
  if (!(flags & O_PATH) && fd.pos() != 0 && ::lseek(f.get(), fd.pos(), SEEK_SET) != fd.pos())
    return sys_fail("lseek {} to {}", fd.path(), fd.pos());
  return f;
}

}  // namespace amber::kinds::files
