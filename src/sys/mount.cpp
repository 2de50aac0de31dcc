#include "sys/mount.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace amber::sys {

Result<UniqueFd> mount_new(const std::string& fstype, const std::string& source, const std::vector<MountParam>& params,
                           uint64_t attrs, int target) {
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
  if (::syscall(SYS_move_mount, mnt.get(), "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
    return sys_fail("attach {}", fstype);
  return mnt;
}

Result<UniqueFd> bind_onto_itself(int dir) {
  UniqueFd tree(static_cast<int>(
      ::syscall(SYS_open_tree, dir, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH)));
  if (!tree) return sys_fail("open_tree (bind)");
  if (::syscall(SYS_move_mount, tree.get(), "", dir, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
    return sys_fail("attach the bind");
  return tree;
}

}  // namespace amber::sys
