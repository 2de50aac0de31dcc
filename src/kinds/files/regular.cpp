// Regular files, directories and the container's log.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>

#include "base/files.h"
#include "kinds/files/fd_kinds.h"
#include "kinds/task_misc.h"

namespace amber::kinds::files {

namespace {

// open() flags the kernel drops after the open (do_dentry_open) or that
// must not act again on restore.
constexpr int kNotReplayed = O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC;

bool is_log(const FdProbe& p, const FdDumpContext& ctx) {
  if (ctx.log_path.empty() || !S_ISREG(p.st.st_mode)) return false;
  struct stat log {};
  // Same file, not same name: a file of the container may be called like
  // the host's log, and the log may be reached by another path.
  return ::stat(ctx.log_path.c_str(), &log) == 0 && log.st_dev == p.st.st_dev && log.st_ino == p.st.st_ino;
}

// A file of the container's procfs under /proc/<pid>/ names a process: the
// restore reopens it by path inside the task, so that process must exist
// then (see FdDumpContext::proc_reopenable), or the open fails late (ENOENT)
// or, worse, opens another process's file. Its threads are made after the
// task's fds: only the main thread's /proc/<pid>/task/<pid>.
Status check_proc_file(const FdProbe& p, const FdDumpContext& ctx, const std::string& path) {
  struct statfs fs {};
  if (::statfs(fmt::format("/proc/{}/fd/{}", ctx.pid, p.fd).c_str(), &fs) != 0)
    return sys_fail("statfs {}", p.link);
  if (fs.f_type != PROC_SUPER_MAGIC || !path.starts_with("/proc/")) return {};
  auto parts = split(std::string_view(path).substr(6), '/');
  if (parts.empty()) return {};
  auto pid = parse_int(parts[0]);
  if (!pid) return {};  // /proc/meminfo and friends: not a process's
  const auto& ok = ctx.proc_reopenable;
  const auto& all = ctx.container_pids;
  if (std::find(all.begin(), all.end(), *pid) == all.end())
    return unsupported("{}: a /proc file of pid {}, which has exited: a restore cannot reopen it: not supported yet",
                       path, *pid);
  if (std::find(ok.begin(), ok.end(), *pid) == ok.end())
    return unsupported("{}: a /proc file of task {}, neither this task nor an ancestor of it (the restore cannot reopen "
                       "it before that task exists): not supported yet",
                       path, *pid);
  if (parts.size() >= 3 && parts[1] == "task" && parse_int(parts[2]) != pid)
    return unsupported("{}: a /proc file of thread {} of task {} (the restore makes threads after fds): not supported yet",
                       path, parts[2], *pid);
  return {};
}

}  // namespace

bool is_regular_kind(const FdProbe& p) { return S_ISREG(p.st.st_mode) || S_ISDIR(p.st.st_mode); }

Status dump_regular(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out) {
  if (is_log(p, ctx)) {
    out.set_kind(img::FD_REGULAR);
    out.set_container_log(true);
    out.set_path(p.link);  // for `amber show`; restore uses the new log
    return {};
  }
  if (p.link.starts_with("/memfd:")) return unsupported("{} (memfd): not supported yet", p.link);
  if (is_unlinked(p)) {
    // The name it had; the content is read once per file (collect_unlinked).
    std::string_view name = std::string_view(p.link).substr(0, p.link.size() - std::string_view(" (deleted)").size());
    out.set_kind(img::FD_REGULAR);
    out.set_unlinked(true);
    out.set_path(TRY(path_in_root(name, ctx.root)));
    return {};
  }
  if (p.link.ends_with(" (deleted)")) return unsupported("{} (deleted file): not supported yet", p.link);
  out.set_kind(S_ISDIR(p.st.st_mode) ? img::FD_DIRECTORY : img::FD_REGULAR);
  out.set_path(TRY(path_in_root(p.link, ctx.root)));
  TRY(check_proc_file(p, ctx, out.path()));
  return {};
}

Result<UniqueFd> open_regular(const img::Fd& fd) {
  const bool dir = fd.kind() == img::FD_DIRECTORY;
  const int flags = (static_cast<int>(fd.flags()) & ~kNotReplayed) | O_CLOEXEC | O_NOCTTY;
  UniqueFd f(::open(fd.path().c_str(), flags));
  if (!f) return sys_fail("open {} (flags {:#o})", fd.path(), flags);
  struct stat st {};
  if (::fstat(f.get(), &st) != 0) return sys_fail("fstat {}", fd.path());
  if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
    return failf("{} is no longer a {}", fd.path(), dir ? "directory" : "regular file");
  // An O_PATH fd has no position; a directory's is its readdir cookie.
  if (!(flags & O_PATH) && fd.pos() != 0 && ::lseek(f.get(), fd.pos(), SEEK_SET) != fd.pos())
    return sys_fail("lseek {} to {}", fd.path(), fd.pos());
  return f;
}

}  // namespace amber::kinds::files
