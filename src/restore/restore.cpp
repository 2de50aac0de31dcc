#include "restore/restore.h"

#include <fcntl.h>
#include <unistd.h>

#include <optional>
#include <vector>

#include "base/files.h"
#include "container.pb.h"
#include "container/init.h"
#include "container/paths.h"
#include "container/run.h"
#include "container/spawn.h"
#include "container/state.h"
#include "files.pb.h"
#include "fs.pb.h"
#include "image/layout.h"
#include "image/pages.h"
#include "image/reader.h"
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
#include "remote/remote_task.h"
#include "sys/cgroup.h"
#include "sys/procfs.h"
#include "task.pb.h"

namespace amber::restore {
namespace {

using namespace std::chrono_literals;

// A tmpfs's content with its data file open (the init reads it).
struct FsContent {
  img::FsTree tree;
  UniqueFd data;
};

// Everything read from the image and checked, before anything is created.
struct Plan {
  img::Container container;
  pid_t vpid = 0;
  img::Task task;
  img::Mm mm;
  img::Files files;
  std::optional<image::PageReader> pages;
  std::vector<FsContent> fs;
};

Result<Plan> read_plan(const image::ImageReader& image) {
  Plan p;
  p.container = TRY(image.read<img::Container>(image::container_path(), img::KIND_CONTAINER));
  for (const auto& u : p.container.unsupported())
    return unsupported("the image holds {} ({}), which this amber cannot restore", u.what(), u.reason());
  const auto& tree = p.container.tree();
  if (tree.tasks_size() != 1 || tree.tasks(0).pid() != tree.init_pid())
    return unsupported("the image holds {} tasks: containers with more than one process are not supported yet",
                       tree.tasks_size());
  p.vpid = tree.init_pid();
  p.task = TRY(image.read<img::Task>(image::task_path(p.vpid), img::KIND_TASK));
  if (p.task.threads_size() != 1)
    return unsupported("task {} has {} threads: multi-threaded processes are not supported yet", p.vpid,
                       p.task.threads_size());
  for (const auto& u : p.task.unsupported())
    return unsupported("task {}: {} ({}) cannot be restored", p.vpid, u.what(), u.reason());
  p.mm = TRY(image.read<img::Mm>(image::mm_path(p.vpid), img::KIND_MM));
  p.files = TRY(image.read<img::Files>(image::files_path(p.vpid), img::KIND_FILES));
  p.pages.emplace(TRY(image::PageReader::open(image, p.mm.pages_index())));
  TRY(p.pages->validate_size());
  TRY_CTX(kinds::validate_mm(p.mm, *p.pages), "task {}", p.vpid);
  TRY_CTX(kinds::check_rlimits(p.task), "task {}", p.vpid);
  TRY(kinds::check_inherited_mounts(p.container.namespaces(), TRY(sys::read_mountinfo(::getpid()))));
  for (const auto& m : p.container.namespaces().mounts()) {
    if (m.content().empty()) continue;
    FsContent fc;
    fc.tree = TRY(image.read<img::FsTree>(m.content(), img::KIND_FS_TREE));
    if (!fc.tree.data_file().empty()) fc.data = TRY(open_fd(image.path(fc.tree.data_file()), O_RDONLY));
    p.fs.push_back(std::move(fc));
  }
  return p;
}

// What the restore made so far; undone by the destructor unless it succeeded.
struct Made {
  Log& log;
  std::string state_dir;
  std::string cgroup;
  UniqueFd cgroup_fd;
  std::optional<container::Spawned> spawned;
  bool keep = false;

  ~Made() {
    if (keep) return;
    if (spawned) container::abort_spawned(*spawned, cgroup_fd.get());
    cgroup_fd.reset();
    if (!cgroup.empty())
      if (auto r = sys::cgroup_remove(cgroup); !r) log.warn("cleanup: {}", r.error().message);
    if (!state_dir.empty())
      if (auto r = remove_tree(state_dir); !r) log.warn("cleanup: {}", r.error().message);
  }
};

// Runs in the new init, inside its namespaces (a clone of the shim, itself a
// fork of this process): everything the task prepares for itself in plain
// C++, then it waits, stopped in pause(), for the controller to seize it and
// rebuild its address space.
Status init_side(const Plan& p, int log_fd, int report_fd) {
  if (::setsid() < 0) return sys_fail("setsid");
  TRY(container::setup_container_fs(p.container.rootfs()));
  for (const auto& fc : p.fs)
    TRY_CTX(kinds::restore_fs_tree(fc.tree, fc.data.get(), fc.tree.mountpoint()), "content of {}",
            fc.tree.mountpoint());
  TRY(kinds::restore_uts(p.container.namespaces().uts()));
  TRY(container::loopback_up());
  int keep[] = {report_fd};
  kinds::FdRestoreContext fctx{p.vpid, keep, log_fd};
  TRY(kinds::open_fds_in_child(p.files, fctx));
  TRY(kinds::apply_fs_context_in_child(p.task));
  ::close(keep[0]);  // tells the controller this side is ready
  for (;;) ::pause();
}

Result<container::ContainerState> describe(const std::string& name, const Plan& p, const Made& made) {
  container::ContainerState s;
  s.name = name;
  s.init = TRY_CTX(container::proc_ref(made.spawned->init_pid), "init");
  s.shim = TRY_CTX(container::proc_ref(made.spawned->shim_pid), "shim");
  s.cgroup = made.cgroup;
  s.namespaces = TRY(container::container_ns_inodes(made.spawned->init_pid));
  for (const auto& a : p.container.command()) s.command.push_back(a);
  for (const auto& e : p.container.env()) s.env.push_back(e);
  s.hostname = p.container.namespaces().uts().hostname();
  s.rootfs = p.container.rootfs();
  s.created = container::now_rfc3339();
  return s;
}

// The controller's part: the address space, signals, limits and registers of
// the seized init, rebuilt through remote syscalls (DESIGN.md "Restoring").
Status rebuild_task(remote::RemoteTask& task, Plan& p, Faults& faults) {
  const img::Thread& thread = p.task.threads(0);
  TRY(faults.hit("restore.executor"));
  auto current = TRY(sys::read_maps(task.tgid()));
  // The executor's size is bounded well below 1 MiB (code page, table, scratch).
  uint64_t at = kinds::pick_executor_addr(p.mm, current, size_t{1} << 20);
  if (at == 0) return failf("no room for the executor in the saved address space");
  TRY_CTX(task.map_executor(at), "map executor at {:#x}", at);
  TRY(faults.hit("restore.mm"));
  TRY(kinds::restore_mm(task, p.mm, *p.pages));
  TRY(faults.hit("restore.signals"));
  TRY_CTX(kinds::restore_sigactions(task, p.task), "signal actions");
  TRY(faults.hit("restore.rlimits"));
  TRY_CTX(kinds::restore_rlimits(task.tgid(), p.task), "rlimits");
  TRY(faults.hit("restore.thread"));
  TRY(kinds::restore_thread(task, thread));
  TRY(faults.hit("restore.unmap-executor"));
  TRY_CTX(task.unmap_executor(), "unmap executor");
  TRY(faults.hit("restore.verify"));
  TRY(kinds::verify_mm(task.tgid(), p.mm, 0, 0));
  TRY(kinds::restore_thread_final(task, thread));
  return {};
}

}  // namespace

Result<std::string> restore_container(const RestoreOptions& opts, Log& log, Faults& faults) {
  // 1. Everything is read and checked before anything is created.
  image::ImageReader image = TRY(image::ImageReader::open(opts.dir));
  TRY(image.validate());
  TRY(faults.hit("restore.validate"));
  Plan plan = TRY(read_plan(image));
  std::string name = opts.name.empty() ? plan.container.name() : opts.name;
  TRY(container::check_name(name));
  std::string what = fmt::format("restore {}", name);

  // 2. The container's name, cgroup and log.
  Made made{log};
  made.state_dir = TRY(container::reserve_state_dir(name));
  TRY(faults.hit("restore.reserve"));
  std::string cg_root = TRY(container::cgroup_root());
  made.cgroup = TRY_CTX(container::make_container_cgroup(cg_root, name), "{}", what);
  made.cgroup_fd = TRY_CTX(sys::cgroup_open(made.cgroup), "{}", what);
  TRY(faults.hit("restore.cgroup"));
  UniqueFd log_fd = TRY_CTX(container::open_container_log(made.state_dir), "{}", what);

  // 3. The init, in new namespaces under a new shim, prepares its fds and
  //    file system and waits.
  std::vector<int> init_fds = {log_fd.get()};
  for (const auto& fc : plan.fs)
    if (fc.data) init_fds.push_back(fc.data.get());
  container::SpawnSpec spec{container::kContainerNsFlags, {}, made.cgroup_fd.get(),
                            container::exit_file(made.state_dir), init_fds};
  const int log_raw = log_fd.get();
  made.spawned =
      TRY_CTX(container::spawn_init(spec, [&plan, log_raw](int report) { return init_side(plan, log_raw, report); }),
              "{}", what);
  log_fd.reset();
  TRY(faults.hit("restore.spawn"));
  TRY_CTX(container::wait_init_started(*made.spawned), "{}: prepare init", what);
  const pid_t init = made.spawned->init_pid;

  // 4. The controller rebuilds the task.
  TRY(faults.hit("restore.seize"));
  remote::RemoteTask task = TRY_CTX(remote::RemoteTask::seize(init), "{}: seize init {}", what, init);
  TRY_CTX(rebuild_task(task, plan, faults), "{}: task {}", what, plan.vpid);

  // 5. Registered as an amber container, then released: detached inside the
  //    frozen cgroup and thawed, so no task runs before all are ready.
  TRY(faults.hit("restore.state"));
  container::ContainerState st = TRY_CTX(describe(name, plan, made), "{}", what);
  TRY_CTX(container::write_state(made.state_dir, st), "{}", what);
  TRY(faults.hit("restore.release"));
  TRY_CTX(sys::cgroup_freeze(made.cgroup, 10s), "{}", what);
  if (auto r = task.release(); !r) {
    (void)sys::cgroup_thaw(made.cgroup, 10s);
    return std::unexpected(std::move(r.error()).wrap(what));
  }
  TRY_CTX(sys::cgroup_thaw(made.cgroup, 10s), "{}", what);
  made.keep = true;
  return name;
}

}  // namespace amber::restore
