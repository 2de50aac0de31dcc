// The container's mount table at dump time, sorted into what the restore
// recreates (the mounts amber's own containers get: /proc, /dev, /dev/pts,
// /dev/shm, /tmp, and the rootfs bind), what it inherits from the host by
// path (a container without a rootfs sees the host's tree), and what it
// cannot recreate yet (refused, exit 4).
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "base/result.h"
#include "ns.pb.h"
#include "sys/procfs.h"

namespace amber::kinds {

enum class MountRole {
  Standard,   // made by amber's container set-up: recreated the same way
  OwnTmpfs,   // a standard tmpfs whose content is dumped (/tmp, /dev/shm)
  Inherited,  // the same mount as the host's at the same path: external bind by path
};

struct ClassifiedMount {
  img::Mount mount;
  MountRole role = MountRole::Standard;
};

// `container`: the init's mountinfo; `host`: amber's own (the host's view);
// `rootfs`: the container's rootfs on the host ("" for none).
Result<std::vector<ClassifiedMount>> classify_mounts(const std::vector<sys::MountInfo>& container,
                                                     const std::vector<sys::MountInfo>& host,
                                                     const std::string& rootfs);

// The mount table of `init`'s mount namespace, checked (optional fields:
// completeness.h) and classified against amber's own (the host's view):
// what the dump records, and what the blocker scan looks at.
Result<std::vector<ClassifiedMount>> classify_task_mounts(pid_t init, const std::string& rootfs);

// A tmpfs whose content the container owns (/tmp, /dev/shm): the restore
// mounts it fresh and fills it; no other mount point may have content.
bool is_own_tmpfs(std::string_view mountpoint);

// Restore side: every inherited mount must still be there on this host (same
// mount point, same filesystem type); a missing one is Exit::BadInput naming it.
Status check_inherited_mounts(const img::Namespaces& ns, const std::vector<sys::MountInfo>& host);

// Restore verification: the restored init's mount table has exactly the
// image's mount points, each with its filesystem type and per-mount options
// (ro, nosuid, nodev, noexec, atime), compared as sets (the order they are
// mounted in may differ). `restored`: the init's mountinfo.
Status verify_mounts(const std::vector<sys::MountInfo>& restored, const img::Namespaces& ns);

}  // namespace amber::kinds
