// O_PATH fds of any file type (a symbolic link itself with O_NOFOLLOW, a
// FIFO, a device node, a socket file, a regular file or directory): a
// location, not an open file. No I/O, no position, no owner, and a FIFO or
// device reached this way is not opened at all (no reader or writer of the
// FIFO, no driver open). Restored by opening the path again with O_PATH and
// the O_NOFOLLOW / O_DIRECTORY it had; the file type (and a device's number)
// must be what it was.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "kinds/files/fd_kinds.h"
#include "kinds/task_misc.h"

namespace amber::kinds::files {

namespace {

constexpr int kPathFlags = O_NOFOLLOW | O_DIRECTORY;

const char* type_word(mode_t type) {
  switch (type & S_IFMT) {
    case S_IFREG: return "regular file";
    case S_IFDIR: return "directory";
    case S_IFLNK: return "symbolic link";
    case S_IFIFO: return "FIFO";
    case S_IFCHR: return "character device";
    case S_IFBLK: return "block device";
    case S_IFSOCK: return "socket file";
    default: return "file";
  }
}

// Type and device number as the image has them, against what `st` is.
Status same_file_type(const struct stat& st, const img::Fd& fd) {
  const mode_t want = static_cast<mode_t>(fd.file_type());
  if ((st.st_mode & S_IFMT) != want)
    return failf("{} is a {} now, not a {}", fd.path(), type_word(st.st_mode), type_word(want));
  if ((S_ISCHR(want) || S_ISBLK(want)) && st.st_rdev != static_cast<dev_t>(fd.rdev()))
    return failf("{} is device {}:{} now, not {}:{}", fd.path(), major(st.st_rdev), minor(st.st_rdev),
                 major(fd.rdev()), minor(fd.rdev()));
  return {};
}

}  // namespace

bool is_opath(const FdProbe& p) { return (p.info.flags & O_PATH) != 0; }

Status dump_opath(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out) {
  if (!p.link.starts_with("/")) return unsupported("{} (O_PATH of a {}): not supported yet", p.link, type_word(p.st.st_mode));
  if (p.link.ends_with(" (deleted)"))
    return unsupported("{} (O_PATH of a deleted {}): not supported yet", p.link, type_word(p.st.st_mode));
  out.set_kind(img::FD_OPATH);
  out.set_path(TRY(path_in_root(p.link, ctx.root)));
  out.set_file_type(p.st.st_mode & S_IFMT);
  if (S_ISCHR(p.st.st_mode) || S_ISBLK(p.st.st_mode)) out.set_rdev(p.st.st_rdev);
  out.set_pos(0);
  return {};
}

Result<UniqueFd> open_opath(const img::Fd& fd, const OpenContext&) {
  const int flags = O_PATH | O_CLOEXEC | (static_cast<int>(fd.flags()) & kPathFlags);
  UniqueFd f = TRY_CTX(sys::open_at(AT_FDCWD, fd.path(), flags, sys::kTaskPath), "O_PATH flags {:#o}", flags);
  struct stat st {};
  if (::fstat(f.get(), &st) != 0) return sys_fail("fstat {}", fd.path());
  TRY(same_file_type(st, fd));
  return f;
}

Status verify_opath(const FdProbe& now, const img::Fd& fd) { return same_file_type(now.st, fd); }

}  // namespace amber::kinds::files
