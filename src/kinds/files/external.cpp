// Descriptions declared external (`amber dump --external pipe:INODE`,
// `fifo:PATH`, `file:PATH`; src/dump/externals.h): shared with an outside
// task, so nothing of them is dumped — not a pipe's data, not a position —
// and the restore hands in the description it is given
// (`amber restore --external SPEC=fd:N`): every restoring process inherits
// it from the init (an `inherited` description, shared.h) and the holders
// install it at their fd numbers. Nothing here opens one.
#include <sys/stat.h>

#include <map>

#include "kinds/files/fd_kinds.h"

namespace amber::kinds::files {

bool is_declared_external(const FdProbe& p, const FdDumpContext& ctx) {
  return ctx.externals && ctx.externals->contains(p.fd);
}

// Never picked by matching: probe_fds picks it by is_declared_external.
bool is_external(const FdProbe&) { return false; }

Status dump_external(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out) {
  out.set_kind(img::FD_EXTERNAL);
  out.set_external(ctx.externals->at(p.fd));
  out.set_path(p.link);  // for `amber show` only
  return {};
}

Result<UniqueFd> open_external(const img::Fd& fd, const OpenContext&) {
  return failf("{}: declared external, and not handed in (amber restore --external {}=fd:N)", fd.path(),
               fd.external());
}

// The handed-in description is of the kind the external names.
Status verify_external(const FdProbe& now, const img::Fd& fd) {
  const bool fifo = fd.external().starts_with("pipe:") || fd.external().starts_with("fifo:");
  const mode_t want = fifo ? S_IFIFO : S_IFREG;
  if ((now.st.st_mode & S_IFMT) != want)
    return failf("external {}: the fd is {}, not a {}", fd.external(), now.link, fifo ? "pipe" : "regular file");
  return {};
}

Status check_external_descriptions(const std::vector<TaskFds>& tasks) {
  std::map<std::string, const img::Fd*> first;
  std::map<std::string, pid_t> first_task;
  for (const TaskFds& t : tasks)
    for (const img::Fd& f : t.files.fds()) {
      if (f.kind() != img::FD_EXTERNAL) continue;
      auto [it, fresh] = first.try_emplace(f.external(), &f);
      if (fresh) {
        first_task[f.external()] = t.ctx.vpid;
      } else if (it->second->ofd_id() != f.ofd_id()) {
        return unsupported("task {}: fd {}: --external {}: another open file description of it than task {} fd {} "
                           "has; amber restore gives back one: not supported",
                           t.ctx.vpid, f.fd(), f.external(), first_task[f.external()], it->second->fd());
      }
    }
  return {};
}

}  // namespace amber::kinds::files
