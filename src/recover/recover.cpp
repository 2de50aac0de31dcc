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
#include <thread>

#include "base/files.h"
#include "container/control.h"
#include "container/paths.h"
#include "container/proc_ref.h"
#include "container/state.h"
#include "journal.pb.h"
#include "kinds/files/inet_socket.h"
#include "kinds/ns/net_lock.h"
#include "recover/journal.h"
#include "remote/remote_task.h"
#include "seal/hold.h"
#include "sys/cgroup.h"
#include "sys/procfs.h"

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

// Where a journaled mapping of amber's is now, if it is still there: a
// shared anonymous area ("/dev/zero (deleted)": amber's mappings are shared
// so that they never merge with a neighbour) of exactly the journaled size,
// split in several areas of one object at most (the executor's r-x code page).
// At the journaled address, or, for one journaled before its mmap returned
// (base 0), the only such area of that size in the process.
std::optional<uint64_t> still_there(const jrn::Mapping& m) {
  auto maps = sys::read_maps(m.tgid());
  if (!maps) return std::nullopt;
  std::vector<uint64_t> found;
  for (size_t i = 0; i < maps->size(); ++i) {
    const sys::VmArea& a = (*maps)[i];
    if (!a.shared || a.path != "/dev/zero" || !a.deleted || a.offset != 0) continue;
    if (m.base() != 0 && a.start != m.base()) continue;
    uint64_t end = a.end;
    for (size_t k = i + 1; k < maps->size() && (*maps)[k].start == end && (*maps)[k].inode == a.inode; ++k)
      end = (*maps)[k].end;
    if (end - a.start == m.size()) found.push_back(a.start);
  }
  if (found.size() != 1) return std::nullopt;
  return found.front();
}

struct PutBack {
  int threads = 0, mappings = 0, continued = 0, sockets = 0;
  bool thawed = false, unlocked = false;
};

// A dump or check killed while it held the container (recover.h).
Result<PutBack> put_back(const J& j) {
  PutBack out;
  const std::string cgroup = j.cgroup();
  if (j.froze_cgroup() && !cgroup.empty() && sys::cgroup_exists(cgroup)) {
    // A v1 freezer cgroup (a runtime's container, amber swrk) or a v2 one.
    if (sys::is_v1_freezer(cgroup))
      TRY(sys::freezer_write(cgroup, false));
    else
      TRY(sys::cgroup_thaw(cgroup, 10s));
    out.thawed = true;
  }
  std::map<pid_t, std::vector<const jrn::HeldThread*>> threads_of;  // live processes only
  for (const jrn::HeldThread& t : j.threads())
    if (alive(t.tgid(), t.tgid_start_time())) threads_of[t.tgid()].push_back(&t);
  struct Left {
    uint64_t base, size;
    bool executor;
  };
  std::map<pid_t, Left> exec_of;
  std::map<pid_t, std::vector<Left>> left;  // every mapping of ours still there
  for (const jrn::Mapping& m : j.mappings()) {
    if (!threads_of.contains(m.tgid())) continue;
    auto at = still_there(m);
    if (!at) continue;
    left[m.tgid()].push_back({*at, m.size(), m.executor()});
    if (m.executor()) exec_of[m.tgid()] = left[m.tgid()].back();
  }
  if (threads_of.empty()) return out;

  seal::HoldOptions opts;
  opts.record_traced = true;  // someone else's tracee is left alone
  seal::Hold hold = TRY(!cgroup.empty() && sys::cgroup_exists(cgroup) ? seal::Hold::by_cgroup(cgroup, opts)
                                                                      : seal::Hold::by_pidns(threads_of.begin()->first, opts));
  std::set<pid_t> parked;  // in the executor: the process is stopped
  for (const auto& [tgid, recs] : threads_of) {
    auto e = exec_of.find(tgid);
    for (const jrn::HeldThread* rec : recs) {
      remote::RemoteTask* t = hold.task(rec->tid());
      if (!t || t->tgid() != tgid) continue;
      user_regs_struct own{};
      if (rec->regs().size() != sizeof own) return failf("thread {}: journaled registers have a bad size", rec->tid());
      std::memcpy(&own, rec->regs().data(), sizeof own);
      const user_regs_struct& now = t->saved_regs();
      bool in_executor = e != exec_of.end() && now.rip - e->second.base < e->second.size;
      bool in_vdso = false;
      if (!in_executor && now.rbp == remote::RemoteTask::park_frame(own)) {
        auto park = t->vdso_park();
        in_vdso = park && park->entry != 0 && now.rip >= park->entry && now.rip < park->end;
      }
      if (!in_executor && !in_vdso) continue;
      t->set_saved_regs(own);
      t->set_saved_sigmask(rec->signal_mask());
      if (in_executor) parked.insert(tgid);
      ++out.threads;
    }
    std::vector<pid_t> tids = hold.threads(tgid);
    if (tids.empty() || !left.contains(tgid)) continue;
    for (const Left& m : left.at(tgid)) {
      TRY_CTX(hold.task(tids.front())
                  ->syscall_checked(fmt::format("munmap amber's {} at {:#x}", m.executor ? "executor" : "probe page",
                                                m.base),
                                    SYS_munmap, m.base, m.size),
              "process {}", tgid);
      ++out.mappings;
    }
  }
  // TCP connections the dump had put in repair mode (inet_socket.h).
  for (const jrn::RepairedSocket& r : j.repaired_sockets()) {
    if (!threads_of.contains(r.tgid())) continue;
    if (TRY_CTX(kinds::leave_repair(r.tgid(), r.fd(), r.inode(), r.reuseaddr()), "process {}: fd {}", r.tgid(), r.fd()))
      ++out.sockets;
  }
  // The network lock, before any task runs again (net_lock.h): in the
  // namespace of the journaled task, or of any live one that is in it.
  if (j.has_net_lock()) {
    std::vector<pid_t> in_ns = {j.net_lock().tgid()};
    for (const auto& [tgid, recs] : threads_of) in_ns.push_back(tgid);
    for (pid_t p : in_ns) {
      auto ns = sys::read_ns_inode(p, "net");
      if (!threads_of.contains(p) || !ns || *ns != j.net_lock().netns_inode()) continue;
      out.unlocked = TRY_CTX(kinds::lift_net_lock(p, j.net_lock().netns_inode()), "process {}", p);
      break;
    }
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

// The dump's kill had begun (or ended): the image is the container now.
// Its leftovers go (the rest of its tasks too, when `finish` says the kill
// was cut short), unless the name belongs to another container that runs.
Result<std::string> finish_kill(const J& j, const std::string& who, bool finish) {
  std::string done = fmt::format("{} was killed after it began to kill the container: image {} kept", who, j.image());
  if (container::valid_name(j.container()) && path_exists(container::state_dir(j.container()))) {
    auto st = container::load_state(j.container());
    const bool ours = !st || j.cgroup().empty() || st->cgroup == j.cgroup();
    if (ours && (finish || !st || container::liveness(st->init) != container::Liveness::Alive)) {
      Log quiet;
      TRY(container::kill_container(j.container(), quiet));
      done += ", container cleaned up";
    }
  }
  return done;
}

Result<std::string> recover_dump(const J& j, const Owner& o) {
  const std::string who = fmt::format("{} of {} (amber pid {})", command_name(j.command()), j.container(), o.pid);
  if (j.phase() == J::RELEASED) return fmt::format("{} had released the container: nothing to undo", who);
  if (j.phase() == J::KILLED) return finish_kill(j, who, false);
  if (j.phase() == J::COMMITTED) {
    // Killed between the commit and the end of the kill: if a held
    // process is gone, the kill had begun and the image is all that is
    // left of it.
    bool all_alive = std::all_of(j.threads().begin(), j.threads().end(),
                                 [](const jrn::HeldThread& t) { return alive(t.tgid(), t.tgid_start_time()); });
    if (!all_alive) return finish_kill(j, who, true);
  }
  PutBack pb = TRY_CTX(put_back(j), "{}", who);
  std::vector<std::string> what;
  if (pb.thawed) what.push_back("cgroup thawed");
  if (pb.threads) what.push_back(fmt::format("{} parked thread(s) put back", pb.threads));
  if (pb.mappings) what.push_back(fmt::format("{} mapping(s) of amber's removed", pb.mappings));
  if (pb.continued) what.push_back(fmt::format("{} process(es) continued", pb.continued));
  if (pb.sockets) what.push_back(fmt::format("{} TCP connection(s) out of repair mode", pb.sockets));
  if (pb.unlocked) what.push_back("network lock lifted");
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

// A restore killed between spawn_init and the journal's record of the shim
// leaves a shim nobody knows the pid of: when the cgroup kill ends the init,
// it writes the init's exit status into the state directory and exits. The
// directory is removed again until that writer is gone (bounded: it exits
// at once).
Status remove_state_dir(const std::string& dir) {
  for (int tries = 0;; tries++) {
    Status st = remove_tree(dir);
    if (st || st.error().sys_errno != ENOTEMPTY || tries == 50) return st;
    std::this_thread::sleep_for(100ms);
  }
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
  if (!dir.empty() && path_exists(dir)) TRY_CTX(remove_state_dir(dir), "{}", who);
  // Killed while it reserved the name: its hidden directory, or the named
  // one if the rename was done and the directory holds its mark.
  if (!j.reserving_dir().empty()) {
    if (path_exists(j.reserving_dir())) TRY_CTX(remove_tree(j.reserving_dir()), "{}", who);
    const std::string owner = fmt::format("{}-{}", o.pid, o.start_time);
    if (container::valid_name(j.container())) {
      const std::string named = container::state_dir(j.container());
      if (container::reserved_by(named, owner)) TRY_CTX(remove_tree(named), "{}", who);
    }
  }
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
