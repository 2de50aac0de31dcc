#include "sys/mount.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "base/files.h"
#include "sys/fd_pass.h"

namespace amber::sys {

Result<UniqueFd> fs_create(const std::string& fstype, const std::string& source, const std::vector<MountParam>& params,
                           uint64_t attrs) {
  UniqueFd fs(static_cast<int>(::syscall(SYS_fsopen, fstype.c_str(), FSOPEN_CLOEXEC)));
  if (!fs) return sys_fail("fsopen({})", fstype);
  if (::syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_STRING, "source", source.c_str(), 0) != 0)
    return sys_fail("{}: source {}", fstype, source);
  for (const MountParam& p : params) {
    long r = p.value.empty() ? ::syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_FLAG, p.key.c_str(), nullptr, 0)
                             : ::syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_STRING, p.key.c_str(), p.value.c_str(), 0);
    if (r != 0) return sys_fail("{}: option {}{}{}", fstype, p.key, p.value.empty() ? "" : "=", p.value);
  }
  if (::syscall(SYS_fsconfig, fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    return sys_fail("{}: create", fstype);
  UniqueFd mnt(static_cast<int>(::syscall(SYS_fsmount, fs.get(), FSMOUNT_CLOEXEC, attrs)));
  if (!mnt) return sys_fail("fsmount({})", fstype);
  return mnt;
}

Status attach(int mnt, int target) {
  if (::syscall(SYS_move_mount, mnt, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
    return sys_fail("attach the mount");
  return {};
}

Result<UniqueFd> mount_new(const std::string& fstype, const std::string& source, const std::vector<MountParam>& params,
                           uint64_t attrs, int target) {
  UniqueFd mnt = TRY(fs_create(fstype, source, params, attrs));
  TRY_CTX(attach(mnt.get(), target), "{}", fstype);
  return mnt;
}

Result<UniqueFd> clone_tree(int dirfd, const std::string& path, bool recursive) {
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0u) |
                   (path.empty() ? AT_EMPTY_PATH : 0u) | AT_SYMLINK_NOFOLLOW;
  UniqueFd tree(static_cast<int>(::syscall(SYS_open_tree, dirfd, path.c_str(), flags)));
  if (!tree) return sys_fail("open_tree (bind{})", path.empty() ? "" : " of " + path);
  return tree;
}

Result<UniqueFd> bind_onto_itself(int dir) {
  UniqueFd tree = TRY(clone_tree(dir, "", /*recursive=*/true));
  TRY_CTX(attach(tree.get(), dir), "bind");
  return tree;
}

Result<uint64_t> parse_mount_attrs(std::string_view options) {
  uint64_t attrs = MOUNT_ATTR_STRICTATIME;
  for (std::string_view o : split(options, ',')) {
    if (o == "rw" || o.empty()) continue;
    if (o == "ro") attrs |= MOUNT_ATTR_RDONLY;
    else if (o == "nosuid") attrs |= MOUNT_ATTR_NOSUID;
    else if (o == "nodev") attrs |= MOUNT_ATTR_NODEV;
    else if (o == "noexec") attrs |= MOUNT_ATTR_NOEXEC;
    else if (o == "nodiratime") attrs |= MOUNT_ATTR_NODIRATIME;
    else if (o == "nosymfollow") attrs |= MOUNT_ATTR_NOSYMFOLLOW;
    else if (o == "relatime") attrs = (attrs & ~MOUNT_ATTR__ATIME) | MOUNT_ATTR_RELATIME;
    else if (o == "noatime") attrs = (attrs & ~MOUNT_ATTR__ATIME) | MOUNT_ATTR_NOATIME;
    else return unsupported("per-mount option '{}' is not supported", o);
  }
  return attrs;
}

Status set_attrs(int mnt, uint64_t attrs) {
  mount_attr a{};
  a.attr_set = attrs;
  a.attr_clr = (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC | MOUNT_ATTR__ATIME |
                MOUNT_ATTR_NODIRATIME | MOUNT_ATTR_NOSYMFOLLOW);
  if (::syscall(SYS_mount_setattr, mnt, "", AT_EMPTY_PATH, &a, sizeof a) != 0) return sys_fail("mount_setattr");
  return {};
}

Status set_propagation(int mnt, uint64_t ms_type) {
  mount_attr a{};
  a.propagation = ms_type;
  if (::syscall(SYS_mount_setattr, mnt, "", AT_EMPTY_PATH, &a, sizeof a) != 0)
    return sys_fail("mount_setattr (propagation)");
  return {};
}

Status copy_peer_group(int from, int to) {
  if (::syscall(SYS_move_mount, from, "", to, "", MOVE_MOUNT_SET_GROUP | MOVE_MOUNT_F_EMPTY_PATH |
                                                      MOVE_MOUNT_T_EMPTY_PATH) != 0)
    return sys_fail("move_mount (set group)");
  return {};
}

namespace {

// What the child of clone_mount_in_ns answers before the fd (if any).
struct CloneAnswer {
  int err = 0;       // errno of the failed step, 0 if none
  int step = 0;      // which step failed
  int found_id = 0;  // the mount id found at the path
};
constexpr const char* kSteps[] = {"", "join the mount namespace", "open the mount point", "statx", "open_tree"};

// The child: only system calls (it was forked from a process that may have
// other threads).
[[noreturn]] void clone_child(int sock, int mntns, const char* path, int mnt_id) {
  CloneAnswer a;
  int tree = -1;
  auto fail_at = [&](int step) { a.err = errno, a.step = step; };
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC | O_NOFOLLOW;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  struct statx sx {};
  if (::setns(mntns, CLONE_NEWNS) != 0) {
    fail_at(1);
  } else if (int at = static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how)); at < 0) {
    fail_at(2);
  } else if (::statx(at, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) != 0) {
    fail_at(3);
  } else if (static_cast<int>(sx.stx_mnt_id) != mnt_id) {
    a.found_id = static_cast<int>(sx.stx_mnt_id);
  } else if ((tree = static_cast<int>(::syscall(SYS_open_tree, at, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                                                                          AT_EMPTY_PATH))) < 0) {
    fail_at(4);
  }
  ::_exit(send_with_fd(sock, &a, sizeof a, tree) == static_cast<ssize_t>(sizeof a) ? 0 : 1);
}

}  // namespace

Result<UniqueFd> clone_mount_in_ns(int mntns, const std::string& path, int mnt_id) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return sys_fail("socketpair");
  UniqueFd mine(sv[0]), theirs(sv[1]);
  pid_t child = ::fork();
  if (child < 0) return sys_fail("fork");
  if (child == 0) clone_child(theirs.get(), mntns, path.c_str(), mnt_id);
  theirs.reset();
  CloneAnswer a;
  auto got = recv_with_fd(mine.get(), &a, sizeof a);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!got) return std::unexpected(std::move(got.error()).wrap(fmt::format("clone mount {}", path)));
  if (got->bytes != sizeof a) return failf("clone mount {}: the child answered {} bytes", path, got->bytes);
  UniqueFd tree = std::move(got->fd);
  if (a.err != 0) return sys_fail_errno(a.err, "clone mount {}: {}", path, kSteps[a.step]);
  if (a.found_id != 0)
    return unsupported("mount {} at {} is hidden under mount {} on top of it: not supported", mnt_id, path,
                       a.found_id);
  if (!tree) return failf("clone mount {}: no fd came back", path);
  return tree;
}

}  // namespace amber::sys
