#include "sys/clone.h"

#include <linux/sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace amber::sys {

Result<Cloned> clone3(const CloneSpec& spec) {
  clone_args args;
  std::memset(&args, 0, sizeof args);
  int pidfd = -1;
  args.flags = spec.flags;
  args.exit_signal = static_cast<uint64_t>(spec.exit_signal);
  if (spec.want_pidfd) {
    args.flags |= CLONE_PIDFD;
    args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  }
  if (spec.cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(spec.cgroup_fd);
  }
  if (!spec.set_tid.empty()) {
    args.set_tid = reinterpret_cast<uint64_t>(spec.set_tid.data());
    args.set_tid_size = spec.set_tid.size();
  }
  long r = ::syscall(SYS_clone3, &args, sizeof args);
  if (r < 0) {
    if (errno == EEXIST && !spec.set_tid.empty())
      return sys_fail("clone3 (a pid of set_tid {} is taken)", spec.set_tid.front());
    return sys_fail("clone3 (flags {:#x})", args.flags);
  }
  Cloned c;
  c.pid = static_cast<pid_t>(r);
  if (r > 0 && spec.want_pidfd) c.pidfd = UniqueFd(pidfd);
  return c;
}

}  // namespace amber::sys
