// Descriptions shared between processes: plan and creation (see shared.h).
#include "kinds/files/shared.h"

#include <sys/resource.h>

#include "kinds/files/fd_kinds.h"
#include "kinds/files/unix_socket.h"

namespace amber::kinds {

namespace {

std::string join_root(const std::string& root, const std::string& path) {
  if (root.empty() || root == "/") return path;
  return root + path;
}

// fd numbers above the soft RLIMIT_NOFILE cannot be had: raise it to the
// hard limit when the plan needs that many (the image's limits come later).
Status make_room(int top) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return sys_fail("getrlimit RLIMIT_NOFILE");
  if (static_cast<rlim_t>(top) + 64 < lim.rlim_cur) return {};
  lim.rlim_cur = lim.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) return sys_fail("setrlimit RLIMIT_NOFILE {}", lim.rlim_cur);
  return {};
}

// A pipe's ends in the image must match what its entry says: both ends
// held, or the one end its no_reader / no_writer leaves (restore closes the
// other; a pipe without either end is nothing to restore).
Status check_pipe_ends(const std::map<pid_t, TaskFilesRef>& tasks, const std::map<uint64_t, img::Pipe>& pipes) {
  std::map<uint64_t, std::pair<bool, bool>> held;  // id -> (read, write)
  for (const auto& [pid, t] : tasks)
    for (const img::Fd& fd : t.files->fds()) {
      if (fd.kind() != img::FD_PIPE) continue;
      auto& [r, w] = held[fd.pipe().pipe_id()];
      (fd.pipe().write_end() ? w : r) = true;
    }
  for (const auto& [id, p] : pipes) {
    if (!p.fifo_path().empty()) {
      if (p.no_reader() || p.no_writer()) return bad_input("FIFO pipe:[{}]: marked with a closed end", id);
      continue;
    }
    const auto [r, w] = held[id];
    if (p.no_reader() && p.no_writer()) return bad_input("pipe:[{}]: both ends marked closed", id);
    if (r == p.no_reader() || w == p.no_writer())
      return bad_input("pipe:[{}]: the image {} a read end and {} a write end, its entry says {}", id,
                       r ? "holds" : "lacks", w ? "holds" : "lacks",
                       p.no_reader() ? "no reader" : p.no_writer() ? "no writer" : "both ends");
  }
  return {};
}

}  // namespace

Result<SharedFdsPlan> plan_shared_fds(const std::map<pid_t, TaskFilesRef>& tasks,
                                      const std::function<pid_t(const std::vector<pid_t>&)>& common_creator) {
  SharedFdsPlan plan;
  // A unit: a pipe (key: id) or a single description (key: ofd_id), with
  // the tasks holding it and one fd per description.
  struct Found {
    std::set<pid_t> holders;
    std::map<uint64_t, img::Fd> fds;  // by ofd_id
  };
  std::map<uint64_t, Found> pipes, descriptions, ptys, unix_units;
  for (const auto& [pid, t] : tasks) {
    for (img::Pipe p : t.files->pipes()) {
      if (!p.fifo_path().empty()) p.set_fifo_path(join_root(t.root, p.fifo_path()));
      if (!plan.pipes.emplace(p.id(), p).second) return bad_input("pipe:[{}] is listed twice in the image", p.id());
    }
    for (const img::UnlinkedFile& u : t.files->unlinked())
      if (!plan.unlinked.emplace(u.ofd_id(), u).second)
        return bad_input("unlinked file {:#x} is listed twice in the image", u.ofd_id());
    for (const img::Fd& fd : t.files->fds()) {
      plan.top = std::max(plan.top, fd.fd());
      if (fd.container_log() && (plan.log_original == 0 || fd.ofd_id() < plan.log_original))
        plan.log_original = fd.ofd_id();
      if (fd.console() && (plan.console_original == 0 || fd.ofd_id() < plan.console_original))
        plan.console_original = fd.ofd_id();
      // A declared external is handed in: every process inherits it from
      // the init (restore/externals.h), none creates it.
      if (fd.ofd_id() == 0 || fd.kind() == img::FD_EXTERNAL) continue;
      const bool pipe = fd.kind() == img::FD_PIPE || fd.kind() == img::FD_FIFO;
      // The console is one description like any other (no pair to make:
      // the restore made it in amber's process).
      const bool pty_pair = fd.kind() == img::FD_TTY && !fd.console() && !fd.tty().dev_tty();
      Found& f = pipe                               ? pipes[fd.pipe().pipe_id()]
                 : pty_pair                         ? ptys[fd.tty().index()]
                 : fd.kind() == img::FD_UNIX_SOCKET ? unix_units[fd.unix_socket().unit()]
                                                    : descriptions[fd.ofd_id()];
      f.holders.insert(pid);
      img::Fd copy = fd;
      if (fd.kind() == img::FD_REGULAR || fd.kind() == img::FD_DIRECTORY) copy.set_path(join_root(t.root, fd.path()));
      auto [it, fresh] = f.fds.emplace(fd.ofd_id(), copy);
      if (!fresh && (it->second.kind() != fd.kind() || it->second.container_log() != fd.container_log() ||
                     it->second.pipe().write_end() != fd.pipe().write_end() ||
                     it->second.console() != fd.console() ||
                     it->second.tty().master() != fd.tty().master()))
        return bad_input("task {}: fd {} shares description {:#x} with another fd of another kind", pid, fd.fd(),
                         fd.ofd_id());
    }
  }
  for (const auto& [id, f] : pipes)
    if (!plan.pipes.contains(id)) return bad_input("pipe:[{}] has ends in the image but no entry", id);
  TRY(check_pipe_ends(tasks, plan.pipes));
  auto add = [&](uint64_t pipe_id, const Found& f) {
    if (f.holders.size() < 2) return;
    SharedFdsPlan::Unit u;
    u.pipe_id = pipe_id;
    for (const auto& [ofd, fd] : f.fds) u.fds.push_back(fd);
    u.after_ctty = u.fds.front().kind() == img::FD_TTY && u.fds.front().tty().dev_tty();
    plan.by_creator[common_creator({f.holders.begin(), f.holders.end()})].push_back(std::move(u));
  };
  // First the unix units: the pipes and descriptions in flight in their
  // queues that tasks hold too are made with them (the unit sends them).
  for (auto& [unit, f] : unix_units) {
    SharedFdsPlan::Unit u;
    u.unix_sockets = true;
    const files::InFlightRefs refs = files::in_flight_refs([&] {
      std::vector<img::Fd> v;
      for (const auto& [ofd, fd] : f.fds) v.push_back(fd);
      return v;
    }());
    auto take = [&](std::map<uint64_t, Found>& from, uint64_t key) {
      auto it = from.find(key);
      if (it == from.end()) return false;
      f.holders.insert(it->second.holders.begin(), it->second.holders.end());
      f.fds.insert(it->second.fds.begin(), it->second.fds.end());
      from.erase(it);
      return true;
    };
    for (uint64_t id : refs.pipes)
      if (take(pipes, id)) u.in_flight_pipes.push_back(id);
    for (uint64_t ofd : refs.descriptions) take(descriptions, ofd);
    for (const auto& [ofd, fd] : f.fds) u.fds.push_back(fd);
    plan.by_creator[common_creator({f.holders.begin(), f.holders.end()})].push_back(std::move(u));
  }
  for (const auto& [id, f] : pipes) add(id, f);
  for (const auto& [index, f] : ptys) {
    SharedFdsPlan::Unit u;
    u.pty = true;
    for (const auto& [ofd, fd] : f.fds) u.fds.push_back(fd);
    plan.by_creator[common_creator({f.holders.begin(), f.holders.end()})].push_back(std::move(u));
  }
  for (const auto& [ofd, f] : descriptions) add(0, f);
  return plan;
}

Status create_shared_fds(const SharedFdsPlan& plan, pid_t creator, int log_fd, const MemfdFds* memfds,
                         std::map<uint64_t, int>& inherited, int console_fd, bool after_ctty) {
  auto it = plan.by_creator.find(creator);
  if (it == plan.by_creator.end()) return {};
  TRY_CTX(make_room(plan.top), "task {}", creator);
  for (const SharedFdsPlan::Unit& u : it->second) {
    if (u.after_ctty != after_ctty) continue;
    std::vector<std::pair<uint64_t, UniqueFd>> opened;
    if (u.pty) {
      opened = TRY_CTX(files::create_pty(u.fds, creator, plan.top), "task {}", creator);
    } else if (u.unix_sockets) {
      std::vector<const img::Pipe*> in_flight_pipes;
      for (uint64_t id : u.in_flight_pipes) in_flight_pipes.push_back(&plan.pipes.at(id));
      files::OpenContext oc{log_fd, false, &plan.unlinked, memfds};
      opened = TRY(files::create_unix_unit(u.fds, in_flight_pipes, oc, creator, plan.top));
    } else if (u.pipe_id != 0) {
      const img::Pipe* pipe = &plan.pipes.at(u.pipe_id);
      files::PipeSet set = TRY(files::PipeSet::create({pipe}, creator, plan.top));
      for (const img::Fd& fd : u.fds)
        opened.emplace_back(fd.ofd_id(), TRY_CTX(set.open_end(fd), "task {}: shared pipe:[{}]", creator, u.pipe_id));
    } else {
      const img::Fd& fd = u.fds.front();
      files::OpenContext oc{log_fd,  fd.ofd_id() == plan.log_original,     &plan.unlinked, memfds, nullptr,
                            console_fd, fd.ofd_id() == plan.console_original};
      UniqueFd f = TRY_CTX(files::open_description(fd, oc),
                           "task {}: description {:#x} shared by several tasks ({})", creator, fd.ofd_id(), fd.path());
      opened.emplace_back(fd.ofd_id(), std::move(f));
    }
    for (auto& [ofd, f] : opened) {
      UniqueFd lifted = TRY_CTX(files::lift_fd(std::move(f), plan.top), "task {}", creator);
      inherited[ofd] = lifted.release();
    }
  }
  return {};
}

}  // namespace amber::kinds
