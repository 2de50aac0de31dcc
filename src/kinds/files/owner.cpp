// SIGIO owner, signal and O_ASYNC of a description (see owner.h).
#include "kinds/files/owner.h"

#include <fcntl.h>
#include <sys/syscall.h>

#include <cstring>
#include <vector>

#include "sys/pidfd.h"
#include "sys/procfs.h"

namespace amber::kinds {

namespace files {

Status dump_owner(int pidfd, const FdProbe& p, const FdDumpContext& ctx, img::Fd& out) {
  // fcntl(F_GETOWN_EX) of an O_PATH fd is EBADF: it has no owner.
  if (p.info.flags & O_PATH) return {};
  UniqueFd copy = TRY_CTX(sys::pidfd_getfd(pidfd, p.fd), "copy to read its SIGIO owner");
  f_owner_ex own{};
  if (::fcntl(copy.get(), F_GETOWN_EX, &own) != 0) return sys_fail("F_GETOWN_EX");
  const int sig = ::fcntl(copy.get(), F_GETSIG);
  if (sig < 0) return sys_fail("F_GETSIG");
  out.set_signal(static_cast<uint32_t>(sig));
  // A dead owner reads as 0, the kernel's own "none".
  if (own.pid == 0) return {};
  if (own.type != F_OWNER_TID && own.type != F_OWNER_PID && own.type != F_OWNER_PGRP)
    return unsupported("SIGIO owner type {} is not supported yet", own.type);
  auto refuse = [&] {
    return unsupported("SIGIO owner {} {} (F_SETOWN) is not a task of the container{}",
                       own.type == F_OWNER_PGRP ? "process group" : own.type == F_OWNER_TID ? "thread" : "pid",
                       own.pid, own.type == F_OWNER_PGRP ? " (or its leader is gone)" : "");
  };
  if (!ctx.vpid_of) return refuse();
  pid_t inner = 0;
  if (own.type == F_OWNER_TID) {
    // A thread: its process must be the container's; its tid inside is the
    // last NSpid of its own status.
    auto st = sys::read_status(own.pid);
    if (!st || !ctx.vpid_of->contains(st->tgid) || st->ns_pid.empty()) return refuse();
    inner = st->ns_pid.back();
  } else {
    // A process, or a process group named by its leader's pid.
    auto it = ctx.vpid_of->find(own.pid);
    if (it == ctx.vpid_of->end()) return refuse();
    inner = it->second;
  }
  out.set_owner_type(static_cast<uint32_t>(own.type));
  out.set_owner(inner);
  return {};
}

}  // namespace files

Status restore_fd_owners(remote::RemoteTask& task, pid_t vpid, const img::Files& files) {
  struct Todo {
    const img::Fd* fd;
    size_t first_call;
  };
  std::vector<remote::Call> calls;
  std::vector<Todo> todo;
  std::vector<f_owner_ex> owners;
  for (const img::Fd& fd : files.fds()) {
    const bool async = (fd.flags() & O_ASYNC) != 0;
    if (fd.owner() == 0 && fd.signal() == 0 && !async) continue;
    // Once per description: by the task and fd that first held it.
    const uint64_t self = (static_cast<uint64_t>(vpid) << 32) | static_cast<uint64_t>(fd.fd() + 1);
    if (fd.ofd_id() != 0 && fd.ofd_id() != self) continue;
    if (fd.owner_type() > F_OWNER_PGRP || fd.owner() < 0 || fd.signal() > 64)
      return bad_input("task {}: fd {}: SIGIO owner {}/{} signal {}", vpid, fd.fd(), fd.owner_type(), fd.owner(),
                       fd.signal());
    todo.push_back({&fd, calls.size()});
    if (fd.signal() != 0) calls.push_back(remote::make_call(SYS_fcntl, fd.fd(), F_SETSIG, fd.signal()));
    if (fd.owner() != 0) {
      calls.push_back(remote::make_call(SYS_fcntl, fd.fd(), F_SETOWN_EX, 0));  // address filled below
      f_owner_ex o{};
      o.type = static_cast<__pid_type>(fd.owner_type());
      o.pid = fd.owner();
      owners.push_back(o);
    }
    if (async) {
      calls.push_back(remote::make_call(SYS_fcntl, fd.fd(), F_SETFL, fd.flags() & ~static_cast<uint32_t>(O_ASYNC)));
      calls.push_back(remote::make_call(SYS_fcntl, fd.fd(), F_SETFL, fd.flags()));
    }
  }
  if (calls.empty()) return {};
  if (!task.has_executor() || task.scratch_size() < owners.size() * sizeof(f_owner_ex))
    return failf("task {}: SIGIO owners need the executor's scratch area", vpid);
  size_t k = 0;
  for (remote::Call& c : calls)
    if (c.args[1] == F_SETOWN_EX) c.args[2] = task.scratch_addr() + sizeof(f_owner_ex) * k++;
  TRY_CTX(task.write(task.scratch_addr(), std::as_bytes(std::span(owners))), "task {}: write SIGIO owners", vpid);
  TRY_CTX(task.run_batch(calls), "task {}: fcntl F_SETSIG / F_SETOWN_EX / F_SETFL", vpid);
  for (size_t t = 0; t < todo.size(); ++t) {
    const img::Fd& fd = *todo[t].fd;
    const size_t end = t + 1 < todo.size() ? todo[t + 1].first_call : calls.size();
    for (size_t i = todo[t].first_call; i < end; ++i)
      TRY(remote::check_syscall(calls[i].result, fmt::format("task {}: fd {}: SIGIO owner {} (type {}) signal {}{}",
                                                             vpid, fd.fd(), fd.owner(), fd.owner_type(), fd.signal(),
                                                             (fd.flags() & O_ASYNC) ? " O_ASYNC" : "")));
  }
  return {};
}

}  // namespace amber::kinds
