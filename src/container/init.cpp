#include "container/init.h"

#include <fcntl.h>
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

// A directory inside amber's own tmpfs (/dev/shm, /dev/pts), made if missing.
Status ensure_dir(const std::string& path, mode_t mode) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return failf("{} is not a directory", path);
    return {};
  }
  if (errno != ENOENT) return sys_fail("stat {}", path);
  if (::mkdir(path.c_str(), mode) != 0) return sys_fail("mkdir {}", path);
  if (::chmod(path.c_str(), mode) != 0) return sys_fail("chmod {}", path);  // past the umask
  return {};
}

Status do_mount(const char* source, const std::string& target, const char* type, unsigned long flags,
                const char* data) {
  if (::mount(source, target.c_str(), type, flags, data) != 0)
    return sys_fail("mount {} on {}", type ? type : source, target);
  return {};
}

// Before anything is mounted: on systemd hosts "/" is shared, and our mounts
// would propagate to the host (and the host's into the container).
Status make_mounts_private() {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return sys_fail("make mounts private");
  return {};
}

// pivot_root needs the new root to be a mount point.
Status bind_rootfs(const std::string& root) {
  return do_mount(root.c_str(), root, nullptr, MS_BIND | MS_REC, nullptr);
}

// A mount point in the user's tree (or the host's): never made by amber
// (check_mount_points), checked again here in case it changed since.
Status require_dir(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return sys_fail("mount point {}", path);
  if (!S_ISDIR(st.st_mode)) return failf("mount point {} is not a directory", path);
  return {};
}

// proc of the new pid namespace.
Status mount_proc(const std::string& dir) {
  TRY(require_dir(dir));
  return do_mount("proc", dir, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
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

// A minimal /dev of its own: device nodes made here (not binds of the
// host's), /dev/shm and a devpts instance of its own.
Status mount_dev(const std::string& dir) {
  TRY(require_dir(dir));
  TRY(do_mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=1m"));
  for (const DevNode& n : kDevNodes) {
    std::string p = dir + "/" + n.name;
    if (::mknod(p.c_str(), S_IFCHR | 0666, makedev(n.major, n.minor)) != 0) return sys_fail("mknod {}", p);
    if (::chmod(p.c_str(), 0666) != 0) return sys_fail("chmod {}", p);
  }
  for (const auto& [name, target] : kDevLinks) {
    std::string p = dir + "/" + name;
    if (::symlink(target, p.c_str()) != 0) return sys_fail("symlink {}", p);
  }
  TRY(ensure_dir(dir + "/shm", 01777));
  TRY(do_mount("shm", dir + "/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));
  TRY(ensure_dir(dir + "/pts", 0755));
  TRY(do_mount("devpts", dir + "/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"));
  return {};
}

Status mount_tmp(const std::string& dir) {
  TRY(require_dir(dir));
  return do_mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
}

// pivot_root(".", ".") stacks the old root on the new one; detaching it
// leaves the container nothing of the host's tree.
Status enter_rootfs(const std::string& root) {
  if (::chdir(root.c_str()) != 0) return sys_fail("chdir {}", root);
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return sys_fail("pivot_root {}", root);
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
  const std::string& root = rootfs;  // "" → the paths below are the host's
  if (!root.empty()) TRY(bind_rootfs(root));
  TRY(mount_proc(root + "/proc"));
  TRY(mount_dev(root + "/dev"));
  TRY(mount_tmp(root + "/tmp"));
  if (!root.empty()) TRY(enter_rootfs(root));
  return {};
}

Status run_init(const InitConfig& c) {
  TRY(wait_for_go(c.go_fd));
  reset_signals();
  if (::setsid() < 0) return sys_fail("setsid");
  TRY(setup_container_fs(c.rootfs));
  TRY(set_hostname(c.hostname));
  TRY(loopback_up());
  if (::chdir("/") != 0) return sys_fail("chdir /");
  TRY(set_stdio(c.log_fd));
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
