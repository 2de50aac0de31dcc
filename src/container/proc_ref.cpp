#include "container/proc_ref.h"

#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/files.h"

namespace amber::container {

namespace {
// state and start time from /proc/PID/stat. comm may hold spaces and ')':
// the fields start after the last ')'.
// TODO(container): switch to sys::read_stat once src/sys/procfs.cpp is committed.
struct StatBits {
  char state = '?';
  uint64_t start_time = 0;
};
Result<StatBits> read_stat_bits(pid_t pid) {
  std::string path = fmt::format("/proc/{}/stat", pid);
  std::string text = TRY(read_file(path));
  size_t rp = text.rfind(')');
  if (rp == std::string::npos) return failf("{}: no ')'", path);
  auto f = split_ws(trim(std::string_view(text).substr(rp + 1)));
  // f[0] is field 3 (state); field 22 (starttime) is f[19].
  if (f.size() < 20 || f[0].size() != 1) return failf("{}: too few fields", path);
  auto st = parse_uint(f[19]);
  if (!st) return failf("{}: bad start time '{}'", path, f[19]);
  return StatBits{f[0][0], *st};
}
}  // namespace

Result<ProcRef> proc_ref(pid_t pid) {
  StatBits b = TRY(read_stat_bits(pid));
  return ProcRef{pid, b.start_time};
}

Liveness liveness(const ProcRef& p) {
  if (p.pid <= 0) return Liveness::Gone;
  auto b = read_stat_bits(p.pid);
  if (!b || b->start_time != p.start_time) return Liveness::Gone;
  return (b->state == 'Z' || b->state == 'X') ? Liveness::Zombie : Liveness::Alive;
}

Result<UniqueFd> open_pidfd(const ProcRef& p) {
  // TODO(container): sys::pidfd_open once src/sys/pidfd.cpp is committed.
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, p.pid, 0));
  if (fd < 0) return sys_fail("pidfd_open {}", p.pid);
  UniqueFd pidfd(fd);
  // Checked after the open: if the pid was reused before it, the start time differs.
  auto b = read_stat_bits(p.pid);
  if (!b || b->start_time != p.start_time) return sys_fail_errno(ESRCH, "process {}", p.pid);
  return pidfd;
}

Status wait_exited(const ProcRef& p, std::chrono::milliseconds timeout) {
  auto fd = open_pidfd(p);
  if (!fd) {
    if (fd.error().sys_errno == ESRCH) return {};
    return std::unexpected(std::move(fd.error()));
  }
  // A pidfd polls readable once the process has exited, reaped or not.
  pollfd pfd{fd->get(), POLLIN, 0};
  int r;
  do r = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
  while (r < 0 && errno == EINTR);
  if (r < 0) return sys_fail("poll pidfd of {}", p.pid);
  if (r == 0) return failf("process {} still running after {} ms", p.pid, timeout.count());
  return {};
}

Result<std::map<std::string, uint64_t>> container_ns_inodes(pid_t pid) {
  std::map<std::string, uint64_t> out;
  for (const char* type : kContainerNsTypes) {
    std::string path = fmt::format("/proc/{}/ns/{}", pid, type);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return sys_fail("stat {}", path);
    out[type] = st.st_ino;
  }
  return out;
}

}  // namespace amber::container
