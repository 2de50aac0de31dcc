// Files in flight in unix socket queues (SCM_RIGHTS sent, not received
// yet), dump side. A peek (unix_socket.cpp) hands amber a copy of each; it is
// described like a task's fd of it, and compared (kcmp KCMP_FILE) with every
// fd of the container's tasks: a description a task holds too becomes that
// description again at the restore (made with the unit, inherited by the
// holder), one held by nobody is made for the queue alone. A socket in
// flight joins the unit of the queue it waits in; one no task holds is
// described in full where it is in flight.
//
// Kinds: unix sockets, pipe ends, regular files and directories, the
// harmless character devices, eventfds. Refused by name: every other kind
// (inet sockets, epolls, ptys, ...), FIFOs, the container's log, a file
// under /proc, an unlinked file, or a file with locks, that no task holds.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <map>

#include "base/files.h"
#include "kinds/files/fd_kinds.h"
#include "kinds/files/unix_socket.h"
#include "sys/pidfd.h"

namespace amber::kinds::files {

namespace {

// A task's fd with the same description, and whether any task holds an fd
// of the same inode (a pipe's other end).
struct Holder {
  pid_t vpid = 0;
  int fd = -1;
  bool inode_held = false;
};

Result<Holder> find_holder(int f, const struct stat& st, const FdDumpContext& ctx) {
  Holder h;
  std::map<pid_t, pid_t> only{{ctx.pid, ctx.vpid}};
  const std::map<pid_t, pid_t>& tasks = ctx.vpid_of ? *ctx.vpid_of : only;
  for (const auto& [pid, vpid] : tasks) {
    auto fds = sys::list_fds(pid);
    if (!fds) continue;  // a zombie has no fds
    for (int n : *fds) {
      struct stat s {};
      if (::stat(fmt::format("/proc/{}/fd/{}", pid, n).c_str(), &s) != 0) continue;
      if (s.st_dev != st.st_dev || s.st_ino != st.st_ino) continue;
      h.inode_held = true;
      if (h.vpid == 0 && TRY(sys::kcmp(::getpid(), pid, sys::KcmpType::File, static_cast<unsigned long>(f),
                                       static_cast<unsigned long>(n))) == 0) {
        h.vpid = vpid;
        h.fd = n;
      }
    }
  }
  return h;
}

bool is_unix(int fd) {
  int domain = 0;
  socklen_t len = sizeof domain;
  return ::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_UNIX;
}

bool allowed_in_flight(img::FdKind k) {
  return k == img::FD_PIPE || k == img::FD_REGULAR || k == img::FD_DIRECTORY || k == img::FD_CHARDEV ||
         k == img::FD_EVENTFD;
}

}  // namespace

void for_each_in_flight(img::UnixSocket& u, const std::function<void(img::InFlightFd&)>& f) {
  for (img::UnixMessage& m : *u.mutable_queue())
    for (img::InFlightFd& e : *m.mutable_fds()) {
      f(e);
      if (e.file().kind() == img::FD_UNIX_SOCKET && described(e.file().unix_socket()))
        for_each_in_flight(*e.mutable_file()->mutable_unix_socket(), f);
    }
}

void for_each_in_flight(const img::UnixSocket& u, const std::function<void(const img::InFlightFd&)>& f) {
  for (const img::UnixMessage& m : u.queue())
    for (const img::InFlightFd& e : m.fds()) {
      f(e);
      if (e.file().kind() == img::FD_UNIX_SOCKET && described(e.file().unix_socket()))
        for_each_in_flight(e.file().unix_socket(), f);
    }
}

Result<img::InFlightFd> dump_in_flight(int fd, const FdDumpContext& ctx, std::vector<uint64_t>& stack,
                                       uint64_t own_id) {
  FdProbe p;
  p.pid = ::getpid();
  p.fd = fd;
  p.link = TRY(read_link(fmt::format("/proc/self/fd/{}", fd)));
  if (::fstat(fd, &p.st) != 0) return sys_fail("fstat a file in flight");
  if (S_ISREG(p.st.st_mode)) {
    struct statfs fs {};
    if (::fstatfs(fd, &fs) != 0) return sys_fail("statfs {}", p.link);
    p.fs_type = fs.f_type;
  }
  p.info = TRY(sys::read_fdinfo(p.pid, fd));
  const std::string what = fmt::format("{} in flight (SCM_RIGHTS)", p.link);

  img::InFlightFd out;
  img::Fd& file = *out.mutable_file();
  file.set_flags(description_flags(p));
  file.set_pos(static_cast<int64_t>(p.info.pos));
  const Holder h = TRY_CTX(find_holder(fd, p.st, ctx), "{}", what);
  if (h.vpid != 0) {
    out.set_holder_vpid(h.vpid);
    out.set_holder_fd(h.fd);
  } else {
    out.set_dev(p.st.st_dev);
    out.set_ino(p.st.st_ino);
    file.set_ofd_id(own_id);
  }

  if (S_ISSOCK(p.st.st_mode) && is_unix(fd)) {
    file.set_kind(img::FD_UNIX_SOCKET);
    img::UnixSocket& u = *file.mutable_unix_socket();
    u.set_inode(p.st.st_ino);
    if (h.vpid != 0) return out;  // described with its holder's fd
    file.set_ofd_id(in_flight_socket_ofd(p.st.st_ino));
    if (std::find(stack.begin(), stack.end(), p.st.st_ino) != stack.end()) return out;  // being described
    TRY(dump_unix_state(fd, p.st.st_ino, what, ctx, u, stack));
    return out;
  }

  const FdKindOps* kind = kind_of_probe(p);
  if (!kind || !allowed_in_flight(kind->kinds[0]))
    return unsupported("{} ({}) in flight (SCM_RIGHTS): not supported yet", p.link,
                       kind ? kind->name : "a kind amber does not restore");
  FdDumpContext own = ctx;  // the file is amber's fd now
  own.pid = p.pid;
  TRY_CTX(kind->dump(p, own, file), "{}", what);
  if (file.kind() == img::FD_FIFO) return unsupported("{}: a FIFO in flight: not supported yet", what);
  if (file.container_log()) return unsupported("{}: the container's log in flight: not supported yet", what);
  if (h.vpid != 0) return out;  // made from its holder's entry
  TRY(dump_locks(p, file));
  if (file.locks_size() > 0)
    return unsupported("{}: a file with locks in flight, no task holding it: not supported yet", what);
  if (file.unlinked()) return unsupported("{}: an unlinked file in flight, no task holding it: not supported yet", what);
  if (file.path().starts_with("/proc/"))
    return unsupported("{}: a /proc file in flight, no task holding it: not supported yet", what);
  if (file.kind() == img::FD_PIPE && !h.inode_held) {
    // Neither end in a task: the pipe's size and data come with this end.
    const uint64_t id = file.pipe().pipe_id();
    const bool packet = (file.flags() & O_DIRECT) != 0;
    if (file.pipe().write_end()) {
      *out.mutable_pipe() = TRY(dump_pipe_without_reader(id, p.pid, own, fd, packet));
    } else {
      UniqueFd self = TRY(sys::pidfd_open(p.pid));
      *out.mutable_pipe() = TRY(dump_pipe(id, self.get(), own, fd, packet));
    }
  }
  return out;
}

Status link_in_flight(std::vector<TaskFds>& tasks) {
  std::map<std::pair<pid_t, int>, uint64_t> ofd_of;  // (vpid, fd) -> ofd_id
  for (const TaskFds& t : tasks)
    for (const img::Fd& f : t.files.fds()) ofd_of[{t.ctx.vpid, f.fd()}] = f.ofd_id();
  // Files no task holds, by (dev, ino, pipe end): the descriptions met.
  // Two met in different queues (kcmp told those of one queue apart) with
  // the same flags and position may be one description or two: refused.
  std::map<std::tuple<uint64_t, uint64_t, bool>, std::vector<const img::Fd*>> lone;
  Status st;
  for (TaskFds& t : tasks)
    for (img::Fd& f : *t.files.mutable_fds()) {
      if (f.kind() != img::FD_UNIX_SOCKET) continue;
      for_each_in_flight(*f.mutable_unix_socket(), [&](img::InFlightFd& e) {
        if (!st) return;
        if (e.holder_vpid() != 0) {
          auto it = ofd_of.find({e.holder_vpid(), e.holder_fd()});
          if (it == ofd_of.end()) {
            st = failf("a file in flight is held by task {} fd {}, which is not in the image", e.holder_vpid(),
                       e.holder_fd());
            return;
          }
          e.mutable_file()->set_ofd_id(it->second);
          return;
        }
        if (e.file().kind() == img::FD_UNIX_SOCKET) return;  // a socket is one description
        const img::Fd& f = e.file();
        std::vector<const img::Fd*>& met = lone[std::tuple{e.dev(), e.ino(), f.pipe().write_end()}];
        for (const img::Fd* o : met)
          if (o->ofd_id() != f.ofd_id() && o->flags() == f.flags() && o->pos() == f.pos()) {
            st = unsupported("{} (inode {}) is in flight in two queues with the same flags and position, no task "
                             "holding it (one description or two?): not supported yet",
                             f.path().empty() ? img::FdKind_Name(f.kind()) : f.path(), e.ino());
            return;
          }
        met.push_back(&f);
      });
    }
  return st;
}

InFlightRefs in_flight_refs(const std::vector<img::Fd>& fds) {
  InFlightRefs refs;
  for (const img::Fd& f : fds) {
    if (f.kind() != img::FD_UNIX_SOCKET) continue;
    for_each_in_flight(f.unix_socket(), [&](const img::InFlightFd& e) {
      if (e.file().kind() == img::FD_PIPE)
        refs.pipes.push_back(e.file().pipe().pipe_id());
      else if (e.file().kind() != img::FD_UNIX_SOCKET)
        refs.descriptions.push_back(e.file().ofd_id());
    });
  }
  return refs;
}

}  // namespace amber::kinds::files
