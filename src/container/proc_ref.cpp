#include "container/proc_ref.h"

#include <poll.h>

#include "sys/pidfd.h"
#include "sys/procfs.h"

namespace amber::container {

Result<ProcRef> proc_ref(pid_t pid) {
  sys::ProcStat st = TRY(sys::read_stat(pid));
  return ProcRef{pid, st.start_time};
}

Liveness liveness(const ProcRef& p) {
  if (p.pid <= 0) return Liveness::Gone;
  auto st = sys::read_stat(p.pid);
  if (!st || st->start_time != p.start_time) return Liveness::Gone;
  return (st->state == 'Z' || st->state == 'X') ? Liveness::Zombie : Liveness::Alive;
}

Result<UniqueFd> open_pidfd(const ProcRef& p) {
  UniqueFd pidfd = TRY(sys::pidfd_open(p.pid));
  // Checked after the open: if the pid was reused before it, the start time differs.
  auto st = sys::read_stat(p.pid);
  if (!st || st->start_time != p.start_time) return sys_fail_errno(ESRCH, "process {}", p.pid);
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
  for (const char* type : kContainerNsTypes) out[type] = TRY(sys::read_ns_inode(pid, type));
  return out;
}

}  // namespace amber::container
