// The character devices any container has and that hold no state:
// /dev/null, zero, full, random, urandom (major 1, "mem" devices).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <array>

#include "kinds/files/fd_kinds.h"
#include "kinds/task_misc.h"

namespace amber::kinds::files {

namespace {

struct MemDev {
  unsigned minor;
  const char* path;
};
constexpr std::array<MemDev, 5> kDevices = {
    {{3, "/dev/null"}, {5, "/dev/zero"}, {7, "/dev/full"}, {8, "/dev/random"}, {9, "/dev/urandom"}}};
constexpr unsigned kMemMajor = 1;

const MemDev* find_device(dev_t rdev) {
  if (major(rdev) != kMemMajor) return nullptr;
  for (const MemDev& d : kDevices)
    if (minor(rdev) == d.minor) return &d;
  return nullptr;
}

}  // namespace

bool is_harmless_chardev(dev_t rdev) { return find_device(rdev) != nullptr; }

bool is_supported_chardev(const FdProbe& p) { return S_ISCHR(p.st.st_mode) && find_device(p.st.st_rdev); }

Status dump_chardev(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out) {
  out.set_kind(img::FD_CHARDEV);
  out.set_rdev(p.st.st_rdev);
  if (is_unlinked(p)) {
    // A node of its own, unlinked while open (its mode and owner are its
    // own, not /dev/null's): made again by mknod (unlinked.cpp).
    std::string_view name = std::string_view(p.link).substr(0, p.link.size() - std::string_view(" (deleted)").size());
    out.set_unlinked(true);
    out.set_path(TRY(path_in_root(name, ctx.root)));
    out.set_pos(0);
    return {};
  }
  // The device is what counts: a node reached outside the task's root
  // (opened before a chroot) is re-opened by its usual name.
  auto path = path_in_root(p.link, ctx.root);
  out.set_path(path ? *path : find_device(p.st.st_rdev)->path);
  // Their position means nothing (always 0 for null/zero/full).
  out.set_pos(0);
  return {};
}

Result<UniqueFd> open_chardev(const img::Fd& fd) {
  const MemDev* dev = find_device(static_cast<dev_t>(fd.rdev()));
  if (!dev) return unsupported("character device {}:{}: not supported yet", major(fd.rdev()), minor(fd.rdev()));
  const int flags =
      (static_cast<int>(fd.flags()) & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC)) | O_CLOEXEC | O_NOCTTY;
  std::string path = fd.path();
  auto opened = sys::open_at(AT_FDCWD, path, flags, sys::kTaskPath);
  if (!opened && opened.error().sys_errno == ENOENT && path != dev->path) {
    path = dev->path;
    opened = sys::open_at(AT_FDCWD, path, flags, sys::kTaskPath);
  }
  UniqueFd f = TRY_CTX(std::move(opened), "flags {:#o}", flags);
  struct stat st {};
  if (::fstat(f.get(), &st) != 0) return sys_fail("fstat {}", path);
  if (!S_ISCHR(st.st_mode) || st.st_rdev != static_cast<dev_t>(fd.rdev()))
    return failf("{} is not character device {}:{}", path, major(fd.rdev()), minor(fd.rdev()));
  return f;
}

}  // namespace amber::kinds::files
