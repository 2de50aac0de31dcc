// A container's mount table: dumped as a list of recipes (img::Mount.how),
// in the order the restore makes them again, and rebuilt in a new mount
// namespace before any task runs.
//
// What a container runtime builds (runc, podman, `amber run --rootfs`):
//   MOUNT_ROOT       the rootfs (a plain directory or an overlayfs), reached
//                    by pivot_root: a bind of its host path
//   MOUNT_NEW        proc, sysfs, tmpfs (content dumped: /dev with its nodes
//                    and links, /dev/shm, /tmp...), devpts, mqueue
//   MOUNT_BIND       a bind of an earlier mount of the container: masked
//                    paths (/dev/null over a file), read-only paths
//                    (/proc/sys on itself, ro)
//   MOUNT_HOST       a bind of a host path, declared external (runc's
//                    ext_mnt, `--external mount:PATH`)
//   MOUNT_INHERITED  a container without a rootfs sees the host's tree: its
//                    mounts are the host's, checked by path at restore
// with per-mount flags and propagation (peer groups and slaves inside the
// container). Anything else is refused by name at dump (Exit::Unsupported).
// Dump side: mounts_dump.cpp; restore side: mounts_restore.cpp.
#pragma once
#include <sys/types.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/faults.h"
#include "base/result.h"
#include "image/auth.h"
#include "image/writer.h"
#include "kinds/ns/fs_tree.h"
#include "fs.pb.h"
#include "ns.pb.h"
#include "sys/procfs.h"

namespace amber::kinds {

// Whose container, and what its caller knows of it.
struct MountScope {
  // amber run without --rootfs: the container's tree is a copy of the host's
  // (its mounts are MOUNT_INHERITED, amber's own on top).
  bool host_tree = false;
  // The container's root on the host, when the caller knows it (amber's
  // state, runc's `root`): the root mount must be a bind of it. "" finds it
  // from the root mount (the host's mount of the same filesystem).
  std::string rootfs;
  // Mount points (inside the container) declared external: binds of host
  // paths the restore is given again (`--external mount:PATH`, runc's
  // ext_mnt keys).
  std::set<std::string> externals;
};

// The recipes for `container` (the init's mountinfo, optional fields
// checked), against `host` (amber's own mountinfo: the host's view), in the
// order the restore makes them. Content is not read here.
Result<std::vector<img::Mount>> plan_mounts(const std::vector<sys::MountInfo>& container,
                                            const std::vector<sys::MountInfo>& host, const MountScope& scope);

// plan_mounts on the live mount table of `init`'s mount namespace: what the
// dump records, and what the blocker scan looks at. Any container init pid.
Result<std::vector<img::Mount>> plan_task_mounts(pid_t init, const MountScope& scope);

// The whole mount table of `init` into `ns.mounts`, with the content of
// every tmpfs it makes (KIND_FS_TREE + KIND_FS_DATA files in `image`): each
// one is read through a detached copy of that mount alone, made in the
// container's mount namespace (what its submounts hide is content too: the
// mount points /dev/pts, /dev/shm). `bound`: socket files a bind of the
// container makes again (fs_tree.h).
Status dump_mounts(pid_t init, const MountScope& scope, const BoundSocketFiles& bound, image::ImageWriter& image,
                   Faults& faults, img::Namespaces& ns);

// Restore side.

// The image's mount list on its own, before anything is created
// (Exit::BadInput naming the mount): every mount has a recipe of a kind this
// amber makes, the root first, each mount after its parent and its bind
// source, paths absolute, parameters of the filesystem's own, a peer group's
// first member holding the others' roots. Older images (no recipes) are
// Exit::Unsupported.
Status validate_mounts(const img::Namespaces& ns);

// The mount points the restore needs in the rootfs (those of mounts right on
// the root) exist there and are no symlinks: Exit::BadInput naming one.
Status check_rootfs_mount_points(const img::Namespaces& ns, const std::string& rootfs);

// Every inherited mount must still be there on this host (same mount point,
// same filesystem type); a missing one is Exit::BadInput naming it.
Status check_inherited_mounts(const img::Namespaces& ns, const std::vector<sys::MountInfo>& host);

// The content a MOUNT_NEW tmpfs gets, by the image's mount id.
struct MountContent {
  const img::FsTree* tree = nullptr;
  int data_fd = -1;
  const image::ChunkAuth* auth = nullptr;  // null in an untagged image
};

// Where the restore takes what is not in the image.
struct MountSources {
  std::string rootfs;  // MOUNT_ROOT: the container's root on this host
  // External name ("mount:/data") -> host path; absent: the recorded one.
  std::map<std::string, std::string> externals;
};

// In the restored init, in its new mount namespace: the image's mounts made
// again in order (each tmpfs filled before anything is mounted on it), then
// pivot_root into the root (detaching the host's tree), then propagation.
// The caller's cwd ends at the new "/".
Status build_mounts(const img::Namespaces& ns, const MountSources& sources,
                    const std::map<uint32_t, MountContent>& content);

// Restore verification: the restored init's mount table (`restored`, its
// mountinfo) has exactly the image's mounts: at each mount point, in order,
// the same filesystem type, root, per-mount options, filesystem parameters
// and propagation (peer groups and masters matched one to one).
Status verify_mounts(const std::vector<sys::MountInfo>& restored, const img::Namespaces& ns);

// The tmpfs mounts of amber's own layout whose content belongs to the
// container (/tmp, /dev/shm): where a unix socket's file is made again by
// its bind (kinds/files/unix_socket.cpp).
bool is_own_tmpfs(std::string_view mountpoint);

}  // namespace amber::kinds
