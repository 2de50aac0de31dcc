#include "dump/dump.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>

#include "base/files.h"
#include "container.pb.h"
#include "container/control.h"
#include "container/paths.h"
#include "container/state.h"
#include "files.pb.h"
#include "image/layout.h"
#include "image/pages.h"
#include "image/writer.h"
#include "kinds/files/fdtable.h"
#include "kinds/mm.h"
#include "kinds/ns/fs_tree.h"
#include "kinds/ns/mounts.h"
#include "kinds/ns/uts.h"
#include "kinds/rlimits.h"
#include "kinds/signals.h"
#include "kinds/task_misc.h"
#include "kinds/thread.h"
#include "mm.pb.h"
#include "seal/check.h"
#include "seal/hold.h"
#include "sys/procfs.h"
#include "task.pb.h"

namespace amber::dump {
namespace {

using Clock = std::chrono::steady_clock;

// Everything read from one task, ready to be written.
struct TaskImage {
  pid_t vpid = 0;
  img::Task task;
  img::Mm mm;
  img::Files files;
};

Result<container::ContainerState> running_container(const std::string& name) {
  container::ContainerState st = TRY(container::load_state(name));
  auto live = container::live_status(st);
  if (live.kind == container::LiveStatus::Kind::Stopped)
    return bad_input("container {} is {}: nothing to dump", name, live.text());
  if (live.kind == container::LiveStatus::Kind::Frozen)
    return bad_input("container {} is frozen by someone else (amber thaw {} releases it)", name, name);
  if (st.cgroup.empty()) return bad_input("container {} has no cgroup to hold it by", name);
  return st;
}

// Issue scope: the process tree and threads land with the next issue; until
// then refuse rather than dump part of a container.
Status check_single_task(seal::Hold& hold, pid_t init) {
  auto procs = hold.processes();
  if (procs.size() != 1 || procs[0] != init)
    return unsupported("the container has {} processes: containers with more than one process are not supported yet",
                       procs.size());
  if (hold.threads(init).size() != 1)
    return unsupported("the container's init has {} threads: multi-threaded processes are not supported yet",
                       hold.threads(init).size());
  return {};
}

Result<pid_t> vpid_of(pid_t pid) {
  sys::ProcStatus st = TRY(sys::read_status(pid));
  if (st.ns_pid.empty()) return failf("pid {}: no NSpid in status", pid);
  return st.ns_pid.back();
}

Result<img::NsRef> ns_ref(pid_t pid, const char* type) {
  img::NsRef r;
  r.set_inode(TRY(sys::read_ns_inode(pid, type)));
  return r;
}

Result<img::Container> dump_container_meta(const container::ContainerState& st, pid_t init) {
  img::Container c;
  c.set_name(st.name);
  for (const auto& a : st.command) c.add_command(a);
  for (const auto& e : st.env) c.add_env(e);
  c.set_rootfs(st.rootfs);
  c.set_cgroup(st.cgroup);
  img::Namespaces& ns = *c.mutable_namespaces();
  *ns.mutable_uts() = TRY(kinds::dump_uts(init));
  *ns.mutable_pid() = TRY(ns_ref(init, "pid"));
  *ns.mutable_ipc() = TRY(ns_ref(init, "ipc"));
  *ns.mutable_net() = TRY(ns_ref(init, "net"));
  *ns.mutable_mnt() = TRY(ns_ref(init, "mnt"));
  *ns.mutable_cgroup() = TRY(ns_ref(init, "cgroup"));
  // The host's initial user and time namespaces are accepted (DESIGN.md):
  // recorded, never dumped.
  *ns.mutable_user() = TRY(ns_ref(init, "user"));
  *ns.mutable_time() = TRY(ns_ref(init, "time"));
  return c;
}

// Mount table and the content of the container's own tmpfs mounts.
Status dump_mounts(img::Container& c, pid_t init, image::ImageWriter& image, Faults& faults) {
  auto ct = TRY(sys::read_mountinfo(init));
  auto host = TRY(sys::read_mountinfo(::getpid()));
  auto classified = TRY(kinds::classify_mounts(ct, host, c.rootfs()));
  int n = 0;
  for (auto& m : classified) {
    if (m.role == kinds::MountRole::OwnTmpfs) {
      TRY(faults.hit("dump.fs-content"));
      std::string base = fmt::format("fs/{}", n++);
      UniqueFd data = TRY(image.create_raw(base + ".bin", img::KIND_FS_DATA));
      uint64_t off = 0;
      std::string src = fmt::format("/proc/{}/root{}", init, m.mount.mountpoint());
      img::FsTree tree = TRY(kinds::dump_fs_tree(src, data.get(), &off));
      tree.set_mountpoint(m.mount.mountpoint());
      tree.set_fstype(m.mount.fstype());
      tree.set_options(kinds::tmpfs_mount_data(m.mount.super_options()));
      tree.set_data_file(base + ".bin");
      tree.set_data_size(off);
      TRY(image.write(base + ".img", img::KIND_FS_TREE, tree));
      m.mount.set_content(base + ".img");
    }
    *c.mutable_namespaces()->add_mounts() = std::move(m.mount);
  }
  return {};
}

Result<TaskImage> dump_task(remote::RemoteTask& task, pid_t vpid, const container::ContainerState& st,
                            image::ImageWriter& image, Faults& faults) {
  const pid_t pid = task.tgid();
  TaskImage t;
  t.vpid = vpid;
  t.task.set_pid(vpid);
  t.task.set_ppid(0);
  t.task.set_pgid(vpid);
  t.task.set_sid(vpid);
  TRY(faults.hit("dump.task"));
  // The executor gives the remote calls below one ptrace stop per batch; it
  // is unmapped before the task is released or killed.
  // (A failed dump releases the task, which unmaps the executor again.)
  TRY_CTX(task.map_executor(), "map executor");
  *t.task.add_threads() = TRY_CTX(kinds::dump_thread(task), "thread {}", vpid);
  TRY_CTX(kinds::dump_sigactions(task, t.task), "signal actions");
  TRY_CTX(kinds::dump_rlimits(pid, t.task), "rlimits");
  std::string root = TRY(kinds::read_root_link(pid));
  TRY_CTX(kinds::dump_fs_context(pid, root, t.task), "cwd/umask");
  sys::ProcStat stat = TRY(sys::read_stat(pid));
  t.task.set_comm(stat.comm);

  TRY(faults.hit("dump.fds"));
  kinds::FdDumpContext fctx{pid, vpid, root, container::log_file(container::state_dir(st.name))};
  t.files = TRY(kinds::dump_fds(fctx));

  TRY(faults.hit("dump.mm"));
  image::PageWriter pages =
      TRY(image::PageWriter::create(image, image::pages_index_path(vpid), image::pages_data_path(vpid)));
  t.mm = TRY(kinds::dump_mm(task, pages));
  TRY(pages.finish());
  t.mm.set_pages_index(image::pages_index_path(vpid));
  TRY_CTX(task.unmap_executor(), "unmap executor");
  return t;
}

Status write_task(image::ImageWriter& image, const TaskImage& t) {
  TRY(image.write(image::task_path(t.vpid), img::KIND_TASK, t.task));
  TRY(image.write(image::mm_path(t.vpid), img::KIND_MM, t.mm));
  TRY(image.write(image::files_path(t.vpid), img::KIND_FILES, t.files));
  return {};
}

// The seal check on the held container (DESIGN.md "The principle"): any
// leak no --external accepts refuses the dump (exit 3) before anything is
// read; the hold's destructor releases the container untouched.
Status check_sealed(seal::Hold& hold, const seal::Target& target, const DumpOptions& opts, Log& log) {
  seal::Report r = TRY(seal::check_held(hold, target, opts.externals));
  log.debug("seal check: {} leak(s), {} refused, {:.1f} ms", r.leaks.size(), r.refused(), r.elapsed_ms);
  if (!r.sealed()) return std::unexpected(seal::not_sealed(r));
  // A declared external is not dumped: restore would have to be given it
  // again (DESIGN.md), which this amber cannot do yet.
  for (const auto& l : r.leaks)
    if (l.accepted)
      return unsupported("--external {} accepts a leak ({} {}), but amber dump cannot record externals yet",
                         l.external, l.kind, l.id);
  return {};
}

// An outside task may have joined a namespace since the check: the cheap
// classes again, right before the tasks are killed or released.
Status recheck_sealed(seal::Hold& hold, const seal::Target& target, const DumpOptions& opts, Log& log) {
  seal::Report r = TRY(seal::recheck_cheap(hold, target, opts.externals));
  log.debug("seal re-check: {:.1f} ms", r.elapsed_ms);
  if (!r.sealed()) return std::unexpected(seal::not_sealed(r));
  return {};
}

}  // namespace

Status dump_container(const DumpOptions& opts, Log& log, Faults& faults) {
  container::ContainerState st = TRY(running_container(opts.name));
  const pid_t init = st.init.pid;

  image::ImageWriter image = TRY(image::ImageWriter::create(opts.dir));
  TRY(faults.hit("dump.create-image"));

  // SIGINT/SIGTERM wait until the container is released (hold.h).
  seal::InterruptGuard guard = TRY(seal::InterruptGuard::block());
  const seal::Target target = seal::target_for_container(st);
  auto held_at = Clock::now();
  seal::Hold hold = TRY_CTX(seal::hold_target(target, &guard), "hold container {}", st.name);
  TRY(faults.hit("dump.hold"));
  TRY(faults.hit("dump.seal-check"));
  TRY(check_sealed(hold, target, opts, log));
  TRY(check_single_task(hold, init));
  log.debug("holding {} ({} threads)", st.name, hold.all_threads().size());

  TRY(faults.hit("dump.container"));
  img::Container meta = TRY_CTX(dump_container_meta(st, init), "container {}", st.name);
  TRY_CTX(dump_mounts(meta, init, image, faults), "mounts of {}", st.name);
  TRY(guard.check());

  pid_t vpid = TRY(vpid_of(init));
  remote::RemoteTask* task = hold.task(init);
  if (!task) return failf("init {} is not held", init);
  TaskImage t = TRY_CTX(dump_task(*task, vpid, st, image, faults), "task {}", vpid);
  img::TaskRef* ref = meta.mutable_tree()->add_tasks();
  ref->set_pid(vpid);
  meta.mutable_tree()->set_init_pid(vpid);
  TRY(guard.check());

  TRY(faults.hit("dump.write"));
  TRY(write_task(image, t));
  TRY(image.write(image::container_path(), img::KIND_CONTAINER, meta));
  TRY(faults.hit("dump.commit"));
  TRY(image.commit());

  // From here the image is complete: a failure removes it again, so that a
  // failed dump never leaves an image beside a container that runs on.
  auto finish = [&]() -> Status {
    TRY(faults.hit("dump.finish"));
    TRY(recheck_sealed(hold, target, opts, log));
    if (opts.leave_running) return hold.release();
    TRY(hold.kill());
    return {};
  };
  auto ms = [&] { return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - held_at).count(); };
  if (auto r = finish(); !r) {
    if (auto rm = remove_tree(opts.dir); !rm) log.warn("removing image {}: {}", opts.dir, rm.error().message);
    return r;
  }
  log.info("{} dumped to {} (held for {} ms)", st.name, opts.dir, ms());
  if (!opts.leave_running) {
    // The tasks are gone; the shim, cgroup and state go the way `amber kill` does it.
    if (auto r = container::kill_container(st.name, log); !r)
      log.warn("cleaning up {} after the dump: {}", st.name, r.error().message);
  }
  return {};
}

}  // namespace amber::dump
