// pidfds (pidfd_open, CLONE_PIDFD) of tasks of the container. The target is
// recorded by its pid inside the container; restored by the controller once
// every task exists (a pidfd may name a task forked after its holder):
// pidfd_open(pid) run inside the holder (its pid namespace is the
// container's, so the pid means the same task again), dup3'ed over the
// placeholder the fork phase installed at each fd number of the
// description. Refused by name: a pidfd of a pid outside the container (a
// reference to a process amber cannot restore), of an exited process or a
// zombie, a thread pidfd (PIDFD_THREAD), one description shared by several
// tasks.
#include <fcntl.h>
#include <sys/syscall.h>

#include <cstdlib>
#include <map>

#include "kinds/files/fd_kinds.h"
#include "remote/remote_task.h"
#include "sys/procfs.h"

namespace amber::kinds {

namespace files {

namespace {

// PIDFD_THREAD is O_EXCL (linux/pidfd.h, 6.9+).
constexpr uint32_t kPidfdThread = O_EXCL;

std::string field(const FdProbe& p, std::string_view key) {
  for (const auto& [k, v] : p.info.fields)
    if (k == key) return v;
  return {};
}

}  // namespace

bool is_pidfd(const FdProbe& p) { return p.link == "anon_inode:[pidfd]"; }

Status dump_pidfd(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out) {
  const pid_t pid = static_cast<pid_t>(std::strtol(field(p, "Pid").c_str(), nullptr, 10));
  if (pid <= 0) return unsupported("{} (pidfd of a process that has exited): not supported yet", p.link);
  auto it = ctx.vpid_of ? ctx.vpid_of->find(pid) : std::map<pid_t, pid_t>::const_iterator{};
  if (!ctx.vpid_of || it == ctx.vpid_of->end())
    return unsupported("{} (pidfd of pid {}, outside the container): not supported yet", p.link, pid);
  if (p.info.flags & kPidfdThread)
    return unsupported("{} (thread pidfd of task {}): not supported yet", p.link, it->second);
  auto st = sys::read_status(pid);
  if (!st || st->state == 'Z' || st->state == 'X')
    return unsupported("{} (pidfd of task {}, a zombie): not supported yet", p.link, it->second);
  out.set_kind(img::FD_PIDFD);
  out.set_pidfd_pid(it->second);
  out.set_pos(0);
  return {};
}

Result<UniqueFd> open_pidfd_placeholder(const img::Fd& fd, const OpenContext&) {
  // Holds the fd numbers until the controller puts the pidfd there.
  int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (raw < 0) return sys_fail("pidfd of task {}: placeholder /dev/null", fd.pidfd_pid());
  return UniqueFd(raw);
}

Status verify_pidfd(const FdProbe& now, const img::Fd& fd) {
  if (!is_pidfd(now)) return failf("{}, not a pidfd of task {}", now.link, fd.pidfd_pid());
  // NSpid: the target's pid in each pid namespace, the container's last.
  std::string ns = field(now, "NSpid");
  size_t sp = ns.find_last_of(" \t");
  const pid_t inner = static_cast<pid_t>(std::strtol(ns.c_str() + (sp == std::string::npos ? 0 : sp + 1), nullptr, 10));
  if (inner != fd.pidfd_pid()) return failf("pidfd of pid {}, not of task {}", inner, fd.pidfd_pid());
  return {};
}

}  // namespace files

Status restore_pidfds(remote::RemoteTask& task, pid_t vpid, const img::Files& files) {
  // One pidfd per description, installed at each of its fd numbers.
  std::map<uint64_t, std::vector<const img::Fd*>> by_ofd;
  uint64_t lone = ~uint64_t{0};
  for (const img::Fd& fd : files.fds())
    if (fd.kind() == img::FD_PIDFD) by_ofd[fd.ofd_id() != 0 ? fd.ofd_id() : lone--].push_back(&fd);
  if (by_ofd.empty()) return {};
  std::vector<remote::Call> opens;
  for (const auto& [ofd, fds] : by_ofd) {
    const img::Fd& first = *fds.front();
    if (first.pidfd_pid() <= 0) return bad_input("task {}: fd {}: pidfd of pid {}", vpid, first.fd(), first.pidfd_pid());
    opens.push_back(remote::make_call(SYS_pidfd_open, first.pidfd_pid(), first.flags() & O_NONBLOCK));
  }
  TRY_CTX(task.run_batch(opens), "task {}: pidfd_open", vpid);
  std::vector<remote::Call> installs;
  size_t i = 0;
  Status failed;
  for (const auto& [ofd, fds] : by_ofd) {
    const remote::Call& o = opens[i++];
    if (o.failed()) {
      if (failed) failed = sys_fail_errno(static_cast<int>(-o.result), "task {}: fd {}: pidfd_open of task {}", vpid,
                                          fds.front()->fd(), fds.front()->pidfd_pid());
      continue;
    }
    for (const img::Fd* fd : fds)
      installs.push_back(remote::make_call(SYS_dup3, o.result, fd->fd(), fd->cloexec() ? O_CLOEXEC : 0));
    installs.push_back(remote::make_call(SYS_close, o.result));
  }
  if (!installs.empty()) TRY_CTX(task.run_batch(installs), "task {}: install pidfds", vpid);
  TRY(std::move(failed));
  for (const remote::Call& c : installs)
    if (c.failed()) return sys_fail_errno(static_cast<int>(-c.result), "task {}: install a pidfd", vpid);
  return {};
}

}  // namespace amber::kinds
