// The one check of an image before a restore creates anything: `amber
// restore` runs it first, `amber show --verify` runs it alone. It covers the
// image on its own (its authentication with the key ImageReader::open was
// given: the inventory's tag, every metadata file's SHA-256, the tmpfs
// content's chunk tags; every file, header, checksum, message,
// cross-reference, page index; restore.plan.h) and what a restore would find on this host
// without creating anything: the container's rootfs, each task's root and
// cwd, its mapped files and executable, the files and FIFOs its fds open,
// that this kernel's vdso is the image's, and that no thread's credentials
// are above amber's own (kinds/creds.h). The rootfs must exist as recorded:
// a directory reached without a symlink, never "/".
// Every refusal is Exit::BadInput (or Exit::Unsupported for state this amber
// cannot restore) with one line naming the object.
#pragma once
#include "base/result.h"
#include "image/reader.h"
#include "restore/plan.h"

namespace amber::restore {

enum class PageData {
  Sizes,   // index against data file sizes; a restore checks the chunk
           // tags while it streams the pages (and rolls back on one)
  Stream,  // also reads every page store through its chunk tags
};

// `rootfs`: the container's rootfs on this host when not the one the image
// records (RestoreOptions.rootfs); the tree is checked there.
Result<Plan> check_image(const image::ImageReader& image, PageData pages, const std::string& rootfs = "");

// The mount the container's tasks see `path` on, nullptr if none: the
// deepest mount point above it among the mounts not hidden under another.
using Mounts = google::protobuf::RepeatedPtrField<img::Mount>;
const img::Mount* visible_mount(const Mounts& mounts, std::string_view path);

// Exposed for tests: a path of the container's tree as the image records it
// (absolute, no "", ".", ".." component, no NUL).
Status check_image_path(std::string_view path);

}  // namespace amber::restore
