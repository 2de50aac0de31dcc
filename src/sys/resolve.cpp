#include "sys/resolve.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace amber::sys {

namespace {

#ifndef SYS_fchmodat2
constexpr long SYS_fchmodat2 = 452;  // 6.6; glibc 2.36 does not name it
#endif

std::string shown(std::string_view path) { return path.empty() ? std::string(".") : std::string(path); }

}  // namespace

Result<UniqueFd> open_at(int dirfd, std::string_view path, int flags, uint64_t resolve, mode_t mode) {
  const std::string p(path.empty() ? "." : path);
  if (p.find('\0') != std::string::npos) return fail(Exit::BadInput, fmt::format("path '{}' holds a NUL byte", p));
  // open() ignores with O_PATH what openat2() refuses (EINVAL).
  if (flags & O_PATH) flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = resolve;
  long fd = -1;
  // EAGAIN: a rename or mount elsewhere raced the lookup (RESOLVE_IN_ROOT,
  // RESOLVE_BENEATH); the kernel asks for a retry.
  for (int i = 0; i < 16; i++) {
    fd = ::syscall(SYS_openat2, dirfd, p.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) break;
  }
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  const int e = errno;
  if (e == ELOOP && (resolve & (RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)))
    return sys_fail_errno(e, "open {}: a {}link on the way, which is not followed here", p,
                          (resolve & RESOLVE_NO_SYMLINKS) ? "sym" : "/proc magic ");
  if (e == EXDEV && (resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT | RESOLVE_NO_XDEV)))
    return sys_fail_errno(e, "open {}: it leads out of its tree{}", p,
                          (resolve & RESOLVE_NO_XDEV) ? " or across a mount" : "");
  return sys_fail_errno(e, "open {}", p);
}

Result<PathEntry> open_parent(int dirfd, std::string_view path, uint64_t resolve) {
  if (path.size() > 1 && path.ends_with('/')) return bad_input("path '{}' ends with '/'", path);
  const size_t slash = path.rfind('/');
  std::string_view dir = slash == std::string_view::npos ? std::string_view(".")
                         : slash == 0                    ? std::string_view("/")
                                                         : path.substr(0, slash);
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (name.empty() || name == "." || name == "..") return bad_input("path '{}' does not end with a name", shown(path));
  PathEntry e;
  e.dir = TRY(open_at(dirfd, dir, O_PATH | O_DIRECTORY, resolve));
  e.name = std::string(name);
  return e;
}

Result<UniqueFd> open_entry(const PathEntry& e) {
  int fd = ::openat(e.dir.get(), e.name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return sys_fail("open {}", e.name);
  return UniqueFd(fd);
}

Status chmod_fd(int fd, mode_t mode) {
  if (::syscall(SYS_fchmodat2, fd, "", mode, AT_EMPTY_PATH) == 0) return {};
  if (errno != ENOSYS) return sys_fail("chmod {:o}", mode);
  // The magic link reaches exactly the inode of `fd`.
  if (::chmod(fmt::format("/proc/self/fd/{}", fd).c_str(), mode) != 0) return sys_fail("chmod {:o}", mode);
  return {};
}

Status chown_fd(int fd, uid_t uid, gid_t gid) {
  if (::fchownat(fd, "", uid, gid, AT_EMPTY_PATH) != 0) return sys_fail("chown {}:{}", uid, gid);
  return {};
}

Status set_times_fd(int fd, const struct timespec times[2]) {
  if (::utimensat(fd, "", times, AT_EMPTY_PATH) != 0) return sys_fail("set times");
  return {};
}

}  // namespace amber::sys
