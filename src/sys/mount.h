// The mount API by fd (fsopen/fsmount/open_tree/move_mount/mount_setattr):
// a mount is attached to a directory already opened (and checked) by the
// caller, never to a path looked up again, so a symlink swapped in
// meanwhile is never followed. Thin wrappers: no logging, no policy.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace amber::sys {

// One fsconfig(2) parameter: a value, or a flag when `value` is empty
// ("newinstance", "ro").
struct MountParam {
  std::string key, value;
};

// A new instance of `fstype` ("proc", "tmpfs", "devpts"), shown with
// `source`, configured with `params`, with per-mount MOUNT_ATTR_* `attrs`,
// not attached anywhere yet: its fd is the new mount's root.
Result<UniqueFd> fs_create(const std::string& fstype, const std::string& source, const std::vector<MountParam>& params,
                           uint64_t attrs);

// Attaches the detached mount `mnt` on `target` (an O_PATH fd is enough; a
// file for a mount over a file).
Status attach(int mnt, int target);

// fs_create + attach. Returns the new mount's root: *at() calls relative to
// it act inside the new mount.
Result<UniqueFd> mount_new(const std::string& fstype, const std::string& source, const std::vector<MountParam>& params,
                           uint64_t attrs, int target);

// A detached copy (open_tree OPEN_TREE_CLONE) of the mount at `path` below
// `dirfd` ("" for `dirfd` itself), with its submounts when `recursive`. The
// mount must be in the caller's mount namespace.
Result<UniqueFd> clone_tree(int dirfd, const std::string& path, bool recursive);

// A recursive bind of the directory `dir` onto itself (pivot_root needs its
// new root to be a mount point). Returns the bind's root.
Result<UniqueFd> bind_onto_itself(int dir);

// Per-mount attributes as /proc/PID/mountinfo's per-mount options show them
// ("ro,nosuid,nodev,relatime"): MOUNT_ATTR_* bits, MOUNT_ATTR_STRICTATIME
// when neither relatime nor noatime is listed. An option with no attribute
// (idmapped) is Exit::Unsupported naming it.
Result<uint64_t> parse_mount_attrs(std::string_view options);

// Sets exactly `attrs` (MOUNT_ATTR_* as parse_mount_attrs gives them) on the
// mount `mnt` alone (not its submounts): the others are cleared.
Status set_attrs(int mnt, uint64_t attrs);

// MS_PRIVATE, MS_SHARED, MS_SLAVE or MS_UNBINDABLE on the mount `mnt` alone.
Status set_propagation(int mnt, uint64_t ms_type);

// `to` joins the peer group of `from` (and gets its master): move_mount
// MOVE_MOUNT_SET_GROUP (5.15). `to` must be private, both the roots of
// mounts of one superblock, `from` shared or a slave.
Status copy_peer_group(int from, int to);

// A detached copy of the mount `mnt_id` at `path` in the mount namespace
// `mntns` (an nsfs fd): open_tree(OPEN_TREE_CLONE) accepts only mounts of the
// caller's namespace, so a child process joins it, clones the mount and
// hands it back (SCM_RIGHTS). Not recursive: the copy shows what is under
// the mount's own submounts. Exit::Unsupported when the mount at `path` is
// another one (`mnt_id` is hidden under a mount on top of it).
Result<UniqueFd> clone_mount_in_ns(int mntns, const std::string& path, int mnt_id);

}  // namespace amber::sys
