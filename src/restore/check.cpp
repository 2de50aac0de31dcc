#include "restore/check.h"
#include "restore/externals.h"

#include <algorithm>

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <map>
#include <string>

#include "base/files.h"
#include "container/init.h"
#include "container/log_image.h"
#include "kinds/creds.h"
#include "kinds/ns/fs_tree.h"
#include "kinds/ns/mounts.h"
#include "kinds/vdso.h"
#include "sys/procfs.h"
#include "sys/resolve.h"

namespace amber::restore {
namespace {

// What the restored container's tree will have at a path, found without
// creating anything: its file type, 0 if nothing is there, or unchecked.
struct Found {
  bool checked = true;
  mode_t type = 0;
};

std::string join_root(const std::string& root, const std::string& path) {
  if (root.empty() || root == "/") return path;
  if (path == "/") return root;
  return root + path;
}

bool under(std::string_view path, std::string_view mountpoint) {
  if (mountpoint == "/") return true;
  return path.starts_with(mountpoint) && (path.size() == mountpoint.size() || path[mountpoint.size()] == '/');
}

const char* type_name(mode_t type) {
  switch (type) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFLNK: return "a symlink";
    case S_IFIFO: return "a FIFO";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFSOCK: return "a socket";
    default: return "an unknown file type";
  }
}

// A mount stacked under another at the same mount point, or below a mount
// so covered: the host's /dev/shm under the container's /dev is in the
// container's table, but its tasks see amber's /dev/shm on top.
bool hidden(const Mounts& mounts, const img::Mount& m) {
  const img::Mount* cur = &m;
  const img::Mount* from = nullptr;  // the way up: standing on cur, it covers nothing we see
  for (int depth = 0; cur && depth < mounts.size(); ++depth) {
    for (const img::Mount& o : mounts)
      if (o.parent_id() == cur->mount_id() && o.mountpoint() == cur->mountpoint() && &o != cur && &o != from)
        return true;
    const img::Mount* parent = nullptr;
    for (const img::Mount& o : mounts)
      if (o.mount_id() == cur->parent_id() && &o != cur) parent = &o;
    from = cur;
    cur = parent;
  }
  return false;
}

}  // namespace

const img::Mount* visible_mount(const Mounts& mounts, std::string_view path) {
  const img::Mount* at = nullptr;
  for (const img::Mount& m : mounts)
    if (under(path, m.mountpoint()) && !hidden(mounts, m) && (!at || m.mountpoint().size() > at->mountpoint().size()))
      at = &m;
  return at;
}

namespace {

// The container's tree as a restore builds it: the rootfs (or the host's
// tree for a container without one, whose mounts are inherited by path),
// the dumped content of its own tmpfs mounts, and amber's /proc, /dev and
// /dev/pts, which are made fresh and not looked into.
class ContainerTree {
 public:
  static Result<ContainerTree> open(const Plan& plan) {
    ContainerTree t;
    t.plan_ = &plan;
    const std::string& rootfs = plan.container.rootfs();
    if (!rootfs.empty()) {
      TRY_CTX(check_image_path(rootfs), "the container's rootfs");
      // amber run records the host's tree as "" and a rootfs resolved
      // (realpath): "/" or a symlink on the way is no rootfs amber made.
      if (rootfs == "/") return bad_input("the container's rootfs is the host's root /: refused");
    }
    const std::string root = rootfs.empty() ? "/" : rootfs;
    auto fd = sys::open_at(AT_FDCWD, root, O_PATH | O_DIRECTORY, sys::kExact);
    if (!fd) {
      const int e = fd.error().sys_errno;
      if (e == ENOENT || e == ENOTDIR) return bad_input("the container's rootfs {} is not a directory on this host", root);
      if (e == ELOOP)
        return bad_input("the container's rootfs {} is reached through a symlink on this host (it must exist as "
                         "recorded)", root);
      return std::unexpected(std::move(fd.error()));
    }
    t.root_ = std::move(*fd);
    t.root_path_ = root;
    // The restore mounts on its mount points and creates nothing in a
    // rootfs (as amber run): a rootfs that lost one is bad input now, not a
    // late exit 1.
    if (!rootfs.empty()) TRY(kinds::check_rootfs_mount_points(plan.container.namespaces(), rootfs));
    for (const FsContent& fc : plan.fs) {
      auto& entries = t.trees_[fc.mount_id];
      for (const img::FsEntry& e : fc.tree.entries()) {
        mode_t type = e.mode() & S_IFMT;
        if (!e.hardlink_to().empty()) type = entries[e.hardlink_to()];  // validate_fs_tree: an earlier entry
        entries[e.path()] = type;
      }
    }
    return t;
  }

  Result<Found> find(const std::string& path) const {
    const img::Mount* at = visible_mount(plan_->container.namespaces().mounts(), path);
    if (at && !at->content().empty()) return in_tree(trees_.at(at->mount_id()), path, at->mountpoint());
    // New mounts (proc, devpts...) and binds are not looked into.
    if (at && at->how() != img::MOUNT_ROOT && at->how() != img::MOUNT_INHERITED) return Found{false};
    return on_host(path);
  }

  const std::string& root_path() const { return root_path_; }

 private:
  using Entries = std::map<std::string, mode_t>;

  static Found in_tree(const Entries& entries, std::string_view path, std::string_view mountpoint) {
    std::string rel(mountpoint == "/" ? path.substr(1) : path.substr(std::min(path.size(), mountpoint.size() + 1)));
    if (auto it = entries.find(rel); it != entries.end()) return Found{true, it->second};
    // Through a symlink of the tree: where it leads is not followed here.
    for (size_t slash = rel.find('/'); slash != std::string::npos; slash = rel.find('/', slash + 1))
      if (auto it = entries.find(rel.substr(0, slash)); it != entries.end() && it->second == S_IFLNK) return Found{false};
    return Found{true, 0};
  }

  // Resolved inside the container's root as its tasks would (symlinks
  // cannot lead out of it), without opening more than a path.
  Result<Found> on_host(const std::string& path) const {
    open_how how{};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    long fd = ::syscall(SYS_openat2, root_.get(), path.c_str(), &how, sizeof how);
    if (fd < 0) {
      if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return Found{true, 0};
      return sys_fail("look up {} under {}", path, root_path_);
    }
    UniqueFd f(static_cast<int>(fd));
    struct stat st {};
    if (::fstat(f.get(), &st) != 0) return sys_fail("stat {} under {}", path, root_path_);
    return Found{true, st.st_mode & S_IFMT};
  }

  const Plan* plan_ = nullptr;
  UniqueFd root_;
  std::string root_path_;
  std::map<uint32_t, Entries> trees_;  // by mount id
};

// `what` of task `pid` at `path` (absolute in the task's root `root`) must
// be of `type` in the restored tree.
Status expect(const ContainerTree& tree, pid_t pid, std::string_view what, const std::string& root,
              const std::string& path, mode_t type) {
  TRY_CTX(check_image_path(path), "task {}: {}", pid, what);
  const std::string full = join_root(root, path);
  Found f = TRY(tree.find(full));
  if (!f.checked || f.type == type) return {};
  std::string in = root.empty() || root == "/" ? "" : fmt::format(" (as {} in the task's root)", full);
  if (f.type == 0)
    return bad_input("task {}: {} {}{}: missing in the container's tree on this host (root {})", pid, what, path, in,
                     tree.root_path());
  return bad_input("task {}: {} {}{} is {} on this host, not {}", pid, what, path, in, type_name(f.type),
                   type_name(type));
}

bool mapped_from_path(const img::VmArea& a) {
  // Shared memory, memfds and deleted files come from the image, the vdso
  // and vsyscall from the kernel.
  constexpr uint32_t kNotByPath = img::VMA_SHMEM | img::VMA_MEMFD | img::VMA_FILE_DELETED | img::VMA_SYSVSHM |
                                  img::VMA_VDSO | img::VMA_VSYSCALL | img::VMA_UNSUPPORTED;
  return (a.flags() & img::VMA_FILE) && !(a.flags() & kNotByPath);
}

// What the fork phase and the rebuild of task `pid` open by path.
Status check_task_paths(const ContainerTree& tree, pid_t pid, const TaskPlan& t) {
  const std::string root = t.task.root().empty() ? "/" : t.task.root();
  TRY(expect(tree, pid, "root", "/", root, S_IFDIR));
  if (!t.task.cwd().empty()) TRY(expect(tree, pid, "cwd", root, t.task.cwd(), S_IFDIR));
  if (!t.mm.exe_path().empty() && t.mm.exe_shmem_inode() == 0)
    TRY(expect(tree, pid, "executable", root, t.mm.exe_path(), S_IFREG));
  for (const img::VmArea& a : t.mm.areas())
    if (mapped_from_path(a))
      TRY(expect(tree, pid, fmt::format("mapped file (area {:x}-{:x})", a.start(), a.end()), root, a.path(), S_IFREG));
  for (const img::Fd& fd : t.files.fds()) {
    if (fd.unlinked() || fd.container_log()) continue;  // their content is in the image
    const std::string what = fmt::format("fd {}", fd.fd());
    if (fd.kind() == img::FD_REGULAR) TRY(expect(tree, pid, what, root, fd.path(), S_IFREG));
    if (fd.kind() == img::FD_DIRECTORY) TRY(expect(tree, pid, what, root, fd.path(), S_IFDIR));
    // A device node missing at its path is opened at the device's usual one
    // (chardev.cpp): only the path's form is checked.
    if (fd.kind() == img::FD_CHARDEV) TRY_CTX(check_image_path(fd.path()), "task {}: {}", pid, what);
    // An epoll's watches are added from fds of the same table (epoll.cpp).
    for (const img::EpollTarget& e : fd.epoll().targets()) {
      if (fd.epoll().added_by() != 0) break;  // through another task's fds
      const bool held = std::any_of(t.files.fds().begin(), t.files.fds().end(),
                                    [&](const img::Fd& f) { return f.fd() == e.source_fd(); });
      if (fd.kind() != img::FD_EPOLL || e.tfd() < 0 || !held)
        return bad_input("task {}: {}: epoll watch of fd {} through fd {}, which is not in its table", pid, what,
                         e.tfd(), e.source_fd());
    }
  }
  for (const img::Pipe& p : t.files.pipes())
    if (!p.fifo_path().empty()) TRY(expect(tree, pid, fmt::format("FIFO of pipe {}", p.id()), root, p.fifo_path(), S_IFIFO));
  return {};
}

// Every page store once through its chunk checksums (what a restore checks
// while it streams them).
Status stream_pages(const image::ImageReader& image) {
  for (const img::FileEntry& f : image.inventory().files()) {
    if (f.kind() != img::KIND_PAGES_INDEX) continue;
    image::PageReader pages = TRY(image::PageReader::open(image, f.path()));
    TRY(pages.for_each_run([](uint64_t, std::span<const std::byte>) -> Status { return {}; }));
  }
  return {};
}

// The tmpfs content's data, through its chunk tags, before anything is
// created (the init reads it again through them while it restores it).
Status verify_fs_data(const Plan& plan) {
  for (const FsContent& fc : plan.fs) {
    if (!fc.data || !fc.auth) continue;
    image::TaggedReader r(fc.data.get(), fc.tree.data_size(), image::kChunkSize, &*fc.auth, fc.tree.chunk_tags(),
                          fc.tree.data_file());
    TRY_CTX(r.verify_all(), "content of {}", fc.tree.mountpoint());
  }
  return {};
}

}  // namespace

Status check_image_path(std::string_view path) {
  if (!path.starts_with('/')) return bad_input("path '{}' is not absolute", path);
  if (path.find('\0') != std::string_view::npos) return bad_input("path '{}' holds a NUL byte", path);
  if (path == "/") return {};
  for (auto part : split(path.substr(1), '/'))
    if (part.empty() || part == "." || part == "..")
      return bad_input("path '{}' has an empty, '.' or '..' component", path);
  return {};
}

Result<Plan> check_image(const image::ImageReader& image, PageData pages, const std::string& rootfs) {
  TRY(image.validate());
  Plan plan = TRY(read_plan(image));
  TRY(check_externals(plan));
  if (!rootfs.empty()) {
    if (plan.container.rootfs().empty())
      return bad_input("the image's container has no rootfs (it saw the host's tree): --rootfs {} does not apply",
                       rootfs);
    plan.container.set_rootfs(rootfs);
  }
  TRY(verify_fs_data(plan));
  if (plan.container.has_log())
    TRY(container::check_log(image, plan.container.log(), /*verify_data=*/pages == PageData::Stream));
  ContainerTree tree = TRY(ContainerTree::open(plan));
  const auto own_maps = TRY_CTX(sys::read_maps(::getpid()), "amber's own maps");
  const kinds::OwnCreds own = TRY(kinds::own_creds());
  for (const auto& [pid, t] : plan.tasks) {
    if (t.zombie()) continue;
    for (const img::Thread& th : t.task.threads()) TRY(kinds::check_creds_here(pid, th, own));
    TRY(check_task_paths(tree, pid, t));
    TRY(kinds::check_vdso_here(pid, t.mm, own_maps));
  }
  if (pages == PageData::Stream) TRY(stream_pages(image));
  return plan;
}

}  // namespace amber::restore
