// Process-wide fs context and name (see task_misc.h).
#include "kinds/task_misc.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "base/files.h"
#include "sys/procfs.h"
#include "sys/resolve.h"

namespace amber::kinds {

namespace {

constexpr std::string_view kDeleted = " (deleted)";

Result<std::string> read_comm(pid_t pid) {
  std::string comm = TRY(read_file(fmt::format("/proc/{}/comm", pid)));
  if (!comm.empty() && comm.back() == '\n') comm.pop_back();
  return comm;
}

}  // namespace

Result<std::string> path_in_root(std::string_view link, std::string_view root) {
  if (link.empty() || link.front() != '/') return unsupported("{}: not a path", link);
  // d_path appends " (deleted)" to an unlinked file's name; a file really
  // named so is indistinguishable here and refused too.
  if (link.ends_with(kDeleted)) return unsupported("{}: deleted", link);
  if (root.empty() || root.front() != '/') return failf("root {}: not a path", root);
  while (root.size() > 1 && root.back() == '/') root.remove_suffix(1);
  if (root == "/") return std::string(link);
  if (link == root) return std::string("/");
  if (link.size() > root.size() && link.starts_with(root) && link[root.size()] == '/')
    return std::string(link.substr(root.size()));
  return unsupported("{}: outside the task's root {}", link, root);
}

Result<std::string> read_root_link(pid_t pid) { return read_link(fmt::format("/proc/{}/root", pid)); }

ProcReopen proc_reopen_for(const std::vector<TreeTask>& tree, pid_t vpid) {
  ProcReopen r;
  std::map<pid_t, pid_t> ppid;
  for (const auto& t : tree) {
    ppid[t.vpid] = t.ppid;
    r.all.push_back(t.vpid);
  }
  for (pid_t p = vpid; p != 0 && r.reopenable.size() <= tree.size(); p = ppid[p]) r.reopenable.push_back(p);
  return r;
}

Status check_proc_reopen(const std::string& link, const std::string& path, const ProcReopen& reopen) {
  if (!path.starts_with("/proc/")) return {};
  auto parts = split(std::string_view(path).substr(6), '/');
  if (parts.empty()) return {};
  auto pid = parse_int(parts[0]);
  if (!pid) return {};  // /proc/meminfo and friends: not a process's
  struct statfs fs {};
  if (::statfs(link.c_str(), &fs) != 0) return sys_fail("statfs {}", link);
  if (fs.f_type != PROC_SUPER_MAGIC) return {};
  const auto& ok = reopen.reopenable;
  const auto& all = reopen.all;
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

Status dump_fs_context(pid_t pid, std::string_view container_root, const ProcReopen& reopen, img::Task& out) {
  out.set_comm(TRY_CTX(read_comm(pid), "task {}: comm", out.pid()));
  std::string root = TRY_CTX(read_root_link(pid), "task {}", out.pid());
  out.set_root(TRY_CTX(path_in_root(root, container_root), "task {}: root", out.pid()));
  std::string cwd = TRY_CTX(read_link(fmt::format("/proc/{}/cwd", pid)), "task {}", out.pid());
  out.set_cwd(TRY_CTX(path_in_root(cwd, root), "task {}: cwd", out.pid()));
  TRY_CTX(check_proc_reopen(fmt::format("/proc/{}/cwd", pid), out.cwd(), reopen), "task {}: cwd", out.pid());
  sys::ProcStatus st = TRY_CTX(sys::read_status(pid), "task {}", out.pid());
  out.set_umask(st.umask);
  return {};
}

Status apply_fs_context_in_child(const img::Task& task) {
  const std::string& root = task.root();
  const std::string& cwd = task.cwd();
  if (task.umask() > 0777) return bad_input("task {}: umask {:o} is not a mode", task.pid(), task.umask());
  // Found as the task sees its tree (sys::kTaskPath: no /proc magic link
  // to a directory outside it), then entered by fd.
  if (!root.empty() && root != "/") {
    UniqueFd dir = TRY_CTX(sys::open_at(AT_FDCWD, root, O_PATH | O_DIRECTORY, sys::kTaskPath), "task {}: root",
                           task.pid());
    if (::fchdir(dir.get()) != 0 || ::chroot(".") != 0) return sys_fail("task {}: chroot {}", task.pid(), root);
  }
  if (!cwd.empty()) {
    UniqueFd dir = TRY_CTX(sys::open_at(AT_FDCWD, cwd, O_PATH | O_DIRECTORY, sys::kTaskPath), "task {}: cwd",
                           task.pid());
    if (::fchdir(dir.get()) != 0) return sys_fail("task {}: chdir {}", task.pid(), cwd);
  }
  ::umask(static_cast<mode_t>(task.umask()));
  const std::string& comm = task.comm();
  if (!comm.empty()) {
    // PR_SET_NAME truncates to 15 bytes, as the kernel's own comm does.
    std::string name = comm.substr(0, 15);
    if (::prctl(PR_SET_NAME, name.c_str()) != 0) return sys_fail("task {}: prctl(PR_SET_NAME)", task.pid());
  }
  return {};
}

}  // namespace amber::kinds
