#include "dump/dump.h"

#include "dump/blockers.h"
#include "dump/externals.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <cstdlib>
#include <map>

#include "base/files.h"
#include "base/progress.h"
#include "base/timeline.h"
#include "container.pb.h"
#include "container/control.h"
#include "container/log_image.h"
#include "container/paths.h"
#include "container/state.h"
#include "files.pb.h"
#include "image/layout.h"
#include "image/pages.h"
#include "image/writer.h"
#include "kinds/completeness.h"
#include "kinds/creds.h"
#include "kinds/files/fdtable.h"
#include "kinds/files/inet_socket.h"
#include "kinds/itimers.h"
#include "kinds/posix_timers.h"
#include "kinds/mm.h"
#include "kinds/ns/fs_tree.h"
#include "sys/sock_diag.h"
#include "kinds/ns/ipc.h"
#include "kinds/ns/ipc_semundo.h"
#include "kinds/ns/membership.h"
#include "kinds/ns/mounts.h"
#include "kinds/ns/net.h"
#include "kinds/ns/net_host.h"
#include "kinds/ns/net_lock.h"
#include "kinds/ns/uts.h"
#include "kinds/rlimits.h"
#include "kinds/seccomp.h"
#include "kinds/shmem.h"
#include "kinds/signals.h"
#include "kinds/task_attrs.h"
#include "kinds/task_misc.h"
#include "kinds/thread.h"
#include "kinds/tree.h"
#include "recover/journal.h"
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
  pid_t pid = 0;  // as amber sees it
  pid_t vpid = 0;
  bool zombie = false;
  img::Task task;
  img::Mm mm;
  img::Files files;
  // Its pages that are its parent's (PagesIndex.parent_runs): [start, end).
  std::vector<std::pair<uint64_t, uint64_t>> parent_runs;
  uint64_t pages_written = 0;  // in its own data file
};

// pid mode (DumpOptions.pid): what the driver needs of a container state,
// for a container amber did not start: no shim, no state directory.
Result<container::ContainerState> foreign_container(const DumpOptions& opts, const seal::Target& target) {
  container::ContainerState st;
  st.name = opts.name.empty() ? target.name : opts.name;
  st.init = TRY_CTX(container::proc_ref(opts.pid), "pid {}", opts.pid);
  st.cgroup = target.cgroup;
  st.rootfs = opts.root;
  std::string cmdline = TRY_CTX(read_file(fmt::format("/proc/{}/cmdline", opts.pid)), "pid {}", opts.pid);
  for (std::string_view arg : split(cmdline, '\0'))
    if (!arg.empty()) st.command.emplace_back(arg);
  return st;
}

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

// Every held process with its held threads, and the whole tree with zombies;
// each task in the init's namespaces.
Result<std::vector<kinds::TreeTask>> collect_tree(seal::Hold& hold, pid_t init, Faults& faults) {
  std::map<pid_t, std::vector<pid_t>> held;
  for (pid_t tgid : hold.processes()) held[tgid] = hold.threads(tgid);
  std::vector<kinds::TreeTask> tree = TRY(kinds::collect_tree(held, init));
  TRY(kinds::check_unshared(tree));
  TRY(faults.hit("dump.nested-ns"));
  TRY(kinds::check_same_namespaces(tree));
  return tree;
}

// The restore plans the tree from the image (sessions, groups, helpers)
// and refuses what it cannot recreate: the same plan now, on what is about
// to be written, so that no image is written that its restore would refuse.
Status check_tree_restorable(const std::vector<TaskImage>& tasks) {
  std::vector<const img::Task*> list;
  for (const TaskImage& t : tasks) list.push_back(&t.task);
  TRY_CTX(kinds::plan_image_tree(list, TRY(sys::read_pid_max())), "process tree");
  return {};
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
  *ns.mutable_uts_ref() = TRY(ns_ref(init, "uts"));
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
Status dump_mounts(img::Container& c, pid_t init, const DumpOptions& opts, image::ImageWriter& image,
                   Faults& faults) {
  // Socket files the container's unix sockets are bound to (their binds
  // make them again on restore).
  kinds::BoundSocketFiles bound;
  {
    UniqueFd net = TRY(open_fd(fmt::format("/proc/{}/ns/net", init), O_RDONLY));
    for (const sys::UnixSockDiag& s : TRY(sys::unix_sockets(net.get())))
      if (s.vfs_ino != 0) bound.insert({s.vfs_dev, s.vfs_ino});
  }
  return kinds::dump_mounts(init, mount_scope(c.rootfs(), opts.externals), bound, image, faults,
                            *c.mutable_namespaces());
}

// What of one thread only the thread can tell, or is its own: sigaltstack
// and friends, its signal queue, credentials and seccomp filters. The
// executor must be mapped or shared. `st`: the thread's /proc status, read
// once by the caller (a procfs read costs tens of microseconds here).
Status dump_thread_state(remote::RemoteTask& th, pid_t pid, const sys::ProcStatus& st, img::Thread& out,
                         Faults& faults) {
  TRY(kinds::dump_thread_attrs(th, out));
  TRY(faults.hit("dump.sched"));
  TRY(kinds::dump_sched(th.tid(), *out.mutable_sched()));
  TRY(kinds::dump_thread_prctl(th, out));
  TRY(faults.hit("dump.pending"));
  TRY_CTX(kinds::dump_pending(th.tid(), /*shared=*/false, *out.mutable_pending()), "pending signals");
  TRY(faults.hit("dump.creds"));
  TRY_CTX(kinds::dump_creds(th, pid, out), "credentials");
  TRY(faults.hit("dump.seccomp"));
  TRY(kinds::dump_seccomp(th.tid(), st, out));
  return {};
}

// Everything of one process but its fds' links to the other tasks'
// (kinds::link_fds, once every task is probed).
Result<TaskImage> dump_task(seal::Hold& hold, const std::vector<kinds::TreeTask>& tree, const kinds::TreeTask& tt,
                            const container::ContainerState& st, const std::string& container_root,
                            const std::map<pid_t, pid_t>& vpid_of, const kinds::Reference& ref,
                            const kinds::ConsoleRef* console, const kinds::TcpRepairSession& tcp,
                            const std::map<int, std::string>* externals, image::ImageWriter& image,
                            kinds::TaskFds& fds, Progress& progress, Faults& faults, Timeline& tl) {
  TaskImage t;
  t.pid = tt.pid;
  t.vpid = tt.vpid;
  t.zombie = tt.zombie;
  kinds::fill_task_ids(tt, t.task);
  if (tt.zombie) return t;  // an exit status is all that is left of it
  const pid_t pid = tt.pid;
  TRY(faults.hit("dump.task"));
  std::vector<remote::RemoteTask*> threads;
  for (pid_t tid : tt.threads) {
    remote::RemoteTask* th = hold.task(tid);
    if (!th) return failf("thread {} of task {} is not held", tid, tt.vpid);
    threads.push_back(th);
  }
  remote::RemoteTask& leader = *threads.front();
  // The executor gives the remote calls below one ptrace stop per batch; the
  // other threads share it (one address space). It is unmapped before the
  // task is released or killed (a failed dump's release unmaps it again).
  tl.mark("tasks");
  // Before any remote code: its traps would change these (remote_task.h).
  for (remote::RemoteTask* th : threads) TRY(th->check_sigtrap());
  TRY_CTX(leader.map_executor(), "map executor");
  tl.mark("task.executor");
  TRY(faults.hit("dump.threads"));
  std::map<pid_t, pid_t> vtid_of;  // the SIGEV_THREAD_ID targets of POSIX timers
  for (remote::RemoteTask* th : threads) {
    sys::ProcStatus ts = TRY(sys::read_thread_status(pid, th->tid()));
    if (ts.ns_pid.empty()) return failf("thread {}: no NSpid", th->tid());
    const pid_t vtid = ts.ns_pid.back();
    vtid_of[th->tid()] = vtid;
    img::Thread* out = t.task.add_threads();
    *out = TRY_CTX(kinds::dump_thread(*th), "thread {}", vtid);
    out->set_tid(vtid);
    if (th != &leader) TRY(th->share_executor(leader));
    Status attrs = dump_thread_state(*th, pid, ts, *out, faults);
    if (th != &leader) th->drop_shared_executor();
    TRY_CTX(std::move(attrs), "thread {}", vtid);
  }
  tl.mark("task.threads");
  TRY_CTX(kinds::dump_sigactions(leader, t.task), "signal actions");
  TRY_CTX(kinds::dump_pending(leader.tid(), /*shared=*/true, *t.task.mutable_shared_pending()), "pending signals");
  TRY_CTX(kinds::dump_dumpable(leader, t.task), "dumpable");
  TRY(faults.hit("dump.task-attrs"));
  // A job-control stop of the group is seen by every thread's hold (or
  // entered while held); the kernel puts it back at release or detach.
  bool stopped = false;
  for (const remote::RemoteTask* th : threads) stopped |= th->group_stopped();
  TRY(kinds::dump_process_attrs(leader, stopped, t.task));
  TRY(faults.hit("dump.itimers"));
  TRY_CTX(kinds::dump_itimers(leader, t.task), "itimers");
  TRY(faults.hit("dump.posix-timers"));
  TRY_CTX(kinds::dump_posix_timers(leader, vtid_of, t.task), "task {}", tt.vpid);
  TRY_CTX(kinds::dump_rlimits(leader, t.task), "rlimits");
  const kinds::ProcReopen reopen = kinds::proc_reopen_for(tree, tt.vpid);
  TRY_CTX(kinds::dump_fs_context(pid, container_root, reopen, t.task), "cwd/umask");
  kinds::fill_task_ids(tt, t.task);  // comm: the process's, as /proc/PID/stat has it
  // Every /proc field is restored, inherited or refused (completeness.h).
  TRY(faults.hit("dump.proc-fields"));
  TRY(kinds::record_proc_fields(pid, tt.threads, ref, t.task));

  tl.mark("task.process-attrs");
  TRY(faults.hit("dump.fds"));
  kinds::FdDumpContext fctx{pid, tt.vpid, TRY(kinds::read_root_link(pid)),
                            container::log_file(container::state_dir(st.name)), &vpid_of};
  fctx.proc = reopen;
  fctx.console = console;
  fctx.tcp = &tcp.connections();
  fctx.tcp_pending = &tcp.pending();
  fctx.externals = externals;
  fds = TRY(kinds::probe_fds(fctx));

  tl.mark("task.fds");
  TRY(faults.hit("dump.mm"));
  image::PageWriter pages =
      TRY(image::PageWriter::create(image, image::pages_index_path(tt.vpid), image::pages_data_path(tt.vpid)));
  // Its parent, if held: pages still shared with it since the fork are
  // recorded as the parent's, not stored twice.
  // AMBER_NO_COW_SHARING=1 stores every task's pages whole (the image an
  // amber before format version 3 wrote; bench/cow.sh compares the two).
  pid_t parent = 0;
  const char* no_cow = std::getenv("AMBER_NO_COW_SHARING");
  const bool cow = !no_cow || !*no_cow || std::string_view(no_cow) == "0";
  for (const kinds::TreeTask& p : tree)
    if (cow && p.vpid == tt.ppid && !p.zombie && tt.ppid != 0) parent = p.pid;
  t.mm = TRY(kinds::dump_mm(leader, pages, &progress, parent));
  TRY(pages.finish());
  t.pages_written = pages.index().total_size() / image::kPageSize;
  for (const img::PageRun& r : pages.index().parent_runs())
    t.parent_runs.emplace_back(r.vaddr(), r.vaddr() + r.nr_pages() * image::kPageSize);
  t.mm.set_pages_index(image::pages_index_path(tt.vpid));
  tl.mark("task.mm");
  TRY_CTX(leader.unmap_executor(), "unmap executor");
  tl.mark("task.executor");
  return t;
}

// "task V: " before an error of task V's dump, unless the step that failed
// named the task itself (the fd walker does): each task is named once.
Result<TaskImage> named_task(Result<TaskImage> r, pid_t vpid) {
  if (r) return r;
  const std::string prefix = fmt::format("task {}:", vpid);
  if (r.error().message.starts_with(prefix)) return r;
  return std::unexpected(std::move(r.error()).wrap(fmt::format("task {}", vpid)));
}

Status write_task(image::ImageWriter& image, const TaskImage& t) {
  TRY(image.write(image::task_path(t.vpid), img::KIND_TASK, t.task));
  if (t.zombie) return {};
  TRY(image.write(image::mm_path(t.vpid), img::KIND_MM, t.mm));
  TRY(image.write(image::files_path(t.vpid), img::KIND_FILES, t.files));
  return {};
}

// The seal check on the held container (DESIGN.md "The principle"): any
// leak no --external accepts refuses the dump (exit 3) before anything is
// read; the hold's destructor releases the container untouched. The
// accepted ones are the declared externals (dump/externals.h).
Result<seal::Report> check_sealed(seal::Hold& hold, const seal::Target& target, const DumpOptions& opts, Log& log) {
  seal::Report r = TRY(seal::check_held(hold, target, opts.externals));
  log.debug("seal check: {} leak(s), {} refused, {:.1f} ms", r.leaks.size(), r.refused(), r.elapsed_ms);
  if (!r.sealed()) return std::unexpected(seal::not_sealed(r));
  return r;
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

std::string format_summary(const DumpSummary& s) {
  return fmt::format("dumped {} to {}: {} process{} ({} thread{}), {:.1f} MiB in {:.1f} ms, frozen {:.1f} ms", s.name,
                     s.dir, s.processes, s.processes == 1 ? "" : "es", s.threads, s.threads == 1 ? "" : "s",
                     static_cast<double>(s.image_bytes) / (1 << 20), s.total_ms, s.frozen_ms);
}

namespace {

// Test-only (AMBER_PAUSE_AT=POINT): waits 3 s at POINT, the container held,
// so that a test can do something outside at that instant (e2e
// dump_tty_console: an attach between the seal check and its re-check).
Status pause_for_test(const char* point, const seal::InterruptGuard& guard) {
  const char* at = std::getenv("AMBER_PAUSE_AT");
  if (!at || std::strcmp(at, point) != 0) return {};
  fmt::print(stderr, "paused at {}\n", point);
  std::fflush(stderr);
  for (int i = 0; i < 300; ++i) {
    TRY(guard.check());
    ::usleep(10000);
  }
  return {};
}

// CRIU's network-lock / network-unlock notifications around a dump: the
// runtime cuts the container's links while it is held; a dump that fails
// (or leaves it running) gives them back.
class NetworkLock {
 public:
  NetworkLock(const DumpNotify& notify, Log& log) : notify_(notify), log_(log) {}
  NetworkLock(const NetworkLock&) = delete;
  NetworkLock& operator=(const NetworkLock&) = delete;
  ~NetworkLock() {
    if (auto r = unlock(); !r) log_.warn("network-unlock: {}", r.error().message);
  }
  Status lock() {
    if (!notify_) return {};
    TRY_CTX(notify_("network-lock"), "network-lock");
    locked_ = true;
    return {};
  }
  Status unlock() {
    if (!locked_) return {};
    locked_ = false;
    return context(notify_("network-unlock"), "network-unlock");
  }
  void keep() { locked_ = false; }

 private:
  const DumpNotify& notify_;
  Log& log_;
  bool locked_ = false;
};

}  // namespace

Result<DumpSummary> dump_container(const DumpOptions& opts, Log& log, Faults& faults) {
  Timeline tl;
  // The key first: a key file that cannot be used stops the dump before the
  // container is touched.
  const image::Key key = TRY(image::Key::for_option(opts.key_file));
  const bool foreign = opts.pid != 0;
  seal::Target target = foreign ? TRY(seal::target_for_pid(opts.pid, opts.freeze_cgroup)) : seal::Target{};
  container::ContainerState st = foreign ? TRY(foreign_container(opts, target)) : TRY(running_container(opts.name));
  const pid_t init = st.init.pid;

  // What a SIGKILL of amber would leave, written before it is made, for the
  // next amber command to undo (recover/): the temporary image, the hold.
  recover::Journal journal = TRY(recover::Journal::begin(jrn::Journal::DUMP, st.name));
  journal.data().set_temp_image(image::ImageWriter::temp_dir_for(opts.dir));
  journal.data().set_image(opts.dir);
  TRY(journal.set_phase(jrn::Journal::HOLDING));
  image::ImageWriter image = TRY(image::ImageWriter::create(opts.dir, key));
  TRY(faults.hit("dump.create-image"));
  tl.mark("create-image");
  // The log is copied before the hold, only what is appended meanwhile
  // while the container is held (container/log_image.h).
  // (A runtime's container has no log of amber's: nothing to carry.)
  const std::string log_path = foreign ? "" : container::log_file(container::state_dir(st.name));
  container::LogCopy log_copy = TRY_CTX(container::LogCopy::start(log_path, image), "container {}", st.name);
  tl.mark("log");
  // Read while the container is being held, not while it is frozen.

  // SIGINT/SIGTERM wait until the container is released (hold.h).
  seal::InterruptGuard guard = TRY(seal::InterruptGuard::block());
  if (!foreign) target = seal::target_for_container(st);
  seal::Hold hold = TRY_CTX(seal::hold_target(target, &guard, &journal), "hold container {}", st.name);
  TRY(faults.hit("dump.hold"));
  tl.mark("hold");
  TRY(faults.hit("dump.seal-check"));
  const seal::Report sealed = TRY(check_sealed(hold, target, opts, log));
  // What the accepted leaks declare external: not dumped, recorded for the
  // restore to be given again (or refused by name below).
  kinds::Blockers blockers;
  const Declared declared = declared_externals(sealed.leaks, blockers);
  tl.mark("seal-check");
  // A runtime blocks the container's network while it is held (CRIU's
  // network-lock), and lets it go again if the dump fails.
  NetworkLock runtime_lock(opts.notify, log);
  TRY(runtime_lock.lock());
  TRY(faults.hit("dump.tree"));
  std::vector<kinds::TreeTask> tree = TRY_CTX(collect_tree(hold, init, faults), "container {}", st.name);
  // The console of a --tty container: its master is the shim's.
  std::optional<kinds::ConsoleRef> console;
  if (!foreign) console = TRY_CTX(kinds::find_console(st.shim.pid), "container {}", st.name);
  const kinds::ConsoleRef* console_ref = console ? &*console : nullptr;
  // Everything amber cannot dump yet, named at once, before anything is read.
  BlockerScan scan;
  scan.externals = &declared;
  scan.tcp_established = opts.tcp_established;
  scan.runtime = foreign;
  const kinds::MountScope scope = mount_scope(st.rootfs, opts.externals);
  const kinds::Blockers found = TRY(find_blockers(tree, log_path, console_ref, &scope, scan));
  for (const std::string& l : found.lines()) blockers.add(l);
  TRY(blockers.status());
  tl.mark("blockers");
  // The network lock (kinds/ns/net_lock.h): from here no packet crosses
  // the container's links until the restored tasks run, or until this dump
  // fails or leaves the container running (its destructor runs before the
  // hold's). Not before: a dump refused so far never touched the network.
  const bool external_net = std::any_of(opts.externals.begin(), opts.externals.end(),
                                        [](const seal::External& e) { return e.kind == "net"; });
  kinds::NetLock netlock;
  const std::vector<std::string> links =
      TRY_CTX(kinds::net_lock_links(init, external_net), "container {}: network lock", st.name);
  if (!links.empty()) {
    auto journal_lock = [&journal, init](uint64_t netns) -> Status {
      journal.data().mutable_net_lock()->set_tgid(init);
      journal.data().mutable_net_lock()->set_netns_inode(netns);
      return journal.save();
    };
    netlock = TRY_CTX(kinds::NetLock::take(init, links, journal_lock, log), "container {}", st.name);
  }
  TRY(faults.hit("dump.net-lock"));
  tl.mark("net-lock");
  // Every established TCP connection into repair mode and read at one
  // instant (inet_socket.h), before any task is read; out of repair mode
  // again when this dump fails (the session's destructor runs before the
  // lock's and the hold's) or leaves the container running.
  std::vector<std::pair<pid_t, pid_t>> live;
  for (const kinds::TreeTask& tt : tree)
    if (!tt.zombie) live.emplace_back(tt.pid, tt.vpid);
  auto journal_repair = [&journal](const std::vector<kinds::RepairedSocket>& socks) -> Status {
    for (const kinds::RepairedSocket& s : socks) {
      jrn::RepairedSocket* r = journal.data().add_repaired_sockets();
      r->set_tgid(s.pid);
      r->set_fd(s.fd);
      r->set_inode(s.inode);
      r->set_reuseaddr(s.reuseaddr);
    }
    return journal.save();
  };
  kinds::TcpRepairSession tcp =
      TRY_CTX(kinds::TcpRepairSession::begin(live, netlock.held(), journal_repair), "container {}", st.name);
  TRY(faults.hit("dump.tcp-repair"));
  tl.mark("tcp-repair");
  log.debug("holding {} ({} processes, {} threads)", st.name, tree.size(), hold.all_threads().size());
  DumpSummary sum{st.name, opts.dir, static_cast<uint32_t>(tree.size()),
                  static_cast<uint32_t>(hold.all_threads().size())};

  TRY(faults.hit("dump.container"));
  img::Container meta = TRY_CTX(dump_container_meta(st, init), "container {}", st.name);
  record_externals(declared, meta);
  tl.mark("container-meta");
  TRY(faults.hit("dump.log"));
  if (auto history = TRY_CTX(log_copy.finish(), "container {}", st.name)) *meta.mutable_log() = std::move(*history);
  tl.mark("log-tail");
  // amber's containers own their ipc and net namespaces (kContainerNsFlags),
  // unless declared external: then nothing of it is dumped.
  TRY(faults.hit("dump.ipc"));
  if (!declared.has_ns("ipc")) {
    *meta.mutable_namespaces()->mutable_ipc_ns() = TRY_CTX(kinds::dump_ipc(init, &image), "container {}", st.name);
    // Each undo list's SEM_UNDO adjustments, read by probing semops in one
    // of its threads that never succeed (kinds/ns/ipc_semundo.h).
    TRY(faults.hit("dump.sem-undo"));
    for (const kinds::SemUndoHolder& h : TRY_CTX(kinds::find_sem_undo_holders(tree), "container {}", st.name)) {
      remote::RemoteTask* th = hold.task(h.tid);
      if (!th) return failf("container {}: thread {} of task {} is not held", st.name, h.tid, h.vpid);
      TRY_CTX(kinds::dump_sem_undo(*th, h.vpid, *meta.mutable_namespaces()->mutable_ipc_ns()), "container {}",
              st.name);
    }
  }
  tl.mark("ipc");
  // The net namespace's ~600 sysctls are read on the other core while the
  // tasks are dumped (the container is held: nothing changes them); joined
  // before anything is written.
  TRY(faults.hit("dump.net"));
  // --net veth: the container's end of the pair is amber's host link.
  std::optional<img::HostLink> host = container::host_link(st);
  // The host side's other addresses (kinds/ns/net_host.h), given back at the restore.
  if (host) TRY_CTX(kinds::read_host_side(*host), "container {}", st.name);
  std::future<Result<img::NetNs>> net_job;
  if (!declared.has_ns("net"))
    net_job = std::async(std::launch::async, [init, host] { return kinds::dump_net(init, host ? &*host : nullptr); });
  TRY_CTX(dump_mounts(meta, init, opts, image, faults), "mounts of {}", st.name);
  TRY(guard.check());
  tl.mark("container");

  // Paths of every task are stored relative to the container's root.
  const std::string container_root = TRY(kinds::read_root_link(init));
  const kinds::Reference ref = TRY_CTX(kinds::read_reference(), "amber's own /proc fields");
  std::vector<TaskImage> tasks;
  std::vector<kinds::TaskFds> fds;  // live tasks only, in tree order
  std::map<pid_t, pid_t> vpid_of;    // amber's pid -> the container's, zombies included
  for (const kinds::TreeTask& tt : tree) vpid_of[tt.pid] = tt.vpid;
  std::map<pid_t, std::map<int, std::string>> ext_fds;  // each task's fds on a declared external
  for (const kinds::TreeTask& tt : tree) ext_fds[tt.pid] = declared.fds_of(tt.pid);
  Progress progress("dump");
  for (const kinds::TreeTask& tt : tree) {
    kinds::TaskFds f;
    tasks.push_back(TRY(named_task(dump_task(hold, tree, tt, st, container_root, vpid_of, ref, console_ref, tcp,
                                             &ext_fds.at(tt.pid), image, f, progress, faults, tl),
                                   tt.vpid)));
    if (!tt.zombie) fds.push_back(std::move(f));
    img::TaskRef* ref = meta.mutable_tree()->add_tasks();
    ref->set_pid(tt.vpid);
    ref->set_ppid(tt.ppid);
    ref->set_zombie(tt.zombie);
    TRY(guard.check());
  }
  meta.mutable_tree()->set_init_pid(tree.front().vpid);
  tl.mark("tasks");
  if (net_job.valid()) *meta.mutable_namespaces()->mutable_net_ns() = TRY_CTX(net_job.get(), "container {}", st.name);
  tl.mark("net");
  TRY(faults.hit("dump.tree-plan"));
  TRY_CTX(check_tree_restorable(tasks), "container {}", st.name);
  TRY(faults.hit("dump.link-fds"));
  TRY(kinds::link_fds(fds));
  for (size_t i = 0, k = 0; i < tasks.size(); ++i)
    if (!tasks[i].zombie) tasks[i].files = std::move(fds[k++].files);

  // Memory shared between tasks: each object once, read while still held.
  TRY(faults.hit("dump.shmem"));
  std::vector<kinds::ShmemHolder> holders;
  for (TaskImage& t : tasks)
    if (!t.zombie) holders.push_back({t.pid, t.vpid, &t.mm, &t.files});
  img::SharedMemory shmem = TRY(kinds::dump_shmem(holders, image));
  if (shmem.objects_size() > 0) TRY(image.write(image::shmem_path(), img::KIND_SHMEM, shmem));
  tl.mark("link-fds+shmem");

  // Copy-on-write sharing a restore keeps: the pages a child lists as its
  // parent's (in both). The rest is not kept (README "Restored, refused"):
  // never silent.
  for (const TaskImage& t : tasks) {
    uint64_t cow = 0;
    for (const img::VmArea& a : t.mm.areas()) cow += a.cow_shared_bytes();
    if (cow == 0) continue;
    std::vector<std::pair<uint64_t, uint64_t>> kept = t.parent_runs;
    for (const TaskImage& c : tasks)
      if (c.task.ppid() == t.vpid) kept.insert(kept.end(), c.parent_runs.begin(), c.parent_runs.end());
    std::sort(kept.begin(), kept.end());
    uint64_t kept_bytes = 0, at = 0;
    for (auto [s, e] : kept) {
      s = std::max(s, at);
      if (e > s) kept_bytes += e - s;
      at = std::max(at, e);
    }
    const uint64_t lost = cow > kept_bytes ? cow - kept_bytes : 0;
    if (lost >= (uint64_t{1} << 20))
      log.warn("task {}: {:.1f} MiB of its memory is shared copy-on-write with other tasks in a way a restore does not "
               "keep (not with its parent at the same address, or in an area that is not plain read-write anonymous "
               "memory); the restore gives each task its own copy of it",
               t.vpid, static_cast<double>(lost) / (1 << 20));
  }
  TRY(faults.hit("dump.write"));
  for (const TaskImage& t : tasks) TRY(write_task(image, t));
  TRY(image.write(image::container_path(), img::KIND_CONTAINER, meta));
  TRY(faults.hit("dump.commit"));
  // Killed from here until the tasks are gone, the image is removed again
  // and the container put back.
  TRY(journal.set_phase(jrn::Journal::COMMITTED));
  TRY(image.commit());
  tl.mark("write");

  // From here the image is complete: a failure removes it again, so that a
  // failed dump never leaves an image beside a container that runs on.
  auto finish = [&]() -> Status {
    TRY(faults.hit("dump.finish"));
    TRY(pause_for_test("dump.finish", guard));
    TRY(recheck_sealed(hold, target, opts, log));
    tl.mark("seal-recheck");
    if (opts.notify) TRY_CTX(opts.notify("post-dump"), "container {}: post-dump", st.name);
    if (opts.leave_running) {
      TRY_CTX(tcp.release(), "container {}: TCP connections out of repair mode", st.name);
      TRY_CTX(netlock.lift(), "container {}", st.name);
      TRY(hold.release());
      tl.mark("release");
      TRY(journal.set_phase(jrn::Journal::RELEASED));
      return runtime_lock.unlock();
    }
    runtime_lock.keep();  // the tasks are gone: their network stays as it is
    TRY(hold.kill());
    // Closed in repair mode: the dead tasks' connections send nothing, and
    // the lock goes with their namespace (the image is restored locked).
    tcp.drop();
    netlock.drop();
    tl.mark("kill");
    // The image is the container now: a kill from here keeps it.
    return journal.set_phase(jrn::Journal::KILLED);
  };
  if (auto r = finish(); !r) {
    if (auto rm = remove_tree(opts.dir); !rm) log.warn("removing image {}: {}", opts.dir, rm.error().message);
    return std::unexpected(std::move(r.error()));
  }
  sum.frozen_ms = Timeline::ms(hold.held_since(), Clock::now());
  img::DumpStats stats;
  stats.set_frozen_us(static_cast<uint64_t>(sum.frozen_ms * 1000));
  stats.set_duration_us(static_cast<uint64_t>(tl.since_start_ms() * 1000));
  stats.set_processes(sum.processes);
  stats.set_threads(sum.threads);
  // The image is complete without them: a failure here fails nothing.
  if (auto r = image.amend_inventory(stats); !r) log.warn("recording the dump's times: {}", r.error().message);
  for (const img::FileEntry& f : image.inventory().files()) sum.image_bytes += f.size();
  sum.hold_ms = tl.step_ms("hold");
  sum.memory_ms = tl.step_ms("task.mm");
  for (const TaskImage& t : tasks) {
    sum.pages_written += t.pages_written;
    for (auto [s, e] : t.parent_runs) sum.pages_shared += (e - s) / image::kPageSize;
  }
  if (!opts.leave_running && !foreign) {
    // The tasks are gone; the shim, cgroup and state go the way `amber kill` does it.
    if (auto r = container::kill_container(st.name, log); !r)
      log.warn("cleaning up {} after the dump: {}", st.name, r.error().message);
    tl.mark("cleanup");
  }
  log.debug("timing: {}", tl.format());
  sum.total_ms = tl.since_start_ms();
  return sum;
}

}  // namespace amber::dump
