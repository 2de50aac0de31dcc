#include "seal/check.h"

#include <unistd.h>

#include <chrono>
#include <memory>

#include "base/files.h"
#include "seal/detectors.h"
#include "seal/report.h"
#include "sys/cgroup.h"
#include "sys/procfs.h"

namespace amber::seal {
namespace {

using Clock = std::chrono::steady_clock;

// Every held process with its held threads.
std::map<pid_t, std::vector<pid_t>> held_processes(Hold& hold) {
  std::map<pid_t, std::vector<pid_t>> out;
  for (pid_t tgid : hold.processes()) out[tgid] = hold.threads(tgid);
  return out;
}

void add_traced(ContainerView& view, const Hold& hold) {
  for (const auto& [tid, tracer] : hold.traced()) {
    auto st = sys::read_status(tid);
    TaskRef t{tid, 0, st ? st->name : "?"};
    if (st && static_cast<size_t>(view.vpid_level) < st->ns_pid.size())
      t.vpid = st->ns_pid[static_cast<size_t>(view.vpid_level)];
    view.traced.push_back(ContainerView::Traced{t, tracer});
  }
}

Report make_report(const ContainerView& view, const HostIndex& host) {
  Report r;
  r.target = view.target;
  r.processes = view.tasks.size();
  for (const auto& t : view.tasks) r.threads += t.tids.size();
  r.host_processes = host.processes;
  return r;
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// The pid namespace's live tasks, as seen by their pid namespace inode.
// Zombies are left out: cgroup.procs no longer lists them either.
Result<std::set<pid_t>> pidns_members(uint64_t pidns) {
  std::set<pid_t> out;
  for (pid_t pid : TRY(sys::list_pids())) {
    auto ino = sys::read_ns_inode(pid, "pid");
    if (!ino || *ino != pidns) continue;
    auto st = sys::read_stat(pid);
    if (st && st->state != 'Z' && st->state != 'X') out.insert(pid);
  }
  return out;
}

}  // namespace

size_t Report::refused() const {
  size_t n = 0;
  for (const auto& l : leaks) n += !l.accepted;
  return n;
}

Target target_for_container(const container::ContainerState& st) {
  Target t;
  t.name = st.name;
  t.init = st.init.pid;
  t.cgroup = st.cgroup;
  auto comm = read_file(fmt::format("/proc/{}/comm", st.shim.pid));
  t.shims.push_back(TaskRef{st.shim.pid, 0, comm ? std::string(trim(*comm)) : "amber"});
  return t;
}

Result<Target> target_for_pid(pid_t pid) {
  Target t;
  t.name = fmt::format("pid {}", pid);
  t.init = pid;
  auto status = sys::read_status(pid);
  // The user named a pid that is not there: bad input, not a failure of amber.
  if (!status && status.error().sys_errno == ENOENT) return bad_input("--pid {}: no such process", pid);
  sys::ProcStatus st = TRY_CTX(std::move(status), "--pid {}", pid);
  if (st.ns_pid.size() < 2) return bad_input("--pid {}: {} runs in amber's own pid namespace, not a container", pid, st.name);
  if (st.ns_pid.back() != 1)
    return bad_input("--pid {}: not the init of a pid namespace (it is pid {} in its namespace)", pid, st.ns_pid.back());
  const uint64_t pidns = TRY_CTX(sys::read_ns_inode(pid, "pid"), "--pid {}", pid);

  // The parent that started it from outside (unshare --fork, a runtime) is
  // its shim: it waits for the init and holds its namespaces by design (its
  // pipe ends still count: Target::parents).
  if (st.ppid > 0) {
    auto pst = sys::read_status(st.ppid);
    if (pst && pst->ns_pid.size() < st.ns_pid.size()) {
      t.shims.push_back(TaskRef{st.ppid, 0, pst->name});
      t.parents.push_back(st.ppid);
    }
  }

  // A cgroup of its own, or ptrace alone.
  auto entries = TRY_CTX(sys::read_cgroup(pid), "--pid {}", pid);
  auto rel = sys::cgroup_v2_path(entries);
  auto mount = sys::cgroup2_mount();
  if (!rel || !mount) {
    t.cgroup_note = "no cgroup v2 membership";
  } else if (*rel == "/") {
    t.cgroup_note = "its cgroup is the root cgroup";
  } else {
    std::string dir = *mount + *rel;
    auto members = TRY_CTX(sys::cgroup_procs(dir), "--pid {}: cgroup {}", pid, dir);
    std::set<pid_t> in_ns = TRY(pidns_members(pidns));
    std::set<pid_t> in_cg(members.begin(), members.end());
    if (in_cg == in_ns)
      t.cgroup = dir;
    else
      t.cgroup_note = fmt::format("its cgroup {} holds other tasks too", dir);
  }
  if (!t.cgroup_note.empty()) t.cgroup_note += ": held with ptrace alone";
  return t;
}

Result<Target> target_for_pid(pid_t pid, const std::string& freeze_cgroup) {
  Target t = TRY(target_for_pid(pid));
  if (freeze_cgroup.empty()) return t;
  const uint64_t pidns = TRY_CTX(sys::read_ns_inode(pid, "pid"), "--pid {}", pid);
  // The two lists are read one after the other from a running container: a
  // task forked or reaped in between differs once, a stranger every time.
  for (int attempt = 0;; ++attempt) {
    auto members = TRY_CTX(sys::cgroup_procs(freeze_cgroup), "pid {}: freeze cgroup", pid);
    std::set<pid_t> in_ns = TRY(pidns_members(pidns));
    if (std::set<pid_t>(members.begin(), members.end()) == in_ns) break;
    if (attempt == 20)
      return bad_input("pid {}: the freeze cgroup {} does not hold exactly the tasks of its pid namespace", pid,
                       freeze_cgroup);
    ::usleep(10000);
  }
  t.cgroup = freeze_cgroup;
  t.cgroup_note.clear();
  return t;
}

Result<Hold> hold_target(const Target& target, const InterruptGuard* guard, HoldJournal* journal) {
  HoldOptions opts;
  opts.guard = guard;
  opts.journal = journal;
  opts.record_traced = true;
  if (!target.cgroup.empty()) return Hold::by_cgroup(target.cgroup, opts);
  return Hold::by_pidns(target.init, opts);
}

Result<Report> check_held(Hold& hold, const Target& target, const std::vector<External>& externals) {
  auto t0 = Clock::now();
  ContainerView view = TRY_CTX(read_container(target, held_processes(hold)), "seal check");
  add_traced(view, hold);

  std::vector<std::unique_ptr<Detector>> detectors;
  detectors.push_back(namespace_detector());
  detectors.push_back(file_detector());
  detectors.push_back(unix_socket_detector());
  detectors.push_back(sysv_shm_detector());
  detectors.push_back(mqueue_detector());
  detectors.push_back(mapping_detector());
  detectors.push_back(mount_detector());
  detectors.push_back(task_detector());

  ScanWants wants;
  for (auto& d : detectors) TRY_CTX(d->prepare(view, wants), "seal check");
  HostIndex host = TRY_CTX(scan_host(view, wants), "seal check: scan /proc");
  Report r = make_report(view, host);
  for (auto& d : detectors) TRY_CTX(d->detect(view, host, r.leaks, r.notes), "seal check");
  std::stable_sort(r.leaks.begin(), r.leaks.end(),
                   [](const Leak& a, const Leak& b) { return static_cast<int>(a.cls) < static_cast<int>(b.cls); });
  apply_externals(r.leaks, externals);
  r.elapsed_ms = ms_since(t0);
  return r;
}

Result<Report> recheck_cheap(Hold& hold, const Target& target, const std::vector<External>& externals) {
  auto t0 = Clock::now();
  ContainerView view = TRY_CTX(read_container(target, held_processes(hold), /*light=*/true), "seal re-check");
  ScanWants wants;  // namespace links only: no maps or mounts, no fds but the console's
  // A --tty container: an `amber attach` connected since the check reads
  // what the container wrote and types into it (the light view has no fds:
  // the file detector only looks for holders of the console's master).
  std::unique_ptr<Detector> files = file_detector();
  TRY_CTX(files->prepare(view, wants), "seal re-check");
  HostIndex host = TRY_CTX(scan_host(view, wants), "seal re-check: scan /proc");
  Report r = make_report(view, host);
  TRY_CTX(namespace_detector()->detect(view, host, r.leaks, r.notes), "seal re-check");
  TRY_CTX(files->detect(view, host, r.leaks, r.notes), "seal re-check");
  std::erase_if(r.leaks, [](const Leak& l) { return l.cls == LeakClass::NamespacePin; });
  apply_externals(r.leaks, externals);
  r.elapsed_ms = ms_since(t0);
  return r;
}

Error not_sealed(const Report& r) { return Error{Exit::NotSealed, 0, format_text(r)}; }

}  // namespace amber::seal
