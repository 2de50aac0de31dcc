// Paths taken from an image, resolved so that they cannot lead out of the
// tree they belong to: openat2(2) with RESOLVE_* flags, then *at() calls on
// the directory found, never following the last component. No logging, no
// policy: the caller picks the flags (below) for where the path comes from.
#pragma once
#include <linux/openat2.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/unique_fd.h"

namespace amber::sys {

// A path a restored task opens itself (its fds, cwd, root, mapped files), in
// the container's mount namespace after pivot_root and chroot: an absolute
// path and ".." already stop at the task's root. What could leave it is a
// /proc magic link (/proc/PID/fd/N, /proc/PID/root, /proc/PID/cwd, /dev/fd/N)
// to an object opened elsewhere (the restore's own fds, the host's tree):
// refused. An image records the target of such a link, never the link.
inline constexpr uint64_t kTaskPath = RESOLVE_NO_MAGICLINKS;
// A path below `dirfd` as if `dirfd` were "/": ".." and absolute symlinks
// stay under it (RESOLVE_IN_ROOT), no magic link.
inline constexpr uint64_t kInRoot = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
// Every component a real directory entry below `dirfd`: no symlink at all
// (an absolute path or ".." above `dirfd` is EXDEV).
inline constexpr uint64_t kNoLinks = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
// A tree amber fills itself in a fresh filesystem: kNoLinks, and no mount
// crossed (nothing in it can be a mount point).
inline constexpr uint64_t kOwnTree = kNoLinks | RESOLVE_NO_XDEV;
// A path from "/" of the caller that must be exactly as recorded: no symlink
// in any component (the recorded rootfs, a tmpfs mount point).
inline constexpr uint64_t kExact = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

// openat2(dirfd, path, flags | O_CLOEXEC, mode, resolve). ELOOP and EXDEV
// (a symlink, a magic link, a mount or a way out that `resolve` forbids)
// say so in the message; a rename elsewhere (EAGAIN) is retried.
Result<UniqueFd> open_at(int dirfd, std::string_view path, int flags, uint64_t resolve, mode_t mode = 0);

// The directory holding the last component of `path`, opened O_PATH under
// `dirfd` with `resolve`, and that component, on which the caller acts with
// *at() calls that do not follow it (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW,
// AT_EMPTY_PATH on an O_PATH | O_NOFOLLOW open of it). The component must be
// a name: "", "." and ".." are refused (Exit::BadInput).
struct PathEntry {
  UniqueFd dir;
  std::string name;
};
Result<PathEntry> open_parent(int dirfd, std::string_view path, uint64_t resolve);

// The entry itself, without following it: O_PATH | O_NOFOLLOW.
Result<UniqueFd> open_entry(const PathEntry& e);

// chmod of what `fd` (an O_PATH fd too) refers to: fchmod refuses O_PATH
// fds, fchmodat2(AT_EMPTY_PATH) (6.6) does not; before it, /proc/self/fd.
Status chmod_fd(int fd, mode_t mode);
// chown and times of what `fd` refers to (a symlink itself for an O_PATH |
// O_NOFOLLOW fd of one).
Status chown_fd(int fd, uid_t uid, gid_t gid);
Status set_times_fd(int fd, const struct timespec times[2]);

}  // namespace amber::sys
