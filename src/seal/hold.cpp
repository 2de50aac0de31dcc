#include "seal/hold.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "base/files.h"
#include "sys/cgroup.h"
#include "sys/pidfd.h"
#include "sys/procfs.h"

namespace amber::seal {

namespace {

// The syscall a task blocks in (/proc/TID/syscall), -1 if none or unknown.
long blocked_syscall(pid_t tid) {
  auto text = read_file(fmt::format("/proc/{}/syscall", tid));
  if (!text) return -1;
  auto words = split_ws(*text);
  return words.empty() ? -1 : parse_int(words[0]).value_or(-1);
}


// A container that keeps creating tasks faster than we stop them.
constexpr int kMaxRounds = 1000;

uint64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

void sleep_us(long us) {
  timespec ts{0, us * 1000};
  nanosleep(&ts, nullptr);
}

bool is_gone(const Error& e) { return e.sys_errno == ENOENT || e.sys_errno == ESRCH; }

std::string comm_of(pid_t pid) {
  auto c = read_file(fmt::format("/proc/{}/comm", pid));
  return c ? std::string(trim(*c)) : std::string("?");
}

std::string signame(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", sig);
}

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

// `root` and every directory below it (cgroupfs has no symlinks or mounts
// inside a hierarchy).
Status collect_dirs(const std::string& root, std::vector<std::string>& out) {
  out.push_back(root);
  std::unique_ptr<DIR, DirCloser> dir(::opendir(root.c_str()));
  if (!dir) {
    if (errno == ENOENT) return {};  // removed meanwhile
    return sys_fail("opendir {}", root);
  }
  for (;;) {
    errno = 0;
    dirent* e = ::readdir(dir.get());
    if (!e) {
      if (errno) return sys_fail("readdir {}", root);
      return {};
    }
    if (e->d_type != DT_DIR || !std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
    TRY(collect_dirs(root + "/" + e->d_name, out));
  }
}

std::vector<pid_t> parse_ids(std::string_view text) {
  std::vector<pid_t> out;
  for (auto line : split(text, '\n'))
    if (auto v = parse_int(trim(line))) out.push_back(static_cast<pid_t>(*v));
  return out;
}

bool frozen_line(std::string_view text, bool& frozen) {
  for (auto line : split(text, '\n')) {
    auto f = split_ws(line);
    if (f.size() == 2 && f[0] == "frozen") {
      frozen = f[1] == "1";
      return true;
    }
  }
  return false;
}

// "frozen 1" in cgroup.events.
Result<bool> events_frozen(const std::string& cgroup) {
  std::string text = TRY(read_file(cgroup + "/cgroup.events"));
  bool frozen = false;
  if (frozen_line(text, frozen)) return frozen;
  return failf("{}/cgroup.events: no 'frozen' line", cgroup);
}

// The same from an open cgroup.events (re-read from offset 0).
Result<bool> events_frozen(int fd, const std::string& cgroup) {
  char buf[512];
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n < 0) return sys_fail("read {}/cgroup.events", cgroup);
  bool frozen = false;
  if (frozen_line(std::string_view(buf, static_cast<size_t>(n)), frozen)) return frozen;
  return failf("{}/cgroup.events: no 'frozen' line", cgroup);
}


}  // namespace

// ---------------------------------------------------------------------------
// InterruptGuard

Result<InterruptGuard> InterruptGuard::block() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&set, sig);
  InterruptGuard g;
  if (int e = pthread_sigmask(SIG_BLOCK, &set, &g.old_mask_); e != 0)
    return sys_fail_errno(e, "block SIGINT/SIGTERM/SIGHUP/SIGQUIT");
  int fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) {
    auto err = sys_fail("signalfd");
    pthread_sigmask(SIG_SETMASK, &g.old_mask_, nullptr);
    return err;
  }
  g.fd_ = UniqueFd(fd);
  g.active_ = true;
  return g;
}

InterruptGuard::InterruptGuard(InterruptGuard&& o) noexcept
    : fd_(std::move(o.fd_)), old_mask_(o.old_mask_), active_(o.active_), caught_(o.caught_) {
  o.active_ = false;
}

InterruptGuard::~InterruptGuard() {
  if (!active_) return;
  fd_.reset();
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

Status InterruptGuard::check() const {
  if (caught_ == 0 && fd_) {
    signalfd_siginfo si{};
    ssize_t n = ::read(fd_.get(), &si, sizeof si);
    if (n == static_cast<ssize_t>(sizeof si)) caught_ = static_cast<int>(si.ssi_signo);
  }
  if (caught_) return failf("interrupted by {}", signame(caught_));
  return {};
}

// ---------------------------------------------------------------------------
// Hold: construction

Result<Hold> Hold::by_cgroup(const std::string& cgroup_dir, const HoldOptions& opts) {
  Hold h(opts);
  h.cgroup_ = cgroup_dir;
  while (h.cgroup_.size() > 1 && h.cgroup_.back() == '/') h.cgroup_.pop_back();
  TRY(h.check_cgroup());
  if (opts.journal) TRY(opts.journal->holding(h.cgroup_, !h.was_frozen_, 0));
  h.held_since_ = std::chrono::steady_clock::now();
  TRY(h.freeze());
  std::vector<pid_t> tids = TRY(h.list_cgroup_threads());
  TRY(h.seize_all(tids));
  TRY(h.check_interrupt());
  TRY(h.thaw());
  TRY(h.settle());
  TRY(h.journal_held());
  return h;
}

Result<Hold> Hold::by_pidns(pid_t pid, const HoldOptions& opts) {
  Hold h(opts);
  h.pidns_ino_ = TRY_CTX(sys::read_ns_inode(pid, "pid"), "hold: pid namespace of {}", pid);
  uint64_t own = TRY_CTX(sys::read_ns_inode(getpid(), "pid"), "hold: amber's pid namespace");
  if (own == h.pidns_ino_)
    return bad_input("hold: pid {} is in amber's own pid namespace: refusing to hold every task of the host", pid);
  if (TRY(h.in_target_pidns(getpid()))) return bad_input("hold: amber runs inside the pid namespace of {}", pid);
  if (opts.journal) TRY(opts.journal->holding("", false, pid));
  h.held_since_ = std::chrono::steady_clock::now();
  TRY(h.settle());
  if (h.tasks_.empty()) return failf("hold: no task left in the pid namespace of {}", pid);
  TRY(h.journal_held());
  return h;
}

Hold::Hold(Hold&& o) noexcept { *this = std::move(o); }

Hold& Hold::operator=(Hold&& o) noexcept {
  if (this == &o) return *this;
  release_quietly();
  opts_ = o.opts_;
  cgroup_ = std::move(o.cgroup_);
  pidns_ino_ = o.pidns_ino_;
  v1_ = o.v1_;
  was_frozen_ = o.was_frozen_;
  frozen_ = o.frozen_;
  freeze_touched_ = o.freeze_touched_;
  held_since_ = o.held_since_;
  tasks_ = std::move(o.tasks_);
  ignored_ = std::move(o.ignored_);
  traced_ = std::move(o.traced_);
  // The moved-from hold owns nothing: its destructor must not touch the
  // cgroup or any task.
  o.cgroup_.clear();
  o.tasks_.clear();
  o.ignored_.clear();
  o.was_frozen_ = o.frozen_ = o.freeze_touched_ = false;
  return *this;
}

Hold::~Hold() { release_quietly(); }

void Hold::release_quietly() { (void)release(); }

Status Hold::check_interrupt() const { return opts_.guard ? opts_.guard->check() : Status{}; }

// ---------------------------------------------------------------------------
// cgroup mode

Status Hold::check_cgroup() {
  // A v1 freezer directory (the container of a runtime on a hybrid host)
  // or a v2 cgroup.
  v1_ = sys::is_v1_freezer(cgroup_);
  if (v1_) {
    const sys::FreezerState st = TRY_CTX(sys::freezer_state(cgroup_), "hold");
    was_frozen_ = frozen_ = st != sys::FreezerState::Thawed;
    if (TRY_CTX(sys::freezer_parent_freezing(cgroup_), "hold"))
      return failf("hold: freezer cgroup {} is frozen by an ancestor cgroup: its tasks cannot run amber's remote code",
                   cgroup_);
  } else {
    const std::string freeze_file = cgroup_ + "/cgroup.freeze";
    if (!path_exists(freeze_file))
      return bad_input("hold: {} is neither a non-root cgroup v2 directory (no cgroup.freeze) nor a v1 freezer "
                       "cgroup (no freezer.state)",
                       cgroup_);
    std::string freeze = TRY_CTX(read_file(freeze_file), "hold");
    was_frozen_ = frozen_ = trim(freeze) == "1";
    // A frozen ancestor keeps the tasks frozen whatever we write here, and
    // ptrace-resumed tasks would never run.
    if (!was_frozen_ && TRY_CTX(events_frozen(cgroup_), "hold"))
      return failf("hold: cgroup {} is frozen by an ancestor cgroup: its tasks cannot run amber's remote code", cgroup_);
  }
  // Freezing amber itself would hang it.
  std::vector<pid_t> members = TRY(list_cgroup_threads());
  std::vector<pid_t> own = TRY_CTX(sys::list_tids(getpid()), "hold: amber's threads");
  for (pid_t tid : own)
    if (std::binary_search(members.begin(), members.end(), tid))
      return bad_input("hold: cgroup {} contains amber itself (thread {})", cgroup_, tid);
  return {};
}

Status Hold::set_freeze(bool on) {
  if (v1_)
    TRY_CTX(sys::freezer_write(cgroup_, on), "hold: {} cgroup", on ? "freeze" : "thaw");
  else
    TRY_CTX(write_file(cgroup_ + "/cgroup.freeze", on ? "1" : "0"), "hold: {} cgroup", on ? "freeze" : "thaw");
  frozen_ = on;
  freeze_touched_ = true;
  return {};
}

// The kernel signals a change of cgroup.events as POLLPRI on an open fd of
// it: the wait ends the moment the cgroup is frozen, without re-opening the
// file every 200 us. Woken every 10 ms anyway to see an interrupt.
Status Hold::freeze() {
  if (v1_) return freeze_v1();
  UniqueFd events = TRY_CTX(open_fd(cgroup_ + "/cgroup.events", O_RDONLY | O_CLOEXEC), "hold");
  if (!frozen_) TRY(set_freeze(true));
  const uint64_t deadline = now_ms() + static_cast<uint64_t>(opts_.timeout.count());
  for (;;) {
    if (TRY_CTX(events_frozen(events.get(), cgroup_), "hold")) return {};
    TRY(check_interrupt());
    if (now_ms() > deadline)
      return failf("hold: cgroup {} not frozen after {} ms (a task in uninterruptible sleep or vfork?)", cgroup_,
                   opts_.timeout.count());
    pollfd p{events.get(), POLLPRI, 0};
    if (::poll(&p, 1, 10) < 0 && errno != EINTR) return sys_fail("hold: poll {}/cgroup.events", cgroup_);
  }
}

// v1: no event to wait on; FREEZING turns into FROZEN once every task of
// the cgroup has stopped, seen by reading freezer.state again (~1 ms for
// 100 tasks here, KERNEL-NOTES.md). A task that vforks as the freeze comes
// can stay in D state (wait_for_vfork_done) uncounted, the cgroup FREEZING
// for good (seen here about once in 200 freezes of a shell running sleep in
// a loop): thawed and frozen again, it freezes. No task is held yet, so a
// thaw in between only lets them run a moment longer.
Status Hold::freeze_v1() {
  using namespace std::chrono;
  constexpr uint64_t kAttemptMs = 100;
  const uint64_t deadline = now_ms() + static_cast<uint64_t>(opts_.timeout.count());
  bool was_frozen = frozen_;
  for (int attempt = 1;; ++attempt) {
    if (!frozen_) TRY(set_freeze(true));
    const uint64_t give_up = std::min(deadline, now_ms() + kAttemptMs * static_cast<uint64_t>(attempt));
    for (;;) {
      if (TRY_CTX(sys::freezer_state(cgroup_), "hold") == sys::FreezerState::Frozen) return {};
      TRY(check_interrupt());
      if (now_ms() > give_up) break;
      sleep_us(200);
    }
    if (now_ms() > deadline)
      return failf("hold: freezer cgroup {} not frozen after {} ms (a task in uninterruptible sleep?)", cgroup_,
                   opts_.timeout.count());
    // The owner's own freeze is never undone here: wait on.
    if (!was_frozen) TRY(set_freeze(false));
  }
}

Status Hold::thaw() { return set_freeze(false); }

Result<std::vector<pid_t>> Hold::list_cgroup_threads() const {
  std::vector<std::string> dirs;
  TRY_CTX(collect_dirs(cgroup_, dirs), "hold: list cgroup {}", cgroup_);
  std::vector<pid_t> out;
  for (const std::string& dir : dirs) {
    // v1: "tasks" lists every thread of the directory.
    auto threads = read_file(dir + (v1_ ? "/tasks" : "/cgroup.threads"));
    if (threads) {
      auto ids = parse_ids(*threads);
      out.insert(out.end(), ids.begin(), ids.end());
      continue;
    }
    if (threads.error().sys_errno == ENOENT) continue;  // removed meanwhile
    // A domain-invalid cgroup refuses cgroup.threads: list its processes'
    // threads instead.
    std::string procs = TRY_CTX(read_file(dir + "/cgroup.procs"), "hold");
    for (pid_t pid : parse_ids(procs)) {
      auto tids = sys::list_tids(pid);
      if (!tids && is_gone(tids.error())) continue;
      if (!tids) return std::unexpected(std::move(tids.error()).wrap("hold"));
      out.insert(out.end(), tids->begin(), tids->end());
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// ---------------------------------------------------------------------------
// pidns mode

// A task of a namespace nested in the container's belongs to the container.
Result<bool> Hold::in_target_pidns(pid_t pid) const { return sys::pidns_within(pid, pidns_ino_); }

Result<std::vector<pid_t>> Hold::list_pidns_threads() const {
  std::vector<pid_t> pids = TRY_CTX(sys::list_pids(), "hold");
  const pid_t self = getpid();
  std::vector<pid_t> out;
  for (pid_t pid : pids) {
    if (pid == self) continue;
    auto in = in_target_pidns(pid);
    // EACCES: a task with more privileges than amber (the sandbox's pid 1
    // here has CAP_SYS_RESOURCE) hides its namespaces; amber could not
    // seize it either, and its namespace is amber's or an ancestor's.
    if (!in && (is_gone(in.error()) || in.error().sys_errno == EACCES)) continue;
    if (!in) return std::unexpected(std::move(in.error()).wrap(fmt::format("hold: task {}", pid)));
    if (!*in) continue;
    auto tids = sys::list_tids(pid);
    if (!tids && is_gone(tids.error())) continue;
    if (!tids) return std::unexpected(std::move(tids.error()).wrap(fmt::format("hold: task {}", pid)));
    out.insert(out.end(), tids->begin(), tids->end());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// ---------------------------------------------------------------------------
// Seizing and settling

Result<std::vector<pid_t>> Hold::list_threads() const {
  return cgroup_.empty() ? list_pidns_threads() : list_cgroup_threads();
}

Status Hold::seize_all(const std::vector<pid_t>& tids) {
  const std::set<pid_t> listed(tids.begin(), tids.end());
  for (pid_t tid : tids) {
    if (tasks_.count(tid) || ignored_.count(tid)) continue;
    TRY(seize_one(tid, listed));
  }
  return {};
}

Status Hold::seize_one(pid_t tid, const std::set<pid_t>& listed) {
  auto traced_error = [&](const sys::ProcStatus& st) -> Status {
    if (opts_.record_traced && !listed.count(st.tracer_pid)) {
      traced_[tid] = st.tracer_pid;
      ignored_.insert(tid);
      return {};
    }
    std::string what = fmt::format("hold: task {} ({}) is traced by pid {} ({})", tid, st.name, st.tracer_pid,
                                   comm_of(st.tracer_pid));
    if (listed.count(st.tracer_pid))
      return unsupported("{} inside the container: amber cannot checkpoint a traced task", what);
    return fail(Exit::NotSealed, fmt::format("{} outside the container: a leak (it could change the task while "
                                             "it is dumped)",
                                             what));
  };
  // /proc/TID/status is the thread's own (state, tracer), leader or not.
  auto st = sys::read_status(tid);
  if (!st && is_gone(st.error())) return {};
  if (!st) return std::unexpected(std::move(st.error()).wrap(fmt::format("hold: task {}", tid)));
  // A zombie cannot be seized; it runs no code and the dump reads it from
  // /proc.
  if (st->state == 'Z' || st->state == 'X') {
    ignored_.insert(tid);
    return {};
  }
  if (st->tracer_pid != 0) return traced_error(*st);
  auto t = remote::RemoteTask::attach(tid, st->tgid);
  if (t) {
    t->set_resumable(true);
    tasks_.emplace(tid, std::move(*t));
    return {};
  }
  if (t.error().sys_errno == ESRCH) return {};  // exited since the listing
  if (t.error().sys_errno == EPERM) {
    // Exiting, or traced by someone who came after our look at its status.
    auto again = sys::read_status(tid);
    if (!again) return {};
    if (again->state == 'Z' || again->state == 'X') {
      ignored_.insert(tid);
      return {};
    }
    if (again->tracer_pid != 0) return traced_error(*again);
  }
  return std::unexpected(std::move(t.error()).wrap(fmt::format("hold: seize task {} ({})", tid, st->name)));
}

// A task in vfork (dash runs its commands so; posix_spawn clones with
// CLONE_VFORK) sleeps until its child execs or exits, and cannot stop
// before; the child, held between vfork and exec, waits for amber. The
// held child sharing the task's address space (kcmp KCMP_VM) runs on to its
// exec or exit (RemoteTask::run_to_exec), and both stop then.
Status Hold::run_vfork_child(pid_t parent) {
  const long nr = blocked_syscall(parent);
  if (nr != SYS_vfork && nr != SYS_clone && nr != SYS_clone3) return {};
  auto parent_tgid = tasks_.find(parent);
  if (parent_tgid == tasks_.end()) return {};
  for (auto& [tid, task] : tasks_) {
    if (!task.stopped() || task.tgid() != tid) continue;
    auto st = sys::read_status(tid);
    if (!st || st->ppid != parent_tgid->second.tgid()) continue;
    auto same = sys::kcmp(parent, tid, sys::KcmpType::Vm);
    if (!same || *same != 0) continue;
    return context(task.run_to_exec(), fmt::format("hold: vfork child {} of task {}", tid, parent));
  }
  return {};
}

Status Hold::wait_stops() {
  const uint64_t deadline = now_ms() + static_cast<uint64_t>(opts_.timeout.count());
  uint64_t next_vfork_look = now_ms() + 20;
  for (;;) {
    size_t pending = 0;
    pid_t example = 0;
    for (auto it = tasks_.begin(); it != tasks_.end();) {
      if (it->second.stopped()) {
        ++it;
        continue;
      }
      auto p = it->second.poll_stop();
      if (!p) return std::unexpected(std::move(p.error()).wrap(fmt::format("hold: task {}", it->first)));
      if (*p == remote::RemoteTask::Progress::Gone) {
        it = tasks_.erase(it);
        continue;
      }
      if (*p == remote::RemoteTask::Progress::Pending) {
        ++pending;
        example = it->first;
      }
      ++it;
    }
    if (pending == 0) return {};
    TRY(check_interrupt());
    if (now_ms() >= next_vfork_look) {
      for (auto& [tid, task] : tasks_)
        if (!task.stopped()) TRY(run_vfork_child(tid));
      next_vfork_look = now_ms() + 20;
    }
    if (now_ms() > deadline) {
      auto st = sys::read_status(example);
      return failf("hold: {} task(s) did not stop within {} ms, e.g. task {} ({}, state {})", pending,
                   opts_.timeout.count(), example, comm_of(example), st ? st->state : '?');
    }
    sleep_us(100);
  }
}

Status Hold::settle() {
  for (int round = 0;; ++round) {
    TRY(wait_stops());
    TRY(check_interrupt());
    std::vector<pid_t> listed = TRY(list_threads());
    std::vector<pid_t> fresh;
    for (pid_t tid : listed)
      if (!tasks_.count(tid) && !ignored_.count(tid)) fresh.push_back(tid);
    if (fresh.empty()) return {};
    if (round >= kMaxRounds) return failf("hold: new tasks keep appearing after {} rounds", round);
    const std::set<pid_t> all(listed.begin(), listed.end());
    for (pid_t tid : fresh) TRY(seize_one(tid, all));
  }
}

Status Hold::journal_held() {
  if (!opts_.journal) return {};
  HoldJournal* j = opts_.journal;
  for (auto& [tid, t] : tasks_) {
    TRY_CTX(t.settle_rseq(), "hold: task {}", tid);
    t.set_mapping_observer([j](pid_t tgid, uint64_t base, size_t size, bool executor, bool mapped) {
      return j->mapping(tgid, base, size, executor, mapped);
    });
  }
  return j->held(tasks_);
}

// ---------------------------------------------------------------------------
// Accessors, release, kill

std::vector<pid_t> Hold::processes() const {
  std::set<pid_t> tgids;
  for (const auto& [tid, t] : tasks_) tgids.insert(t.tgid());
  return {tgids.begin(), tgids.end()};
}

std::vector<pid_t> Hold::threads(pid_t tgid) const {
  std::vector<pid_t> out;
  for (const auto& [tid, t] : tasks_)
    if (t.tgid() == tgid) out.push_back(tid);
  return out;
}

std::vector<pid_t> Hold::all_threads() const {
  std::vector<pid_t> out;
  for (const auto& [tid, t] : tasks_) out.push_back(tid);
  return out;
}

remote::RemoteTask* Hold::task(pid_t tid) {
  auto it = tasks_.find(tid);
  return it == tasks_.end() ? nullptr : &it->second;
}

Status Hold::release() {
  Status result;
  auto keep_first = [&](Status s) {
    if (!s && result) result = std::move(s);
  };
  if (!cgroup_.empty() && freeze_touched_) {
    // Its owner had frozen it: freeze again first, so the detached tasks
    // never run. Else thaw now if an error left it frozen by us: pending
    // interrupt stops then arrive and the tasks can be detached.
    if (was_frozen_ && !frozen_) keep_first(set_freeze(true));
    if (!was_frozen_ && frozen_) keep_first(set_freeze(false));
  }
  for (auto& [tid, t] : tasks_) keep_first(t.release());
  tasks_.clear();
  ignored_.clear();
  return result;
}

Status Hold::kill() {
  Status result;
  auto keep_first = [&](Status s) {
    if (!s && result) result = std::move(s);
  };
  for (pid_t tgid : processes())
    if (::kill(tgid, SIGKILL) < 0 && errno != ESRCH) keep_first(sys_fail("hold: kill {}", tgid));
  // The kernel reports a group leader's end only after its other threads
  // were reaped, and the container's init only after every other task:
  // collected together, in the order they come.
  std::vector<remote::RemoteTask*> all;
  for (auto& [tid, t] : tasks_) all.push_back(&t);
  keep_first(remote::wait_all_gone(all));
  tasks_.clear();
  ignored_.clear();
  if (!cgroup_.empty() && freeze_touched_ && frozen_ != was_frozen_) keep_first(set_freeze(was_frozen_));
  return result;
}

}  // namespace amber::seal
