#include "recover/recover.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <span>

#include "base/files.h"
#include "container/control.h"
#include "container/paths.h"
#include "container/proc_ref.h"
#include "container/state.h"
#include "journal.pb.h"
#include "recover/journal.h"
#include "remote/remote_task.h"
#include "seal/hold.h"
#include "sys/cgroup.h"

namespace amber::recover {
namespace {

using namespace std::chrono_literals;
using J = jrn::Journal;

struct Owner {
  pid_t pid = 0;
  uint64_t start_time = 0;
};

// "PID-START.pb"
std::optional<Owner> owner_of(std::string_view file) {
  if (!file.ends_with(".pb")) return std::nullopt;
  std::string_view stem = file.substr(0, file.size() - 3);
  size_t dash = stem.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto pid = parse_int(stem.substr(0, dash));
  auto start = parse_uint(stem.substr(dash + 1));
  if (!pid || !start || *pid <= 0) return std::nullopt;
  return Owner{static_cast<pid_t>(*pid), *start};
}

std::string_view command_name(J::Command c) {
  switch (c) {
    case J::DUMP:
      return "dump";
    case J::CHECK:
      return "check";
    case J::RESTORE:
      return "restore";
    default:
      return "command";
  }
}

bool alive(pid_t pid, uint64_t start_time) {
  return container::liveness({pid, start_time}) == container::Liveness::Alive;
}

// The journaled address still holds amber's stub: the process did not
// unmap it and map something else there meanwhile. /proc/PID/mem reads the
// r-x page without a tracer.
bool stub_at(pid_t tgid, uint64_t base) {
  auto mem = open_fd(fmt::format("/proc/{}/mem", tgid), O_RDONLY | O_CLOEXEC);
  if (!mem) return false;
  std::span<const std::byte> code = remote::RemoteTask::stub_code();
  std::vector<std::byte> buf(code.size());
  ssize_t n = ::pread(mem->get(), buf.data(), buf.size(), static_cast<off_t>(base));
  return n == static_cast<ssize_t>(buf.size()) && std::equal(buf.begin(), buf.end(), code.begin());
}

struct PutBack {
  int threads = 0, executors = 0, continued = 0;
  bool thawed = false;
};

// A dump or check killed while it held the container (recover.h).
Result<PutBack> put_back(const J& j) {
  PutBack out;
  const std::string cgroup = j.cgroup();
  if (j.froze_cgroup() && !cgroup.empty() && sys::cgroup_exists(cgroup)) {
    TRY(sys::cgroup_thaw(cgroup, 10s));
    out.thawed = true;
  }
  std::map<pid_t, std::vector<const jrn::HeldThread*>> threads_of;  // live processes only
  for (const jrn::HeldThread& t : j.threads())
    if (alive(t.tgid(), t.tgid_start_time())) threads_of[t.tgid()].push_back(&t);
  std::map<pid_t, const jrn::Executor*> exec_of;
  for (const jrn::Executor& e : j.executors())
    if (threads_of.contains(e.tgid()) && stub_at(e.tgid(), e.base())) exec_of[e.tgid()] = &e;
  // Without an executor nothing of amber's is left: between remote calls
  // every thread has its own registers and mask (remote_task.h).
  if (exec_of.empty()) return out;

  seal::HoldOptions opts;
  opts.record_traced = true;  // someone else's tracee is left alone
  seal::Hold hold = TRY(!cgroup.empty() && sys::cgroup_exists(cgroup) ? seal::Hold::by_cgroup(cgroup, opts)
                                                                      : seal::Hold::by_pidns(exec_of.begin()->first, opts));
  std::set<pid_t> parked;
  for (const auto& [tgid, e] : exec_of) {
    for (const jrn::HeldThread* rec : threads_of.at(tgid)) {
      remote::RemoteTask* t = hold.task(rec->tid());
      if (!t || t->tgid() != tgid || t->saved_regs().rip - e->base() >= e->size()) continue;
      user_regs_struct regs{};
      if (rec->regs().size() != sizeof regs) return failf("thread {}: journaled registers have a bad size", rec->tid());
      std::memcpy(&regs, rec->regs().data(), sizeof regs);
      t->set_saved_regs(regs);
      t->set_saved_sigmask(rec->signal_mask());
      parked.insert(tgid);
      ++out.threads;
    }
    std::vector<pid_t> tids = hold.threads(tgid);
    if (tids.empty()) continue;
    TRY_CTX(hold.task(tids.front())
                ->syscall_checked(fmt::format("munmap amber's executor at {:#x}", e->base()), SYS_munmap, e->base(),
                                  e->size()),
            "process {}", tgid);
    ++out.executors;
  }
  TRY(hold.release());
  // A parked thread stopped its whole process (executor.cpp); continued
  // unless it was already in a job-control stop when the dump held it.
  for (pid_t tgid : parked) {
    const auto& recs = threads_of.at(tgid);
    bool was_stopped = std::any_of(recs.begin(), recs.end(), [](auto* r) { return r->group_stopped(); });
    if (!was_stopped && ::kill(tgid, SIGCONT) == 0) ++out.continued;
  }
  return out;
}

Result<std::string> recover_dump(const J& j, const Owner& o) {
  const std::string who = fmt::format("{} of {} (amber pid {})", command_name(j.command()), j.container(), o.pid);
  switch (j.phase()) {
    case J::RELEASED:
      return fmt::format("{} had released the container: nothing to undo", who);
    case J::KILLED: {
      // The image is the container now. Its leftovers, unless the name
      // belongs to a container that runs (a restore of that image).
      std::string done = fmt::format("{} was killed after the container's tasks ended: image {} kept", who,
                                     j.image());
      if (container::valid_name(j.container()) && path_exists(container::state_dir(j.container()))) {
        auto st = container::load_state(j.container());
        if (!st || container::liveness(st->init) != container::Liveness::Alive) {
          Log quiet;
          TRY(container::kill_container(j.container(), quiet));
          done += ", container cleaned up";
        }
      }
      return done;
    }
    default:
      break;
  }
  PutBack pb = TRY_CTX(put_back(j), "{}", who);
  std::vector<std::string> what;
  if (pb.thawed) what.push_back("cgroup thawed");
  if (pb.threads) what.push_back(fmt::format("{} parked thread(s) put back", pb.threads));
  if (pb.executors) what.push_back(fmt::format("{} executor(s) removed", pb.executors));
  if (pb.continued) what.push_back(fmt::format("{} process(es) continued", pb.continued));
  const std::string temp = j.temp_image();
  if (!temp.empty() && path_exists(temp)) {
    TRY_CTX(remove_tree(temp), "{}", who);
    what.push_back("temporary image removed");
  } else if (j.phase() == J::COMMITTED && !j.image().empty() && path_exists(j.image())) {
    // Renamed from the temporary directory (which is gone): ours.
    TRY_CTX(remove_tree(j.image()), "{}", who);
    what.push_back(fmt::format("image {} removed (the dump did not finish)", j.image()));
  }
  if (what.empty()) what.push_back("nothing was left");
  std::string joined;
  for (const std::string& w : what) joined += (joined.empty() ? "" : ", ") + w;
  return fmt::format("{} was killed while it held the container: {}", who, joined);
}

Result<std::string> recover_restore(const J& j, const Owner& o) {
  const std::string who = fmt::format("restore of {} (amber pid {})", j.container(), o.pid);
  if (j.phase() == J::RESTORED) return fmt::format("{} had finished: nothing to undo", who);
  const std::string cg = j.restore_cgroup();
  if (!cg.empty() && sys::cgroup_exists(cg)) {
    TRY_CTX(sys::cgroup_kill(cg), "{}", who);
    TRY_CTX(sys::cgroup_wait_empty(cg, 10s), "{}", who);
  }
  const container::ProcRef shim{j.shim_pid(), j.shim_start_time()};
  if (j.shim_pid() > 0 && container::liveness(shim) != container::Liveness::Gone) {
    ::kill(shim.pid, SIGKILL);
    // It writes into the state directory until it ends.
    TRY_CTX(container::wait_exited(shim, 10s), "{}: shim", who);
  }
  if (!cg.empty() && sys::cgroup_exists(cg)) TRY_CTX(sys::cgroup_remove(cg), "{}", who);
  const std::string dir = j.state_dir();
  if (!dir.empty() && path_exists(dir)) TRY_CTX(remove_tree(dir), "{}", who);
  return fmt::format("{} was killed before the container ran: everything it made removed", who);
}

Result<std::string> recover_journal(const J& j, const Owner& o) {
  if (j.command() == J::RESTORE) return recover_restore(j, o);
  return recover_dump(j, o);
}

Result<std::vector<std::string>> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    return sys_fail("open {}", dir);
  }
  while (dirent* e = ::readdir(d)) out.emplace_back(e->d_name);
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Result<std::vector<std::string>> recover_dead(Log& log, std::string_view only) {
  std::vector<std::string> done;
  const std::string dir = journal_dir();
  std::vector<std::string> names = TRY_CTX(list_dir(dir), "recover");
  auto dead = [](const std::string& n) {
    auto o = owner_of(std::string_view(n).substr(0, n.ends_with(".tmp") ? n.size() - 4 : n.size()));
    return o && o->pid != ::getpid() && !alive(o->pid, o->start_time);
  };
  if (std::none_of(names.begin(), names.end(), dead)) return done;  // the usual case: no lock taken

  // One sweep at a time; a second command waits, then finds the journals gone.
  UniqueFd lock = TRY_CTX(open_fd(dir + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600), "recover");
  while (::flock(lock.get(), LOCK_EX) != 0)
    if (errno != EINTR) return sys_fail("recover: lock {}/.lock", dir);
  for (const std::string& name : names) {
    if (!dead(name)) continue;
    const std::string path = dir + "/" + name;
    if (name.ends_with(".tmp")) {  // a save() cut short: the .pb beside it is whole
      ::unlink(path.c_str());
      continue;
    }
    const Owner o = *owner_of(name);
    auto bytes = read_file(path);
    if (!bytes) continue;  // repaired by the sweep we waited for
    J j;
    if (!j.ParseFromString(*bytes)) {
      log.warn("recover: {} is not a journal: removed", path);
      ::unlink(path.c_str());
      continue;
    }
    if (!only.empty() && j.container() != only) continue;
    auto r = recover_journal(j, o);
    if (!r) {
      log.warn("recover: {}; journal kept in {}", r.error().message, path);
      continue;
    }
    ::unlink(path.c_str());
    done.push_back(std::move(*r));
  }
  return done;
}

}  // namespace amber::recover
