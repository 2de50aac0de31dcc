// Content of a filesystem the container owns (its tmpfs /tmp, /dev/shm):
// dumped entry by entry into an img::FsTree plus a raw data file, recreated
// inside the restored container before any fd is opened.
#pragma once
#include <cstdint>
#include <set>
#include <string>

#include "base/result.h"
#include "fs.pb.h"
#include "image/auth.h"

namespace amber::kinds {

// Walks `src` (e.g. "/proc/PID/root/tmp": the container's view) without
// following any symlink (the container controls them), appending file data to
// `data_fd` at `*data_offset`, and to `tags` (the data file's chunk tags, null
// in an untagged image) as it is written. Socket files are left out when a
// socket of the container is bound to them (`bound`: their (st_dev, inode);
// the restore's bind makes them again), refused otherwise (Exit::Unsupported).
using BoundSocketFiles = std::set<std::pair<uint64_t, uint64_t>>;
Result<img::FsTree> dump_fs_tree(const std::string& src, int data_fd, uint64_t* data_offset,
                                 image::ChunkStream* tags, const BoundSocketFiles* bound = nullptr);

// The same from the root of a mount (`root`: an fd of it, e.g. a detached
// copy of a mount the container shows; `shown` names it in errors).
Result<img::FsTree> dump_fs_tree_at(int root, const std::string& shown, int data_fd, uint64_t* data_offset,
                                    image::ChunkStream* tags, const BoundSocketFiles* bound = nullptr);

// Checks `tree` on its own before anything is created (Exit::BadInput naming
// the entry): paths relative, without "", ".", ".." components or NUL, each
// entry's directory an earlier directory entry, hard links to an earlier
// entry, known file types, and file data inside the data file's `data_size`
// bytes.
Status validate_fs_tree(const img::FsTree& tree, uint64_t data_size);

// Recreates `tree` under the empty directory `dst` (reached without a
// symlink): files with their data (read through the data file's chunk tags
// with `auth`, null in an untagged image, and each checked against its
// xxh3: a mismatch is Exit::BadInput), directories, symlinks, fifos, device
// nodes, hard links; modes, owners and times. The tree is validated again
// first, and every entry is made by *at() calls in its directory, found
// below `dst` without following any symlink or crossing a mount: a symlink
// of the tree is made, never followed (sys/resolve.h).
Status restore_fs_tree(const img::FsTree& tree, int data_fd, const image::ChunkAuth* auth, const std::string& dst);
// The same under the directory `dst` (an fd: the root of a mount just made).
Status restore_fs_tree_at(const img::FsTree& tree, int data_fd, const image::ChunkAuth* auth, int dst);

// The tmpfs mount data worth keeping from mountinfo's super options
// ("rw,size=1024k,nr_inodes=..,mode=1777,uid=0" -> "size=1024k,...").
std::string tmpfs_mount_data(const std::string& super_options);

}  // namespace amber::kinds
