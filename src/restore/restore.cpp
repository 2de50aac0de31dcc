#include "restore/restore.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <net/if.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <vector>

#include "base/files.h"
#include "kinds/ns/net_host.h"
#include "base/parallel.h"
#include "base/timeline.h"
#include "container.pb.h"
#include "container/log_image.h"
#include "container/paths.h"
#include "container/run.h"
#include "container/spawn.h"
#include "container/state.h"
#include "image/reader.h"
#include "kinds/ns/ipc.h"
#include "kinds/files/fdtable.h"
#include "kinds/files/inet_socket.h"
#include "kinds/ns/mounts.h"
#include "kinds/ns/net_lock.h"
#include "kinds/ns/uts.h"
#include "kinds/task_attrs.h"
#include "kinds/tree.h"
#include "recover/journal.h"
#include "remote/remote_task.h"
#include "restore/check.h"
#include "restore/cow.h"
#include "restore/fork_phase.h"
#include "restore/plan.h"
#include "restore/rebuild.h"
#include "sys/cgroup.h"
#include "sys/procfs.h"

namespace amber::restore {
namespace {

using namespace std::chrono_literals;

// The console description that gets the new console's slave itself
// (SharedFdsPlan.console_original); nullptr: the image has no console fd.
const img::Fd* console_original(const Plan& plan) {
  for (const auto& [pid, t] : plan.tasks)
    for (const img::Fd& fd : t.files.fds())
      if (fd.kind() == img::FD_TTY && fd.console() && fd.ofd_id() == plan.shared.console_original) return &fd;
  return nullptr;
}

// The new console is another pty (another index) than the one the image
// recorded as the controlling terminal (/proc/PID/stat field 7) of the
// console's session: its tasks are verified against the new one. The
// session is the one whose leader's console fd is `controlling`.
Status expect_new_console(Plan& plan, int slave) {
  pid_t sid = 0;
  for (const auto& [pid, t] : plan.tasks)
    for (const img::Fd& fd : t.files.fds())
      if (fd.kind() == img::FD_TTY && fd.console() && fd.tty().controlling()) sid = pid;
  if (sid == 0) return {};
  struct stat st {};
  if (::fstat(slave, &st) != 0) return sys_fail("the new console: stat");
  // The kernel's new_encode_dev, as /proc/PID/stat prints tty_nr.
  const uint64_t ma = major(st.st_rdev), mi = minor(st.st_rdev);
  const std::string tty_nr = std::to_string((mi & 0xff) | (ma << 8) | ((mi & ~uint64_t{0xff}) << 12));
  for (auto& [pid, t] : plan.tasks)
    if (t.task.sid() == sid && t.task.proc_stat().contains("7")) (*t.task.mutable_proc_stat())["7"] = tty_nr;
  return {};
}

// The seized threads of every task, by pid, each in the image's order.
using Seized = std::map<pid_t, std::vector<remote::RemoteTask>>;

// What the restore made so far; undone by the destructor unless it succeeded.
struct Made {
  Log& log;
  std::string state_dir;
  std::string cgroup;
  // sibling: the runtime's cgroup the tasks are released through (a v1
  // freezer or v2 directory amber was put in, and leaves), "" otherwise.
  std::string freezer;
  UniqueFd cgroup_fd;
  std::optional<container::Spawned> spawned;
  Seized seized;
  std::string host_link;  // --net veth: the host side the init makes
  bool keep = false;

  ~Made() {
    if (keep) return;
    // Killed while still seized: a half-rebuilt task never runs. Their
    // ends are ours to collect (we trace them) before the shim can see the
    // init's, non-leaders first (a leader is reported after its threads).
    if (cgroup_fd) (void)sys::cgroup_kill(cgroup);
    std::vector<remote::RemoteTask*> all;
    for (auto& [pid, threads] : seized)
      for (auto& t : threads) {
        (void)t.send_kill();
        all.push_back(&t);
      }
    (void)remote::wait_all_gone(all);
    seized.clear();
    if (spawned) container::abort_spawned(*spawned, cgroup_fd.get());
    if (auto r = kinds::unpublish_ports(host_link); !r) log.warn("cleanup: {}", r.error().message);
    if (auto r = kinds::remove_host_link(host_link); !r) log.warn("cleanup: {}", r.error().message);
    cgroup_fd.reset();
    if (!cgroup.empty())
      if (auto r = sys::cgroup_remove(cgroup); !r) log.warn("cleanup: {}", r.error().message);
    if (!state_dir.empty())
      if (auto r = remove_tree(state_dir); !r) log.warn("cleanup: {}", r.error().message);
  }
};

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
  if (const auto& n = p.container.namespaces().net_ns(); n.has_host() && !n.host().host_name().empty())
    s.veth = container::VethState{n.host().host_name(), n.host().host_address(), n.host().address(), n.host().name(),
                                  {n.host().publish().begin(), n.host().publish().end()}};
  return s;
}

// Every node of the plan is in the container; every task has exactly its
// image's threads, each seized (in the image's order).
Status seize_tasks(const Plan& plan, const std::map<pid_t, pid_t>& host_of, Seized& seized) {
  for (pid_t pid : plan.tree.order)
    if (!host_of.contains(pid))
      return failf("{} {} is missing after the fork phase", kinds::node_kind_name(plan.tree.node(pid).kind), pid);
  for (pid_t pid : plan.tree.order) {
    const TaskPlan* t = plan.tasks.contains(pid) ? &plan.tasks.at(pid) : nullptr;
    if (!t || t->zombie()) continue;
    const pid_t host = host_of.at(pid);
    std::map<pid_t, pid_t> tid_host;  // vpid -> host tid
    for (pid_t tid : TRY_CTX(sys::list_tids(host), "task {}", pid)) {
      sys::ProcStatus st = TRY_CTX(sys::read_thread_status(host, tid), "task {}: thread", pid);
      if (st.ns_pid.empty()) return failf("task {}: thread {} has no NSpid", pid, tid);
      tid_host[st.ns_pid.back()] = tid;
    }
    if (static_cast<int>(tid_host.size()) != t->task.threads_size())
      return failf("task {} has {} threads, the image {}", pid, tid_host.size(), t->task.threads_size());
    std::vector<remote::RemoteTask>& threads = seized[pid];
    for (const img::Thread& th : t->task.threads()) {
      auto it = tid_host.find(th.tid());
      if (it == tid_host.end()) return failf("task {}: thread {} is missing", pid, th.tid());
      // PTRACE_O_EXITKILL: a half-built task dies with amber.
      threads.push_back(TRY_CTX(remote::RemoteTask::seize(it->second, /*exit_kill=*/true), "seize task {} thread {}",
                                pid, th.tid()));
    }
  }
  return {};
}

// Scheduling of every thread, real-time policies last (task_attrs.h): the
// tasks stay in their ptrace stops until release_all.
Status restore_sched(const Plan& plan, Made& made) {
  std::vector<kinds::SchedTarget> targets;
  for (auto& [pid, threads] : made.seized) {
    const img::Task& task = plan.tasks.at(pid).task;
    for (size_t i = 0; i < threads.size(); ++i)
      targets.push_back({threads[i].tid(), pid, &task.threads(static_cast<int>(i))});
  }
  return kinds::restore_sched(targets);
}

// Freeze or thaw a v1 freezer or v2 cgroup, waiting until it agrees.
Status set_frozen(const std::string& cgroup, bool on) {
  if (!sys::is_v1_freezer(cgroup)) return on ? sys::cgroup_freeze(cgroup, 10s) : sys::cgroup_thaw(cgroup, 10s);
  TRY(sys::freezer_write(cgroup, on));
  const auto want = on ? sys::FreezerState::Frozen : sys::FreezerState::Thawed;
  for (int i = 0; i < 10000; ++i) {
    if (TRY(sys::freezer_state(cgroup)) == want) return {};
    ::usleep(1000);
  }
  return failf("{}: freezer.state not {} after 10 s", cgroup, on ? "FROZEN" : "THAWED");
}

// sibling: the cgroup the runtime put amber (and so the tasks it forks)
// into, to release them through: the v1 freezer if the host has one (a
// runtime on a hybrid host freezes there), else the v2 cgroup.
Result<std::string> runtime_freezer() {
  const auto entries = TRY(sys::read_cgroup(::getpid()));
  for (const sys::CgroupEntry& e : entries)
    for (const std::string& c : e.controllers)
      if (c == "freezer" && e.path != "/") {
        std::string dir = "/sys/fs/cgroup/freezer" + e.path;
        if (sys::is_v1_freezer(dir)) return dir;
      }
  std::string rel = TRY(sys::cgroup_v2_path(entries));
  if (rel == "/")
    return bad_input("amber is in the root cgroups (freezer and v2): its runtime did not put it into the container's");
  return TRY(sys::cgroup2_mount()) + rel;
}

// sibling: amber leaves the runtime's cgroup once the init (which inherited
// it) exists, so that freezing it at the release does not freeze amber.
Status leave_cgroup(const std::string& cgroup) {
  const std::string parent = cgroup.substr(0, cgroup.rfind('/'));
  return context(write_file(parent + "/cgroup.procs", std::to_string(::getpid())),
                 fmt::format("leave cgroup {}", cgroup));
}

// Detached inside the frozen cgroup and thawed together: no task runs
// before every one is ready. A task that was in a job-control stop gets
// SIGSTOP in every thread while frozen: each takes it before it returns to
// user space, so it stops without running (kinds/task_attrs.h). The network
// lock is lifted last before the thaw: until then a failed restore sends
// its peers nothing, and no task ever sees its send fail.
Status release_all(const Plan& plan, Made& made, kinds::NetLock& netlock) {
  const std::string& cgroup = made.freezer.empty() ? made.cgroup : made.freezer;
  TRY(set_frozen(cgroup, true));
  auto fail = [&](Error e, pid_t pid) -> Status {
    (void)set_frozen(cgroup, false);
    return std::unexpected(std::move(e).wrap(fmt::format("task {}", pid)));
  };
  for (auto& [pid, threads] : made.seized) {
    std::vector<pid_t> tids;
    for (auto& t : threads) {
      tids.push_back(t.tid());
      if (auto r = t.release(); !r) return fail(std::move(r.error()), pid);
    }
    if (plan.tasks.at(pid).task.stopped())
      if (auto r = kinds::stop_again(threads.front().tgid(), tids, pid); !r) return fail(std::move(r.error()), pid);
  }
  if (auto r = netlock.lift(); !r) {
    (void)set_frozen(cgroup, false);
    return std::unexpected(std::move(r.error()));
  }
  TRY(set_frozen(cgroup, false));
  return {};
}

}  // namespace

std::string format_summary(const RestoreSummary& s) {
  return fmt::format("restored {} from {}: {} process{} ({} thread{}), {:.1f} MiB in {:.1f} ms", s.name, s.dir,
                     s.processes, s.processes == 1 ? "" : "es", s.threads, s.threads == 1 ? "" : "s",
                     static_cast<double>(s.image_bytes) / (1 << 20), s.total_ms);
}

Result<RestoreSummary> restore_container(const RestoreOptions& opts, Log& log, Faults& faults) {
  // 1. Everything is read and checked before anything is created.
  Timeline tl;
  //    (check.h: the same check as `amber show --verify`, but the page
  //    data's chunk checksums, which are checked while it is streamed).
  //    The image must be authenticated with the key (image/auth.h): its
  //    registers and memory will run as root.
  const image::Key key = TRY(image::Key::for_option(opts.key_file));
  image::ImageReader image = TRY(image::ImageReader::open(opts.dir, key));
  Plan plan = TRY(check_image(image, PageData::Sizes, opts.rootfs));
  TRY(faults.hit("restore.validate"));
  // Host bind mounts: the paths a runtime gives (swrk) and --external mount:PATH=HOSTPATH.
  std::map<std::string, std::string> mount_paths = TRY(mount_bindings(plan, opts.externals));
  mount_paths.insert(opts.mount_externals.begin(), opts.mount_externals.end());
  plan.mount_sources = {plan.container.rootfs(), std::move(mount_paths)};
  std::string name = opts.name.empty() ? plan.container.name() : opts.name;
  if (!opts.sibling) TRY(container::check_name(name));
  std::string what = fmt::format("restore {}", name);
  // What the image declared external, bound to what this host gives for
  // it (exit 2 for one not given), before anything is created.
  BoundExternals ext = TRY(bind_externals(plan, opts.externals));
  const ExternalFds ext_fds = raw_fds(ext);
  tl.mark("read+validate");

  // 2. The container's name, cgroup and log.
  // What a SIGKILL of amber would leave, for the next command to remove
  // (recover/). Each piece is recorded right after it exists: recorded
  // before, a failure (the name is taken) would name someone else's.
  // The name is taken atomically with a mark of ours inside, recorded
  // before it is made (container::reserve_state_dir_marked), so that no
  // instant leaves a state directory the journal does not lead to.
  // --net veth: the host side's name (am-NAME of the dumped container) and
  // its /30 are the image's: taken while that container runs (or another
  // restore of the image does), whatever the new name. Exit 2 before
  // anything is made.
  if (const img::NetNs& n = plan.container.namespaces().net_ns(); n.has_host() && !n.host().host_name().empty())
    if (::if_nametoindex(n.host().host_name().c_str()) > 0)
      return bad_input("{}: the image's veth pair needs the host link {}, which the host already has (the dumped "
                       "container, or another restore of it, runs): kill it first",
                       what, n.host().host_name());
  recover::Journal journal = TRY(recover::Journal::begin(jrn::Journal::RESTORE, name));
  Made made{log};
  UniqueFd log_fd;
  if (opts.sibling) {
    // The runtime owns the container: no name, cgroup or log of amber's.
    made.freezer = TRY_CTX(runtime_freezer(), "{}", what);
  } else {
    const std::string hidden = container::reservation_dir(name, journal.owner_id());
    journal.data().set_reserving_dir(hidden);
    TRY(journal.set_phase(jrn::Journal::RESTORING));
    made.state_dir = TRY(container::reserve_state_dir_marked(name, hidden, journal.owner_id()));
    journal.data().set_state_dir(made.state_dir);
    journal.data().clear_reserving_dir();
    TRY(journal.save());
    TRY(container::drop_mark(made.state_dir));
    TRY(faults.hit("restore.reserve"));
    // The cgroup is ours by name now (the state directory is): recorded
    // before it is made, an empty leftover of the name is replaced.
    std::string cg_root = TRY(container::cgroup_root());
    journal.data().set_restore_cgroup(cg_root + "/" + name);
    TRY(journal.save());
    made.cgroup = TRY_CTX(container::make_container_cgroup(cg_root, name), "{}", what);
    made.cgroup_fd = TRY_CTX(sys::cgroup_open(made.cgroup), "{}", what);
    TRY(faults.hit("restore.cgroup"));
    log_fd = TRY_CTX(container::open_container_log(made.state_dir), "{}", what);
    // What the container wrote before the dump comes first (container/log_image.h).
    TRY(faults.hit("restore.log"));
    if (plan.container.has_log())
      TRY_CTX(container::restore_log(image, plan.container.log(), log_fd.get()), "{}", what);
  }

  // A --tty image: a new console (a pty of the host's devpts) with the
  // image's state; its master goes to the new shim (amber attach), its
  // slave to the tasks' console fds.
  kinds::NewConsole console;
  if (const img::Fd* original = console_original(plan)) {
    console = TRY_CTX(kinds::make_console(*original), "{}", what);
    TRY_CTX(expect_new_console(plan, console.slave.get()), "{}", what);
  }
  tl.mark("state+cgroup");

  // 3. The fork phase: the init, in new namespaces under a new shim, forks
  //    the whole tree; every process prepares what it can itself and waits.
  TRY(faults.hit("restore.shmem"));
  std::vector<UniqueFd> shmem = TRY_CTX(kinds::create_shmem(plan.shmem), "{}: shared memory", what);
  std::vector<int> shmem_raw;
  for (const UniqueFd& f : shmem) shmem_raw.push_back(f.get());
  std::vector<int> init_fds;
  if (log_fd) init_fds.push_back(log_fd.get());
  for (const auto& fc : plan.fs)
    if (fc.data) init_fds.push_back(fc.data.get());
  init_fds.insert(init_fds.end(), shmem_raw.begin(), shmem_raw.end());
  if (console.slave) init_fds.push_back(console.slave.get());
  for (int fd : ext_fds.all()) init_fds.push_back(fd);
  // --net veth: the init makes the pair from inside, its host side in the
  // host's namespace (an fd of it, closed before any task is forked); the
  // controller gives the host side its address.
  const img::NetNs& net = plan.container.namespaces().net_ns();
  UniqueFd host_ns;
  if (net.has_host() && !net.host().host_name().empty()) {
    host_ns = TRY_CTX(open_fd("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), "{}", what);
    init_fds.push_back(host_ns.get());
    made.host_link = net.host().host_name();
  }
  // Areas children share copy-on-write are built in the fork phase, in
  // slots of a reservation every process of it inherits (restore/cow.h),
  // from the page stores it reads itself.
  CowReservation cow_slots = TRY_CTX(CowReservation::map(plan), "{}", what);
  for (const std::string& w : plan.cow.not_kept)
    log.warn("{}: {}: its pages shared copy-on-write with its parent are copied, not shared", what, w);
  for (const image::PageReader* r : cow_stores(plan)) init_fds.push_back(r->fd());
  container::SpawnSpec spec{ext.clone_flags(container::kContainerNsFlags), {}, made.cgroup_fd.get(),
                            container::exit_file(made.state_dir), init_fds};
  spec.sibling = opts.sibling;
  if (console.master) {
    spec.console_fd = console.master.get();
    spec.attach_path = container::attach_socket(made.state_dir);
  }
  const int log_raw = log_fd.get(), host_ns_raw = host_ns ? host_ns.get() : -1;
  const int console_raw = console.slave ? console.slave.get() : -1;
  auto spawned = container::spawn_init(
      spec, [&plan, log_raw, console_raw, &shmem_raw, &faults, host_ns_raw, &ext_fds](int report) {
        return init_side(plan, log_raw, console_raw, report, shmem_raw, host_ns_raw, ext_fds, faults);
      });
  // The init's own failure can arrive here or from wait_init_started below.
  if (!spawned) {
    faults.child_failed(spawned.error());
    return std::unexpected(std::move(spawned.error()).wrap(what));
  }
  made.spawned = std::move(*spawned);
  log_fd.reset();
  console = {};  // the shim and the init have theirs
  ext = {};
  if (auto shim = container::proc_ref(made.spawned->shim_pid)) {
    journal.data().set_shim_pid(shim->pid);
    journal.data().set_shim_start_time(shim->start_time);
    TRY(journal.save());
  }
  tl.mark("spawn");
  TRY(faults.hit("restore.spawn"));
  if (auto r = container::wait_init_started(*made.spawned); !r) {
    faults.child_failed(r.error());
    return std::unexpected(std::move(r.error()).wrap(fmt::format("{}: fork phase", what)));
  }
  host_ns.reset();
  if (!made.host_link.empty()) {
    TRY_CTX(kinds::configure_host_side(net.host()), "{}", what);
    TRY_CTX(kinds::publish_ports(net.host()), "{}", what);
  }
  if (opts.sibling) TRY_CTX(leave_cgroup(made.freezer), "{}", what);
  tl.mark("fork-phase");
  if (opts.notify) TRY_CTX(opts.notify("setup-namespaces", made.spawned->init_pid), "{}: setup-namespaces", what);
  TRY_CTX(kinds::take_shmem_files(plan.shmem, shmem, made.spawned->init_pid), "{}: shared memory", what);

  // 4. The controller seizes every task, finishes the tree (groups, zombies,
  //    helpers) and rebuilds each task.
  TRY(faults.hit("restore.seize"));
  std::map<pid_t, pid_t> host_of =
      TRY_CTX(kinds::map_container_pids(opts.sibling ? made.freezer : made.cgroup), "{}", what);
  TRY_CTX(seize_tasks(plan, host_of, made.seized), "{}", what);
  std::map<pid_t, remote::RemoteTask*> leaders;
  for (auto& [pid, threads] : made.seized) leaders[pid] = &threads.front();
  TRY(faults.hit("restore.tree"));
  TRY_CTX(kinds::run_tree_actions(plan.tree, host_of, leaders), "{}", what);
  TRY(faults.hit("restore.verify-tree"));
  TRY_CTX(kinds::verify_tree(plan.tree, host_of), "{}", what);
  tl.mark("seize+tree");
  // The ipc namespace's SysV objects, with their ids, before any task is
  // rebuilt: the rebuild attaches the segments again (kinds/ns/ipc.h).
  const pid_t init_host = host_of.at(plan.container.tree().init_pid());
  const img::IpcNs& ipc = plan.container.namespaces().ipc_ns();
  // A joined (external) ipc namespace is not the image's: nothing of it
  // is made, set or verified.
  const bool own_ipc = !declares_namespace(plan.container, "ipc");
  TRY(faults.hit("restore.ipc-objects"));
  kinds::SysvHold sysv_hold;
  if (own_ipc) TRY_CTX(kinds::create_ipc_objects(init_host, ipc, plan.sysv_shm, sysv_hold), "{}", what);
  tl.mark("ipc-objects");
  const auto& drain = plan.tree.drain_sigchld;
  Progress progress("restore");
  for (const auto& [pid, t] : plan.tasks)
    if (t.pages) progress.add_total(t.pages->index().total_size());
  for (pid_t pid : plan.tree.order) {
    auto it = made.seized.find(pid);
    if (it == made.seized.end()) continue;
    bool d = std::find(drain.begin(), drain.end(), pid) != drain.end();
    tl.mark("rebuild");
    TRY_CTX(rebuild_task(it->second, plan.tasks.at(pid), plan.shmem, shmem, plan.shared.top, d, !opts.no_verify,
                         progress, faults, tl),
            "{}: task {}", what, pid);
  }
  tl.mark("rebuild");
  // The copy-on-write sharing the image promised is back.
  TRY_CTX(verify_cow(plan, host_of), "{}", what);
  tl.mark("verify.cow");
  // Every task has attached its segments again: the controller's hold of
  // the removed ones ends, and the namespace's sysctls follow its objects.
  TRY_CTX(sysv_hold.release(), "{}", what);
  TRY(faults.hit("restore.ipc"));
  if (own_ipc) TRY_CTX(kinds::restore_ipc_sysctls(init_host, ipc), "{}", what);
  tl.mark("ipc");
  // Clients whose connection was waiting in a listener's accept queue
  // connect again, now that every listener exists (inet_socket.h).
  TRY(faults.hit("restore.tcp-connect"));
  std::vector<std::pair<pid_t, const img::Files*>> tcp_tasks;
  for (const auto& [pid, threads] : made.seized) tcp_tasks.emplace_back(threads.front().tgid(), &plan.tasks.at(pid).files);
  TRY_CTX(kinds::reconnect_pending_tcp(tcp_tasks), "{}", what);

  // 5. Registered as an amber container, then released together.
  TRY(faults.hit("restore.state"));
  if (!opts.sibling) {
    container::ContainerState st = TRY_CTX(describe(name, plan, made), "{}", what);
    TRY_CTX(container::write_state(made.state_dir, st), "{}", what);
  }
  tl.mark("state");
  TRY(faults.hit("restore.sched"));
  TRY_CTX(restore_sched(plan, made), "{}", what);
  tl.mark("sched");

  // 6. Restore verification: what the kernel shows of every task and of
  //    the container's namespaces is what the image recorded, before any
  //    task runs (a difference fails and rolls back; --no-verify skips it).
  if (!opts.no_verify) {
    TRY(faults.hit("restore.verify-image"));
    // Only /proc reads: on every core (a task's smaps alone costs ~1 ms).
    std::vector<std::pair<const std::vector<remote::RemoteTask>*, const TaskPlan*>> jobs;
    for (const auto& [pid, threads] : made.seized) jobs.emplace_back(&threads, &plan.tasks.at(pid));
    TRY_CTX(parallel_jobs(jobs.size(), copy_workers(),
                          [&](size_t j, unsigned) { return verify_rebuilt(*jobs[j].first, *jobs[j].second); }),
            "{}", what);
    tl.mark("verify.tasks");
    TRY(faults.hit("restore.verify-container"));
    if (!declares_namespace(plan.container, "uts")) TRY_CTX(kinds::verify_uts(init_host, plan.container.namespaces().uts()), "{}", what);
    if (own_ipc) TRY_CTX(kinds::verify_ipc(init_host, ipc), "{}", what);
    TRY_CTX(kinds::verify_mounts(TRY(sys::read_mountinfo(init_host)), plan.container.namespaces()), "{}", what);
    tl.mark("verify");
  }
  // 7. The TCP connections leave repair mode now that both ends of each
  //    exist (kinds/files/inet_socket.h).
  TRY(faults.hit("restore.tcp"));
  TRY_CTX(kinds::finish_tcp_restore(tcp_tasks), "{}", what);
  tl.mark("tcp");
  if (opts.notify) TRY_CTX(opts.notify("post-restore", init_host), "{}: post-restore", what);
  TRY(faults.hit("restore.release"));
  // The init locked its namespace (fork_phase.cpp); a restore that fails
  // leaves it locked, to die with the namespace.
  kinds::NetLock netlock;
  if (kinds::net_lock_wanted(plan.container.namespaces().net_ns()))
    netlock = TRY_CTX(kinds::NetLock::adopt(init_host), "{}", what);
  TRY_CTX(release_all(plan, made, netlock), "{}", what);
  tl.mark("release");
  made.keep = true;
  // The container runs: nothing for a recovery to undo any more.
  if (auto r = journal.set_phase(jrn::Journal::RESTORED); !r) log.warn("{}", r.error().message);
  log.debug("timing: {}", tl.format());
  RestoreSummary sum{name, opts.dir, made.spawned->init_pid, static_cast<uint32_t>(plan.tasks.size())};
  for (const auto& [pid, threads] : made.seized) sum.threads += static_cast<uint32_t>(threads.size());
  for (const img::FileEntry& f : image.inventory().files()) sum.image_bytes += f.size();
  sum.fork_ms = tl.step_ms("spawn") + tl.step_ms("fork-phase");
  sum.total_ms = tl.since_start_ms();
  return sum;
}

}  // namespace amber::restore
