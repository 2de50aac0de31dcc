// The fd table: walk, shared descriptions, dispatch to the kinds; restore
// inside the task (see fdtable.h).
#include "kinds/files/fdtable.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <set>

#include <fmt/ranges.h>

#include "base/files.h"
#include "kinds/blockers.h"
#include "kinds/completeness.h"
#include "kinds/files/fd_kinds.h"
#include "kinds/files/owner.h"
#include "kinds/files/unix_socket.h"
#include "sys/pidfd.h"

namespace amber::kinds {

namespace {

// An fd number beyond any RLIMIT_NOFILE the kernel allows (fs/nr_open max).
constexpr int kMaxFdNumber = 1 << 30;

Result<FdProbe> probe_fd(pid_t pid, int fd) {
  FdProbe p;
  p.pid = pid;
  p.fd = fd;
  const std::string link_path = fmt::format("/proc/{}/fd/{}", pid, fd);
  p.link = TRY(read_link(link_path));
  // stat() follows the magic link to the open file itself, even for pipes,
  // sockets and anonymous inodes.
  if (::stat(link_path.c_str(), &p.st) != 0) return sys_fail("stat {}", link_path);
  // A regular-looking file's filesystem tells an mqueue fd (S_IFREG, link
  // "/NAME") from a file of the container's root.
  if (S_ISREG(p.st.st_mode)) {
    struct statfs fs {};
    if (::statfs(link_path.c_str(), &fs) != 0) return sys_fail("statfs {}", link_path);
    p.fs_type = fs.f_type;
  }
  p.info = TRY(sys::read_fdinfo(pid, fd));
  return p;
}

std::string socket_kind(int pidfd, int fd) {
  auto copy = sys::pidfd_getfd(pidfd, fd);
  if (!copy) return "socket";
  int domain = 0, type = 0;
  socklen_t len = sizeof domain;
  if (::getsockopt(copy->get(), SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) return "socket";
  len = sizeof type;
  if (::getsockopt(copy->get(), SOL_SOCKET, SO_TYPE, &type, &len) != 0) return "socket";
  const char* d = domain == AF_UNIX      ? "unix"
                  : domain == AF_INET    ? "inet"
                  : domain == AF_INET6   ? "inet6"
                  : domain == AF_NETLINK ? "netlink"
                  : domain == AF_PACKET  ? "packet"
                                         : nullptr;
  const char* t = type == SOCK_STREAM      ? "stream"
                  : type == SOCK_DGRAM     ? "dgram"
                  : type == SOCK_SEQPACKET ? "seqpacket"
                  : type == SOCK_RAW       ? "raw"
                                           : nullptr;
  return fmt::format("{} {} socket", d ? d : fmt::format("family {}", domain).c_str(),
                     t ? t : fmt::format("type {}", type).c_str());
}

// What an fd no kind handles is, in words for the refusal.
// Whose pidfd it is: fdinfo's Pid is as amber's /proc sees it (-1: the
// task is gone).
std::string pidfd_target(const FdProbe& p, const FdDumpContext& ctx) {
  for (const auto& [key, value] : p.info.fields) {
    if (key != "Pid") continue;
    const pid_t pid = static_cast<pid_t>(std::strtol(value.c_str(), nullptr, 10));
    if (pid <= 0) return "pidfd of a process that has exited";
    if (ctx.vpid_of)
      if (auto it = ctx.vpid_of->find(pid); it != ctx.vpid_of->end())
        return fmt::format("pidfd of task {} of the container", it->second);
    return fmt::format("pidfd of pid {}, outside the container", pid);
  }
  return "pidfd";
}

std::string describe_unsupported(const FdProbe& p, int pidfd, const FdDumpContext& ctx) {
  const mode_t type = p.st.st_mode & S_IFMT;
  if (p.link.starts_with("socket:")) return socket_kind(pidfd, p.fd);
  if (p.link.starts_with("anon_inode:")) {
    std::string_view name = std::string_view(p.link).substr(11);
    if (name.starts_with('[') && name.ends_with(']')) name = name.substr(1, name.size() - 2);
    if (name == "pidfd") return pidfd_target(p, ctx);
    return std::string(name);
  }
  if (p.link.starts_with("/memfd:")) return "memfd";
  if (type == S_IFREG && p.link.ends_with(" (deleted)")) return "deleted file";
  if (type == S_IFIFO) return "deleted FIFO";
  if (type == S_IFCHR) return fmt::format("character device {}:{}", major(p.st.st_rdev), minor(p.st.st_rdev));
  if (type == S_IFBLK) return fmt::format("block device {}:{}", major(p.st.st_rdev), minor(p.st.st_rdev));
  if (type == S_IFLNK) return "symbolic link (O_PATH)";
  if (type == S_IFSOCK) return "socket";
  return fmt::format("file type {:#o}", type);
}

bool is_pipe_kind(img::FdKind k) { return k == img::FD_PIPE || k == img::FD_FIFO; }

// Everything checked before the first fd is closed.
Status validate(const img::Files& files, const FdRestoreContext& ctx) {
  std::set<uint64_t> pipe_ids;
  if (ctx.pipes)
    for (const auto& [id, p] : *ctx.pipes) pipe_ids.insert(id);
  else
    for (const img::Pipe& p : files.pipes()) pipe_ids.insert(p.id());
  std::map<uint64_t, const img::Fd*> first_of;
  int prev = -1;
  for (const img::Fd& fd : files.fds()) {
    if (fd.fd() <= prev || fd.fd() >= kMaxFdNumber)
      return bad_input("task {}: fd {}: not ascending or out of range", ctx.vpid, fd.fd());
    prev = fd.fd();
    if (!files::kind_ops(fd.kind()))
      return unsupported("task {}: fd {}: {} fds are not supported yet", ctx.vpid, fd.fd(),
                         img::FdKind_Name(fd.kind()));
    if (is_pipe_kind(fd.kind()) && !pipe_ids.contains(fd.pipe().pipe_id()))
      return bad_input("task {}: fd {}: pipe {} is not in the image", ctx.vpid, fd.fd(), fd.pipe().pipe_id());
    if (fd.container_log() && ctx.log_fd < 0 && !(ctx.inherited && ctx.inherited->contains(fd.ofd_id())))
      return failf("task {}: fd {}: the container's log is needed but none was given", ctx.vpid, fd.fd());
    if (fd.console() && ctx.console_fd < 0 && !(ctx.inherited && ctx.inherited->contains(fd.ofd_id())))
      return failf("task {}: fd {}: the container's console is needed but none was given", ctx.vpid, fd.fd());
    if (fd.ofd_id() == 0) continue;
    auto [it, fresh] = first_of.emplace(fd.ofd_id(), &fd);
    const img::Fd& first = *it->second;
    if (!fresh && (first.kind() != fd.kind() || first.container_log() != fd.container_log() ||
                   first.console() != fd.console() ||
                   first.pipe().pipe_id() != fd.pipe().pipe_id() ||
                   first.pipe().write_end() != fd.pipe().write_end()))
      return bad_input("task {}: fds {} and {} share description {:#x} but differ", ctx.vpid, first.fd(), fd.fd(),
                       fd.ofd_id());
  }
  return {};
}

// Moves a kept fd above `top`, keeping its close-on-exec flag.
Result<int> move_above(int fd, int top) {
  if (fd > top) return fd;
  int fl = ::fcntl(fd, F_GETFD);
  if (fl < 0) return sys_fail("fd {} to keep", fd);
  int moved = ::fcntl(fd, (fl & FD_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, top + 1);
  if (moved < 0) return sys_fail("move fd {} above {}", fd, top);
  UniqueFd old(fd);  // closes the original number
  return moved;
}

// Closes every fd but `survivors`.
Status close_all_but(std::vector<int> survivors) {
  std::sort(survivors.begin(), survivors.end());
  unsigned from = 0;
  for (int s : survivors) {
    if (static_cast<unsigned>(s) > from && ::syscall(SYS_close_range, from, static_cast<unsigned>(s) - 1, 0) != 0)
      return sys_fail("close_range {}..{}", from, s - 1);
    from = static_cast<unsigned>(s) + 1;
  }
  if (::syscall(SYS_close_range, from, ~0u, 0) != 0) return sys_fail("close_range {}..", from);
  return {};
}

// fd numbers at or above the soft RLIMIT_NOFILE cannot be installed; the
// image's own limits are set later from outside (rlimits.h), so the soft
// limit only needs to be high enough now.
Status make_room_for(int top) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return sys_fail("getrlimit RLIMIT_NOFILE");
  if (static_cast<rlim_t>(top) < lim.rlim_cur) return {};
  if (static_cast<rlim_t>(top) >= lim.rlim_max)
    return failf("fd {} is above the hard RLIMIT_NOFILE {}", top, lim.rlim_max);
  lim.rlim_cur = lim.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) return sys_fail("setrlimit RLIMIT_NOFILE {}", lim.rlim_cur);
  return {};
}

}  // namespace

namespace files {

uint32_t description_flags(const FdProbe& p) { return p.info.flags & ~static_cast<uint32_t>(O_CLOEXEC); }

Result<UniqueFd> lift_fd(UniqueFd fd, int floor) {
  if (fd.get() > floor) return fd;
  int lifted = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, floor + 1);
  if (lifted < 0) return sys_fail("move fd {} above {}", fd.get(), floor);
  return UniqueFd(lifted);
}

}  // namespace files

Result<TaskFds> probe_fds(const FdDumpContext& ctx, Blockers* blockers) {
  std::vector<int> numbers = TRY_CTX(sys::list_fds(ctx.pid), "task {}", ctx.vpid);
  TaskFds t;
  t.ctx = ctx;
  for (int fd : numbers) t.probes.push_back(TRY_CTX(probe_fd(ctx.pid, fd), "task {}: fd {}", ctx.vpid, fd));
  UniqueFd pidfd = TRY_CTX(sys::pidfd_open(ctx.pid), "task {}", ctx.vpid);
  for (const FdProbe& p : t.probes) {
    img::Fd* f = t.files.add_fds();
    f->set_fd(p.fd);
    f->set_flags(files::description_flags(p));
    f->set_cloexec((p.info.flags & O_CLOEXEC) != 0);
    f->set_pos(static_cast<int64_t>(p.info.pos));
    auto one = [&]() -> Status {
      const files::FdKindOps* kind = files::is_declared_external(p, ctx) ? files::kind_ops(img::FD_EXTERNAL)
                                                                         : files::kind_of_probe(p);
      if (!kind) return unsupported("{} ({}): not supported yet", p.link, describe_unsupported(p, pidfd.get(), ctx));
      TRY(kind->dump(p, ctx, *f));
      TRY(files::dump_locks(p, *f));
      return files::dump_owner(pidfd.get(), p, ctx, *f);
    };
    const std::string who = fmt::format("task {}: fd {}", ctx.vpid, p.fd);
    Status st = context(one(), who);
    if (st) st = check_fdinfo_keys(p.info.fields, who);
    // With a collector every unsupported fd is named, not the first only.
    if (blockers && blockers->keep(st)) {
      f->set_kind(img::FD_UNSUPPORTED);
      continue;
    }
    TRY(std::move(st));
  }
  return t;
}

namespace {

// Only fds on one inode can share a description: each is compared (kcmp
// KCMP_FILE, across processes) with one fd of every description of that
// inode met so far.
Status assign_ofd_ids(std::vector<TaskFds>& tasks) {
  struct Rep {
    size_t task;
    int fd;
  };
  std::map<std::pair<dev_t, ino_t>, std::vector<Rep>> reps;
  for (size_t ti = 0; ti < tasks.size(); ++ti) {
    TaskFds& t = tasks[ti];
    for (size_t i = 0; i < t.probes.size(); ++i) {
      const FdProbe& p = t.probes[i];
      auto& list = reps[{p.st.st_dev, p.st.st_ino}];
      const Rep* same = nullptr;
      for (const Rep& r : list) {
        int c = TRY_CTX(sys::kcmp(t.ctx.pid, tasks[r.task].ctx.pid, sys::KcmpType::File,
                                  static_cast<unsigned long>(p.fd), static_cast<unsigned long>(r.fd)),
                        "task {}: fd {}", t.ctx.vpid, p.fd);
        if (c == 0) {
          same = &r;
          break;
        }
      }
      if (!same) {
        list.push_back({ti, p.fd});
        same = &list.back();
      }
      t.files.mutable_fds(static_cast<int>(i))
          ->set_ofd_id((static_cast<uint64_t>(static_cast<uint32_t>(tasks[same->task].ctx.vpid)) << 32) |
                       (static_cast<uint64_t>(same->fd) + 1));
    }
  }
  return {};
}

// Pipes by inode across every task; each peeked once through its first
// read end.
Status link_pipes(std::vector<TaskFds>& tasks) {
  struct End {
    size_t task = 0;
    int fd = -1;
  };
  struct Found {
    End read, write;
    bool packet = false;
    bool fifo = false;
    std::string fifo_path;
  };
  std::map<uint64_t, Found> pipes;
  for (size_t ti = 0; ti < tasks.size(); ++ti) {
    const TaskFds& t = tasks[ti];
    for (int i = 0; i < t.files.fds_size(); ++i) {
      const img::Fd& f = t.files.fds(i);
      if (!is_pipe_kind(f.kind())) continue;
      Found& found = pipes[f.pipe().pipe_id()];
      End& end = f.pipe().write_end() ? found.write : found.read;
      if (end.fd < 0) end = {ti, f.fd()};
      if (f.pipe().read_write() && found.write.fd < 0) found.write = {ti, f.fd()};
      found.packet |= (f.flags() & O_DIRECT) != 0;
      if (f.kind() == img::FD_FIFO && !found.fifo) {
        found.fifo = true;
        found.fifo_path = f.path();
      }
    }
  }
  for (const auto& [id, f] : pipes) {
    if (f.fifo) {
      // A FIFO needs no partner: a reader may wait for writers to come.
      // Listed with the first task holding a read end, else a write end.
      const End& at = f.read.fd >= 0 ? f.read : f.write;
      TaskFds& holder = tasks[at.task];
      img::Pipe p;
      if (f.read.fd >= 0) {
        UniqueFd pidfd = TRY_CTX(sys::pidfd_open(holder.ctx.pid), "task {}", holder.ctx.vpid);
        p = TRY(files::dump_pipe(id, pidfd.get(), holder.ctx, at.fd, f.packet));
      } else {
        p = TRY(files::dump_fifo_without_reader(id, holder.ctx.pid, holder.ctx, at.fd));
      }
      p.set_fifo_path(f.fifo_path);
      *holder.files.add_pipes() = std::move(p);
      continue;
    }
    // An end in no task of the container: the seal check has proved that
    // no outside task holds it, so it is closed everywhere (make's jobserver
    // pipe after the writer exited, a reader gone with data left): restored
    // as a pipe whose missing end is closed again once the tables are
    // installed (PipeSet drops the end nobody takes), so the reader sees
    // the data then EOF and a writer gets EPIPE.
    if (f.write.fd < 0 || f.read.fd < 0) {
      const bool has_reader = f.read.fd >= 0;
      const End& have = has_reader ? f.read : f.write;
      TaskFds& holder = tasks[have.task];
      img::Pipe p;
      if (has_reader) {
        UniqueFd pidfd = TRY_CTX(sys::pidfd_open(holder.ctx.pid), "task {}", holder.ctx.vpid);
        p = TRY(files::dump_pipe(id, pidfd.get(), holder.ctx, have.fd, f.packet));
      } else {
        p = TRY(files::dump_pipe_without_reader(id, holder.ctx.pid, holder.ctx, have.fd, f.packet));
      }
      p.set_no_writer(has_reader);
      p.set_no_reader(!has_reader);
      *holder.files.add_pipes() = std::move(p);
      continue;
    }
    TaskFds& reader = tasks[f.read.task];
    UniqueFd pidfd = TRY_CTX(sys::pidfd_open(reader.ctx.pid), "task {}", reader.ctx.vpid);
    *reader.files.add_pipes() = TRY(files::dump_pipe(id, pidfd.get(), reader.ctx, f.read.fd, f.packet));
  }
  return {};
}

}  // namespace

Status link_fds(std::vector<TaskFds>& tasks) {
  TRY(assign_ofd_ids(tasks));
  TRY(files::check_external_descriptions(tasks));
  TRY(files::check_shared_epolls(tasks));
  // A pidfd is made again per task (restore_pidfds): one description held
  // by several tasks would become several.
  for (const TaskFds& t : tasks)
    for (const img::Fd& f : t.files.fds())
      if (f.kind() == img::FD_PIDFD && static_cast<pid_t>(f.ofd_id() >> 32) != t.ctx.vpid)
        return unsupported("task {}: fd {}: pidfd of task {} shared with task {}: not supported yet", t.ctx.vpid,
                           f.fd(), f.pidfd_pid(), static_cast<pid_t>(f.ofd_id() >> 32));
  files::mark_memfd_originals(tasks);
  TRY(link_pipes(tasks));
  TRY(files::link_ptys(tasks));
  TRY(files::link_unix_sockets(tasks));
  TRY(files::collect_unlinked(tasks));
  TRY(files::mark_mapped_locks(tasks));
  return {};
}

Result<img::Files> dump_fds(const FdDumpContext& ctx) {
  std::vector<TaskFds> one;
  one.push_back(TRY(probe_fds(ctx)));
  TRY(link_fds(one));
  return std::move(one.front().files);
}

Status open_fds_in_child(const img::Files& files, const FdRestoreContext& ctx) {
  TRY(validate(files, ctx));
  const int own_top = files.fds().empty() ? -1 : files.fds(files.fds_size() - 1).fd();
  const int top = std::max(own_top, ctx.top);
  TRY_CTX(make_room_for(top), "task {}", ctx.vpid);
  auto inherited = [&](uint64_t ofd) -> int {
    if (!ctx.inherited || ofd == 0) return -1;
    auto it = ctx.inherited->find(ofd);
    return it == ctx.inherited->end() ? -1 : it->second;
  };

  // Kept fds (and the log) out of the way of the image's numbers.
  int log_fd = ctx.log_fd;
  bool log_kept = false;
  std::vector<int> survivors;
  for (int& k : ctx.keep) {
    const int before = k;
    k = TRY_CTX(move_above(k, top), "task {}", ctx.vpid);
    if (before == log_fd) {
      log_fd = k;
      log_kept = true;
    }
    survivors.push_back(k);
  }
  if (log_fd >= 0 && !log_kept) {
    log_fd = TRY_CTX(move_above(log_fd, top), "task {}: container log", ctx.vpid);
    survivors.push_back(log_fd);
  }
  UniqueFd log_owner(log_kept ? -1 : log_fd);  // closed at the end unless kept
  // The console's slave: the same (never in `keep`).
  int console_fd = -1;
  if (ctx.console_fd >= 0) {
    console_fd = TRY_CTX(move_above(ctx.console_fd, top), "task {}: the container's console", ctx.vpid);
    survivors.push_back(console_fd);
  }
  UniqueFd console_owner(console_fd);
  // Inherited descriptions this table has are owned here from now on (an
  // ancestor opened them above every image fd; the others are closed now).
  std::vector<UniqueFd> inherited_owned;
  if (ctx.inherited) {
    std::set<uint64_t> wanted;
    for (const img::Fd& fd : files.fds()) wanted.insert(fd.ofd_id());
    for (const auto& [ofd, fd] : *ctx.inherited) {
      if (!wanted.contains(ofd)) continue;
      if (fd <= top) return failf("task {}: inherited description {:#x} at fd {}, not above {}", ctx.vpid, ofd, fd, top);
      survivors.push_back(fd);
      inherited_owned.emplace_back(fd);
    }
  }
  TRY_CTX(close_all_but(survivors), "task {}", ctx.vpid);

  // Pipes this task holds alone; the shared ones came with the inherited fds.
  std::vector<const img::Pipe*> local_pipes;
  {
    std::map<uint64_t, const img::Pipe*> by_id;
    if (ctx.pipes)
      for (const auto& [id, p] : *ctx.pipes) by_id[id] = &p;
    else
      for (const img::Pipe& p : files.pipes()) by_id[p.id()] = &p;
    std::set<uint64_t> needed;
    for (const img::Fd& fd : files.fds())
      if (is_pipe_kind(fd.kind()) && inherited(fd.ofd_id()) < 0) needed.insert(fd.pipe().pipe_id());
    for (uint64_t id : needed) local_pipes.push_back(by_id.at(id));
  }
  files::PipeSet pipes = TRY(files::PipeSet::create(local_pipes, ctx.vpid, top));
  files::UnlinkedMap own_unlinked;
  if (!ctx.unlinked)
    for (const img::UnlinkedFile& u : files.unlinked()) own_unlinked.emplace(u.ofd_id(), u);
  const files::UnlinkedMap* unlinked = ctx.unlinked ? ctx.unlinked : &own_unlinked;
  std::map<uint64_t, UniqueFd> descriptions;  // ofd_id -> one open of it
  std::vector<UniqueFd> lone;                  // descriptions of unknown sharing (ofd_id 0)
  bool log_used = false;
  for (const img::Fd& fd : files.fds()) {
    int src = inherited(fd.ofd_id());
    if (src >= 0) {
      // Opened by an ancestor: shared with other tasks.
    } else if (auto it = descriptions.find(fd.ofd_id()); fd.ofd_id() != 0 && it != descriptions.end()) {
      src = it->second.get();
    } else {
      files::OpenContext oc{log_fd, ctx.log_original ? fd.ofd_id() == ctx.log_original : !log_used, unlinked,
                            ctx.memfds, &pipes, console_fd, fd.ofd_id() == ctx.console_original};
      if (fd.container_log()) log_used = true;
      UniqueFd opened = TRY_CTX(files::open_description(fd, oc), "task {}: fd {}", ctx.vpid, fd.fd());
      opened = TRY_CTX(files::lift_fd(std::move(opened), top), "task {}: fd {}", ctx.vpid, fd.fd());
      src = opened.get();
      if (fd.ofd_id() != 0)
        descriptions[fd.ofd_id()] = std::move(opened);
      else
        lone.push_back(std::move(opened));
    }
    if (::dup3(src, fd.fd(), fd.cloexec() ? O_CLOEXEC : 0) < 0)
      return sys_fail("task {}: install fd {}", ctx.vpid, fd.fd());
  }
  // Kinds whose state refers to other fds of the table (fd_kinds.h): once
  // per description, in their kinds' order.
  {
    std::vector<std::pair<int, const img::Fd*>> later;
    std::set<uint64_t> met;
    for (const img::Fd& fd : files.fds()) {
      const files::FdKindOps* kind = files::kind_ops(fd.kind());
      if (!kind || !kind->after_install || (fd.ofd_id() != 0 && !met.insert(fd.ofd_id()).second)) continue;
      later.emplace_back(kind->install_rank ? kind->install_rank(fd, files) : 0, &fd);
    }
    std::stable_sort(later.begin(), later.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [rank, fd] : later)
      TRY_CTX(files::kind_ops(fd->kind())->after_install(*fd, files), "task {}: fd {}", ctx.vpid, fd->fd());
  }
  // Locks last: closing the temporary descriptions of a file would drop the
  // process's POSIX locks on it.
  descriptions.clear();
  lone.clear();
  inherited_owned.clear();
  for (const img::Fd& fd : files.fds())
    if (!fd.locks().empty()) TRY_CTX(files::take_locks(fd), "task {}: fd {}", ctx.vpid, fd.fd());
  return {};
}

Status verify_fds(pid_t pid, pid_t vpid, const img::Files& files) {
  std::vector<int> have = TRY_CTX(sys::list_fds(pid), "task {}", vpid);
  std::vector<int> want;
  for (const img::Fd& f : files.fds()) want.push_back(f.fd());
  std::sort(want.begin(), want.end());
  if (have != want) {
    std::vector<int> extra, missing;
    std::set_difference(have.begin(), have.end(), want.begin(), want.end(), std::back_inserter(extra));
    std::set_difference(want.begin(), want.end(), have.begin(), have.end(), std::back_inserter(missing));
    return failf("task {}: fd table after the restore: {} fd(s) not in the image ({}), {} missing ({})", vpid,
                 extra.size(), fmt::join(extra, ","), missing.size(), fmt::join(missing, ","));
  }
  for (const img::Fd& f : files.fds()) {
    FdProbe p = TRY_CTX(probe_fd(pid, f.fd()), "task {}: fd {}", vpid, f.fd());
    const uint32_t flags = files::description_flags(p);
    const bool cloexec = (p.info.flags & O_CLOEXEC) != 0;
    if (flags != f.flags() || cloexec != f.cloexec())
      return failf("task {}: fd {}: flags {:o}{} after the restore, the image has {:o}{}", vpid, f.fd(), flags,
                   cloexec ? " cloexec" : "", f.flags(), f.cloexec() ? " cloexec" : "");
    const bool positioned = f.kind() == img::FD_REGULAR || f.kind() == img::FD_DIRECTORY;
    if (positioned && !f.container_log() && static_cast<int64_t>(p.info.pos) != f.pos())
      return failf("task {}: fd {}: position {} after the restore, the image has {}", vpid, f.fd(), p.info.pos,
                   f.pos());
    const files::FdKindOps* kind = files::kind_ops(f.kind());
    if (kind && kind->verify) TRY_CTX(kind->verify(p, f), "task {}: fd {} after the restore", vpid, f.fd());
  }
  return {};
}

}  // namespace amber::kinds
