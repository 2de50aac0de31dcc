#include "restore/fork_phase.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <utility>

#include "base/files.h"
#include "container/init.h"
#include "container/report.h"
#include "kinds/files/fdtable.h"
#include "kinds/ns/fs_tree.h"
#include "kinds/ns/ipc.h"
#include "kinds/ns/mounts.h"
#include "kinds/ns/net.h"
#include "kinds/ns/uts.h"
#include "kinds/task_attrs.h"
#include "kinds/task_misc.h"
#include "kinds/thread.h"
#include "sys/clone.h"

namespace amber::restore {

namespace {

using kinds::NodeKind;
using kinds::TreeNode;

// What every restoring process carries down the tree (fork copies it).
struct ForkEnv {
  const Plan* plan = nullptr;
  int report_fd = -1;
  int log_fd = -1;
  int console_fd = -1;  // the new console's slave (--tty images), -1: none
  std::vector<int> shmem_fds;  // kept open by every task (shmem.h), in the plan's order
  kinds::MemfdFds memfds;      // the same by the (dev, inode) of the image
  Faults faults;
  // Descriptions ancestors opened for their descendants: ofd_id -> fd.
  std::map<uint64_t, int> inherited;
  // The page stores copy-on-write areas are built from (restore/cow.h),
  // above every fd number of the image.
  std::map<const image::PageReader*, int> store_fds;
};

[[noreturn]] void run_node(ForkEnv& env, pid_t pid);

Status fork_node(ForkEnv& env, pid_t pid) {
  const TreeNode& n = env.plan->tree.node(pid);
  sys::CloneSpec cs;
  cs.exit_signal = n.exit_signal;
  cs.set_tid = {pid};
  sys::Cloned c = TRY_CTX(sys::clone3(cs), "fork {} {}", kinds::node_kind_name(n.kind), pid);
  if (c.in_child()) run_node(env, pid);
  return {};
}

// Closes every fd but the report pipe.
void close_all_but_report(int report_fd) {
  if (report_fd > 0) ::syscall(SYS_close_range, 0u, static_cast<unsigned>(report_fd) - 1, 0u);
  ::syscall(SYS_close_range, static_cast<unsigned>(report_fd) + 1, ~0u, 0u);
}

Status close_all_but(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned from = 0;
  for (int k : keep) {
    if (k < 0 || static_cast<unsigned>(k) < from) continue;
    if (static_cast<unsigned>(k) > from && ::syscall(SYS_close_range, from, static_cast<unsigned>(k) - 1, 0u) != 0)
      return sys_fail("init: close fds {}..{}", from, k - 1);
    from = static_cast<unsigned>(k) + 1;
  }
  if (::syscall(SYS_close_range, from, ~0u, 0u) != 0) return sys_fail("init: close fds from {}", from);
  return {};
}

Status set_name(const std::string& name) {
  std::string n = name.substr(0, 15);
  if (::prctl(PR_SET_NAME, n.c_str(), 0, 0, 0) != 0) return sys_fail("prctl(PR_SET_NAME)");
  return {};
}

[[noreturn]] void park_forever() {
  for (;;) ::pause();
}

// A task: its fds, fs context and threads, then it waits to be seized.
Status task_ready(ForkEnv& env, pid_t pid) {
  const TaskPlan& t = env.plan->tasks.at(pid);
  // Its copy-on-write areas are built and its children forked: the page
  // stores are no fd of the task.
  for (auto& [r, fd] : env.store_fds) ::close(std::exchange(fd, -1));
  env.store_fds.clear();
  // The shared memory objects go above every fd number of the image now,
  // so that their numbers hold while the table is built (memfd fds are
  // opened from them).
  for (int& fd : env.shmem_fds) {
    if (fd > env.plan->shared.top) continue;
    int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, env.plan->shared.top + 1);
    if (moved < 0) return sys_fail("task {}: move a shared memory fd", pid);
    ::close(fd);
    fd = moved;
  }
  env.memfds = kinds::shmem_fd_map(env.plan->shmem, env.shmem_fds);
  std::vector<int> keep = {env.report_fd};
  keep.insert(keep.end(), env.shmem_fds.begin(), env.shmem_fds.end());
  kinds::FdRestoreContext fctx;
  fctx.vpid = pid;
  fctx.keep = keep;
  fctx.log_fd = env.log_fd;
  fctx.log_original = env.plan->shared.log_original;
  fctx.console_fd = env.console_fd;
  fctx.console_original = env.plan->shared.console_original;
  fctx.inherited = &env.inherited;
  fctx.pipes = &env.plan->shared.pipes;
  fctx.unlinked = &env.plan->shared.unlinked;
  fctx.memfds = &env.memfds;
  fctx.top = env.plan->shared.top;
  TRY(kinds::open_fds_in_child(t.files, fctx));
  TRY(kinds::apply_fs_context_in_child(t.task));
  TRY(kinds::apply_loginuid_in_child(t.task));  // before the threads: they inherit it
  TRY(kinds::create_threads_in_child(t.task));
  ::close(keep[0]);  // ready
  park_forever();
}

// A zombie's stand-in: when signalled, it joins its group and ends with the
// saved status. Never core-dumps (not dumpable), so a signal's status has
// no core flag (the plan refused those).
Status zombie_ready(ForkEnv& env, const TreeNode& n) {
  TRY(set_name(env.plan->tasks.at(n.pid).task.comm()));
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return sys_fail("zombie {}: prctl(PR_SET_DUMPABLE)", n.pid);
  sigset_t all;
  sigfillset(&all);
  // Blocked before "ready": the controller may signal it right after.
  if (::sigprocmask(SIG_SETMASK, &all, nullptr) != 0) return sys_fail("zombie {}: block signals", n.pid);
  close_all_but_report(env.report_fd);
  ::close(env.report_fd);
  sigset_t wake;
  sigemptyset(&wake);
  sigaddset(&wake, kinds::kZombieSignal);
  while (::sigwaitinfo(&wake, nullptr) != kinds::kZombieSignal) {
  }
  if (n.join_pgid) (void)::setpgid(0, n.join_pgid);  // verify_tree checks it
  if ((n.exit_code & 0x7f) == 0) ::_exit((n.exit_code >> 8) & 0xff);
  const int sig = n.exit_code & 0x7f;
  ::signal(sig, SIG_DFL);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  ::syscall(SYS_kill, ::syscall(SYS_getpid), sig);
  ::sigprocmask(SIG_UNBLOCK, &one, nullptr);
  ::_exit(127);  // not reached: the signal ends it
}

Status helper_ready(ForkEnv& env, const TreeNode& n) {
  TRY(set_name("amber-helper"));
  sigset_t all;
  sigfillset(&all);
  (void)::sigprocmask(SIG_SETMASK, &all, nullptr);  // only SIGKILL ends it
  (void)n;
  close_all_but_report(env.report_fd);
  ::close(env.report_fd);
  park_forever();
}

Status node_steps(ForkEnv& env, pid_t pid) {
  const Plan& plan = *env.plan;
  const TreeNode& n = plan.tree.node(pid);
  if (n.kind == NodeKind::Task) TRY(env.faults.hit("restore.fork"));
  // Before it forks anything: its children inherit these areas.
  if (n.kind == NodeKind::Task) TRY(build_cow_areas(plan, pid, env.store_fds));
  TRY(kinds::create_shared_fds(plan.shared, pid, env.log_fd, &env.memfds, env.inherited, env.console_fd));
  for (pid_t c : n.before_setsid) TRY(fork_node(env, c));
  if (n.setsid && ::setsid() < 0) return sys_fail("{} {}: setsid", kinds::node_kind_name(n.kind), pid);
  if (n.own_pgrp && ::setpgid(0, 0) != 0) return sys_fail("{} {}: setpgid(0, 0)", kinds::node_kind_name(n.kind), pid);
  // A process gets its controlling terminal from its parent at fork: the
  // leader takes it before forking the rest of its session.
  if (n.setsid && n.kind == NodeKind::Task)
    TRY_CTX(kinds::take_controlling_tty(plan.tasks.at(pid).files, env.inherited, env.console_fd), "task {}", pid);
  TRY(kinds::create_shared_fds(plan.shared, pid, env.log_fd, &env.memfds, env.inherited, env.console_fd,
                               /*after_ctty=*/true));
  for (pid_t c : n.after_setsid) TRY(fork_node(env, c));
  switch (n.kind) {
    case NodeKind::Task: return task_ready(env, pid);
    case NodeKind::Zombie: return zombie_ready(env, n);
    default: return helper_ready(env, n);
  }
}

void run_node(ForkEnv& env, pid_t pid) {
  Status st = node_steps(env, pid);
  container::report_error(env.report_fd, st ? Error{Exit::Failed, 0, "fork phase ended early"} : st.error());
  ::_exit(1);
}

}  // namespace

Status init_side(const Plan& p, int log_fd, int console_fd, int report_fd, std::vector<int> shmem_fds, int host_ns,
                 const ExternalFds& ext, Faults faults) {
  // Only what the fork phase uses stays open: the shim kept the cgroup fd
  // for clone3, a directory of the host's tree, and a /proc/self/fd link to
  // it (an fd path of the image) would lead out of the container's root.
  std::vector<int> keep = {0, 1, 2, log_fd, console_fd, report_fd};
  keep.insert(keep.end(), shmem_fds.begin(), shmem_fds.end());
  if (host_ns >= 0) keep.push_back(host_ns);
  for (int fd : ext.all()) keep.push_back(fd);
  const std::vector<const image::PageReader*> stores = cow_stores(p);
  for (const image::PageReader* r : stores) keep.push_back(r->fd());
  for (const auto& fc : p.fs)
    if (fc.data) keep.push_back(fc.data.get());
  TRY(close_all_but(std::move(keep)));
  // The declared external namespaces instead of the ones clone3 did not make.
  TRY(join_namespaces(ext));
  const img::Namespaces& ns = p.container.namespaces();
  // A joined (external) namespace is not the image's: nothing is put in it.
  const auto joined = [&](int type) {
    return std::any_of(ext.ns.begin(), ext.ns.end(), [&](const auto& n) { return n.first == type; });
  };
  // The net sysctls are written through the procfs amber sees now: the
  // container's own may have /proc/sys read-only (kinds/ns/net.h).
  UniqueFd sysctl_dir;
  if (!joined(CLONE_NEWNET) && ns.has_net_ns())
    sysctl_dir = TRY(open_fd("/proc/sys/net", O_PATH | O_DIRECTORY | O_CLOEXEC));
  // The mount table, each tmpfs filled as it is made.
  std::map<uint32_t, kinds::MountContent> content;
  for (const auto& fc : p.fs) content[fc.mount_id] = {&fc.tree, fc.data.get(), fc.auth ? &*fc.auth : nullptr};
  TRY(kinds::build_mounts(p.container.namespaces(), p.mount_sources, content));
  TRY(faults.hit("restore.mounts"));
  // Unlinked files mapped shared live on those tmpfs mounts: made there now,
  // before any task is forked (each inherits them).
  TRY(kinds::place_shmem_files(p.shmem, shmem_fds));
  if (!joined(CLONE_NEWUTS)) TRY(kinds::restore_uts(ns.uts()));
  // Before any task opens its fds: mq fds are opened by the queue's name.
  if (!joined(CLONE_NEWIPC)) TRY(kinds::create_ipc_mqueues(ns.ipc_ns()));
  // lo as it was (an image without them: amber run's defaults). The ipc
  // namespace is the controller's (restore.cpp): its objects, then its sysctls.
  TRY(faults.hit("restore.net"));
  if (joined(CLONE_NEWNET)) {
  } else if (ns.has_net_ns()) {
    TRY(kinds::restore_net(ns.net_ns(), host_ns, sysctl_dir.get()));
  } else {
    TRY(container::loopback_up());
  }
  sysctl_dir.reset();  // no task may inherit the host's procfs
  if (host_ns >= 0) ::close(host_ns);  // no task may inherit the host's namespace
  ForkEnv env;
  env.plan = &p;
  env.report_fd = report_fd;
  env.log_fd = log_fd;
  env.console_fd = console_fd;
  env.shmem_fds = std::move(shmem_fds);
  env.memfds = kinds::shmem_fd_map(p.shmem, env.shmem_fds);
  env.faults = std::move(faults);
  // The stores' fds above every fd number of the image: the shared fds a
  // task creates before it forks must not land on them.
  for (const image::PageReader* r : stores) {
    int moved = ::fcntl(r->fd(), F_DUPFD_CLOEXEC, p.shared.top + 1);
    if (moved < 0) return sys_fail("init: move a page store fd");
    ::close(r->fd());
    env.store_fds[r] = moved;
  }
  // The descriptions handed in for declared externals: inherited by every
  // process like the ones an ancestor opened for it (shared.h), above
  // every fd number of the image.
  for (const auto& [ofd, fd] : ext.fds) {
    int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, p.shared.top + 1);
    if (moved < 0) return sys_fail("init: move an external's fd");
    ::close(fd);
    env.inherited[ofd] = moved;
  }
  run_node(env, p.tree.init);
}

}  // namespace amber::restore
