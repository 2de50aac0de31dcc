// The mount API by fd (fsopen/fsmount/open_tree/move_mount): a mount is
// attached to a directory already opened (and checked) by the caller, never
// to a path looked up again, so a symlink swapped in meanwhile is never
// followed. Thin wrappers: no logging, no policy.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace amber::sys {

// One fsconfig(2) parameter: a value, or a flag when `value` is empty
// ("newinstance").
struct MountParam {
  std::string key, value;
};

// A new instance of `fstype` ("proc", "tmpfs", "devpts"), shown with
// `source`, configured with `params`, with per-mount MOUNT_ATTR_* `attrs`,
// attached on the directory `target` (an O_PATH fd is enough). Returns the
// new mount's root: *at() calls relative to it act inside the new mount.
Result<UniqueFd> mount_new(const std::string& fstype, const std::string& source, const std::vector<MountParam>& params,
                           uint64_t attrs, int target);

// A recursive bind of the directory `dir` onto itself (pivot_root needs its
// new root to be a mount point). Returns the bind's root.
Result<UniqueFd> bind_onto_itself(int dir);

}  // namespace amber::sys
