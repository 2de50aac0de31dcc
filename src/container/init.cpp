#include "container/init.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>

#include "base/unique_fd.h"
#include "container/command.h"
#include "sys/mount.h"
#include "sys/resolve.h"

namespace amber::container {

namespace {

Status wait_for_go(int fd) {
  char c = 0;
  ssize_t n;
  do n = ::read(fd, &c, 1);
  while (n < 0 && errno == EINTR);
  if (n < 0) return sys_fail("wait for amber run");
  if (n == 0) return failf("amber run gave up before the command started");
  return {};
}

// Before anything is mounted: on systemd hosts "/" is shared, and our mounts
// would propagate to the host (and the host's into the container).
Status make_mounts_private() {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return sys_fail("make mounts private");
  return {};
}

// A mount point in the user's tree (or the host's), found below the root
// without following a symlink (sys::kNoLinks): never made by amber
// (check_mount_points checked it before; checked again here in case it
// changed since), and mounted on by fd, so nothing swapped in afterwards is
// followed either. A file too (a masked path).
Result<UniqueFd> mount_point(int root, const std::string& name) {
  return TRY_CTX(sys::open_at(root, name, O_PATH, sys::kNoLinks), "mount point /{}", name);
}

// Whether `name` below `root` exists (reached without a symlink).
bool exists(int root, const std::string& name) { return static_cast<bool>(sys::open_at(root, name, O_PATH, sys::kNoLinks)); }

Status mount_at(int root, const std::string& name, const std::string& fstype, const std::string& source,
                const std::vector<sys::MountParam>& params, uint64_t attrs) {
  UniqueFd at = TRY(mount_point(root, name));
  TRY_CTX(sys::mount_new(fstype, source, params, attrs, at.get()), "mount {} on /{}", fstype, name);
  return {};
}

struct DevNode {
  const char* name;
  unsigned major, minor;
};
constexpr DevNode kDevNodes[] = {
    {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};
constexpr std::pair<const char*, const char*> kDevLinks[] = {
    {"fd", "/proc/self/fd"},         {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"},   {"ptmx", "pts/ptmx"},
};

// A directory of amber's own in the fresh /dev (shm, pts, mqueue), its
// mode past the umask.
Result<UniqueFd> make_dir(int dev, const char* name, mode_t mode) {
  if (::mkdirat(dev, name, mode) != 0) return sys_fail("mkdir /dev/{}", name);
  if (::fchmodat(dev, name, mode, 0) != 0) return sys_fail("chmod /dev/{}", name);
  UniqueFd fd(::openat(dev, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return sys_fail("open /dev/{}", name);
  return fd;
}

// /dev of its own, as OCI runtimes make it: device nodes made here (not
// binds of the host's), links to /proc/self/fd, a devpts instance of its own
// with /dev/ptmx leading to it, /dev/shm and /dev/mqueue (the ipc
// namespace's queues). Everything is made relative to the new tmpfs's root
// fd. Returns it (masked paths bind its null).
Result<UniqueFd> mount_dev(int root) {
  UniqueFd at = TRY(mount_point(root, "dev"));
  UniqueFd dev = TRY_CTX(sys::mount_new("tmpfs", "tmpfs", {{"mode", "755"}, {"size", "65536k"}},
                                        MOUNT_ATTR_NOSUID | MOUNT_ATTR_STRICTATIME, at.get()),
                         "mount tmpfs on /dev");
  for (const DevNode& n : kDevNodes) {
    if (::mknodat(dev.get(), n.name, S_IFCHR | 0666, makedev(n.major, n.minor)) != 0)
      return sys_fail("mknod /dev/{}", n.name);
    if (::fchmodat(dev.get(), n.name, 0666, 0) != 0) return sys_fail("chmod /dev/{}", n.name);
  }
  for (const auto& [name, target] : kDevLinks)
    if (::symlinkat(target, dev.get(), name) != 0) return sys_fail("symlink /dev/{}", name);
  UniqueFd pts = TRY(make_dir(dev.get(), "pts", 0755));
  TRY_CTX(sys::mount_new("devpts", "devpts", {{"newinstance", ""}, {"ptmxmode", "0666"}, {"mode", "0620"}, {"gid", "5"}},
                         MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, pts.get()),
          "mount devpts on /dev/pts");
  UniqueFd shm = TRY(make_dir(dev.get(), "shm", 01777));
  TRY_CTX(sys::mount_new("tmpfs", "shm", {{"mode", "1777"}, {"size", "65536k"}},
                         MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, shm.get()),
          "mount tmpfs on /dev/shm");
  UniqueFd mq = TRY(make_dir(dev.get(), "mqueue", 01777));
  TRY_CTX(sys::mount_new("mqueue", "mqueue", {}, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, mq.get()),
          "mount mqueue on /dev/mqueue");
  return dev;
}

// runc's defaults (its `runc spec`): what of the kernel a container must not
// read or change. A path the kernel does not have is skipped.
constexpr const char* kMaskedPaths[] = {
    "proc/acpi",        "proc/asound", "proc/kcore",       "proc/keys",       "proc/latency_stats",
    "proc/timer_list",  "proc/timer_stats", "proc/sched_debug", "proc/scsi", "sys/firmware",
};
// runc's read-only paths but /proc/sys: amber's containers own their ipc and
// net namespaces, whose sysctls are theirs to set (amber dumps them).
constexpr const char* kReadonlyPaths[] = {"proc/bus", "proc/fs", "proc/irq", "proc/sysrq-trigger"};

// A masked file gets /dev/null bound over it, a masked directory an empty
// read-only tmpfs.
Status mask(int root, int dev, const char* name) {
  auto at = sys::open_at(root, name, O_PATH, sys::kNoLinks);
  if (!at) return {};
  struct stat st {};
  if (::fstat(at->get(), &st) != 0) return sys_fail("stat /{}", name);
  if (S_ISDIR(st.st_mode)) {
    TRY_CTX(sys::mount_new("tmpfs", "tmpfs", {{"ro", ""}}, MOUNT_ATTR_RDONLY, at->get()), "mask /{}", name);
    return {};
  }
  UniqueFd null = TRY_CTX(sys::clone_tree(dev, "null", false), "mask /{}", name);
  TRY_CTX(sys::attach(null.get(), at->get()), "mask /{}", name);
  return {};
}

// A bind of the path onto itself, read-only.
Status make_readonly(int root, const char* name) {
  auto at = sys::open_at(root, name, O_PATH, sys::kNoLinks);
  if (!at) return {};
  UniqueFd bind = TRY_CTX(sys::clone_tree(at->get(), "", false), "read-only /{}", name);
  TRY_CTX(sys::set_attrs(bind.get(), MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
                                         MOUNT_ATTR_RELATIME),
          "read-only /{}", name);
  TRY_CTX(sys::attach(bind.get(), at->get()), "read-only /{}", name);
  return {};
}

// pivot_root(".", ".") stacks the old root on the new one; detaching it
// leaves the container nothing of the host's tree. `root`: the rootfs bind.
Status enter_rootfs(int root, const std::string& shown) {
  if (::fchdir(root) != 0) return sys_fail("chdir {}", shown);
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return sys_fail("pivot_root {}", shown);
  if (::umount2(".", MNT_DETACH) != 0) return sys_fail("detach the old root");
  if (::chdir("/") != 0) return sys_fail("chdir /");
  return {};
}

Status set_hostname(const std::string& h) {
  if (::sethostname(h.data(), h.size()) != 0) return sys_fail("sethostname {}", h);
  return {};
}

// stdin: a fresh open of (the container's) /dev/null; stdout and stderr: one
// description of the log, so their writes interleave in order.
Status set_stdio(int log_fd) {
  UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null) return sys_fail("open /dev/null");
  if (::dup2(null.get(), 0) < 0) return sys_fail("dup2 stdin");
  if (::dup2(log_fd, 1) < 0 || ::dup2(log_fd, 2) < 0) return sys_fail("dup2 log");
  return {};
}

}  // namespace

Status check_mount_points(const std::string& rootfs, const std::string& shown) {
  for (const char* dir : {"proc", "dev", "tmp"}) {
    std::string path = rootfs + "/" + dir;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT)
        return bad_input("rootfs {}: no {} directory (amber creates nothing in a rootfs)", shown, dir);
      int e = errno;
      return fail(Exit::BadInput, fmt::format("rootfs {}: {}: {}", shown, dir, std::strerror(e)), e);
    }
    if (!S_ISDIR(st.st_mode)) return bad_input("rootfs {}: {} is not a directory", shown, dir);
  }
  return {};
}

Status setup_container_fs(const std::string& rootfs) {
  TRY(make_mounts_private());
  // The rootfs exactly as recorded (amber run resolved it): no symlink on
  // the way, which a mount would follow; "" is the host's tree.
  UniqueFd root;
  if (rootfs.empty()) {
    root = TRY(sys::open_at(AT_FDCWD, "/", O_PATH | O_DIRECTORY, sys::kExact));
  } else {
    UniqueFd dir = TRY_CTX(sys::open_at(AT_FDCWD, rootfs, O_PATH | O_DIRECTORY, sys::kExact), "rootfs");
    root = TRY_CTX(sys::bind_onto_itself(dir.get()), "rootfs {}", rootfs);
  }
  TRY(mount_at(root.get(), "proc", "proc", "proc", {}, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
  UniqueFd dev = TRY(mount_dev(root.get()));
  // sysfs of the container's net namespace, read-only; a rootfs without
  // /sys goes without (amber creates nothing in it).
  if (exists(root.get(), "sys"))
    TRY(mount_at(root.get(), "sys", "sysfs", "sysfs", {{"ro", ""}},
                 MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
  TRY(mount_at(root.get(), "tmp", "tmpfs", "tmpfs", {{"mode", "1777"}}, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
  for (const char* p : kMaskedPaths) TRY(mask(root.get(), dev.get(), p));
  for (const char* p : kReadonlyPaths) TRY(make_readonly(root.get(), p));
  if (!rootfs.empty()) TRY(enter_rootfs(root.get(), rootfs));
  return {};
}

Status run_init(const InitConfig& c) {
  TRY(wait_for_go(c.go_fd));
  reset_signals();
  if (::setsid() < 0) return sys_fail("setsid");
  TRY(setup_container_fs(c.rootfs));
  if (c.own_uts) TRY(set_hostname(c.hostname));
  if (c.own_net) TRY(loopback_up());
  if (::chdir("/") != 0) return sys_fail("chdir /");
  if (c.tty_fd >= 0) {
    for (int i = 0; i < 3; ++i)
      if (::dup2(c.tty_fd, i) < 0) return sys_fail("dup2 terminal");
    if (::ioctl(0, TIOCSCTTY, 0) != 0) return sys_fail("take the terminal (TIOCSCTTY)");
  } else {
    TRY(set_stdio(c.log_fd));
  }
  return std::unexpected(exec_command(c.argv, c.env));
}

// A new net namespace has only "lo", and it is down.
Status loopback_up() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return sys_fail("socket");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return sys_fail("get flags of lo");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return sys_fail("bring lo up");
  return {};
}

}  // namespace amber::container
