// Unix sockets (FD_UNIX_SOCKET), dump and verify side: what sock_diag says
// of the socket (type, state, name, peer, pending connections, shutdown),
// its options, and its receive queue read without consuming it (SO_PEEK_OFF
// + MSG_PEEK on a pidfd_getfd copy: the container is held, nothing else
// reads; the task's own SO_PEEK_OFF is put back). The sockets a connection,
// a pending connection, an accept or a datagram sender ties together are one
// unit, restored whole by unix_socket_restore.cpp.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <linux/magic.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <numeric>

#include "base/files.h"
#include "kinds/files/fd_kinds.h"
#include "kinds/files/unix_socket.h"
#include "kinds/ns/mounts.h"
#include "sys/pidfd.h"
#include "sys/sock_diag.h"

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif

namespace amber::kinds::files {

namespace {

constexpr int kListen = 10;       // TCP_LISTEN as sock_diag reports it
constexpr int kEstablished = 1;   // TCP_ESTABLISHED

// sock_diag's "@name" for an abstract name, the path otherwise.
std::string diag_name(const std::string& name) {
  if (!name.empty() && name[0] == '\0') return "@" + name.substr(1);
  return name;
}

Result<int> int_opt(int fd, int opt, const char* what) {
  int v = 0;
  socklen_t len = sizeof v;
  if (::getsockopt(fd, SOL_SOCKET, opt, &v, &len) != 0) return sys_fail("getsockopt {}", what);
  return v;
}

Result<int64_t> timeo_opt(int fd, int opt, const char* what) {
  timeval tv{};
  socklen_t len = sizeof tv;
  if (::getsockopt(fd, SOL_SOCKET, opt, &tv, &len) != 0) return sys_fail("getsockopt {}", what);
  return static_cast<int64_t>(tv.tv_sec) * 1000000 + tv.tv_usec;
}

// The fds a peek handed amber (copies of the files in flight), owned.
std::vector<UniqueFd> received_fds(msghdr& m) {
  std::vector<UniqueFd> out;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int got;
      std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
      out.emplace_back(got);
    }
  }
  return out;
}

// Room for the most fds one message carries (SCM_MAX_FD) and credentials.
constexpr size_t kControl = CMSG_SPACE(sizeof(int) * 253) + CMSG_SPACE(sizeof(ucred)) + 256;

// Reads the receive queue through `fd` with MSG_PEEK from offset 0 on,
// message by message, and what is in flight with it (dump_in_flight).
Status peek_queue(int fd, const sys::UnixSockDiag& d, const FdDumpContext& ctx, img::UnixSocket& u,
                  std::vector<uint64_t>& stack) {
  const int saved = TRY(int_opt(fd, SO_PEEK_OFF, "SO_PEEK_OFF"));
  const bool stream = u.type() == SOCK_STREAM;
  std::vector<char> buf(size_t{1} << 16);
  alignas(cmsghdr) char control[kControl];
  // Every file in flight seen so far, open: one description sent twice
  // (kcmp) is one description again.
  std::vector<std::pair<UniqueFd, uint64_t>> seen;
  int64_t off = 0;
  Status result;
  // A run of bytes: appended to the last message unless that one carries fds.
  auto stream_bytes = [&](const char* p, size_t n) {
    if (n == 0) return;
    if (u.queue_size() == 0 || u.queue(u.queue_size() - 1).fds_size() > 0) u.add_queue();
    u.mutable_queue(u.queue_size() - 1)->mutable_data()->append(p, n);
  };
  auto add_fds = [&](img::UnixMessage& msg, std::vector<UniqueFd> fds) -> Status {
    for (UniqueFd& f : fds) {
      const uint64_t own = (uint64_t{1} << 63) | (u.inode() << 12) | (seen.size() & 0xfff);
      img::InFlightFd e = TRY(dump_in_flight(f.get(), ctx, stack, own));
      if (e.holder_vpid() == 0 && e.file().kind() != img::FD_UNIX_SOCKET)
        for (const auto& [other, id] : seen)
          if (TRY(sys::kcmp(::getpid(), ::getpid(), sys::KcmpType::File, static_cast<unsigned long>(f.get()),
                            static_cast<unsigned long>(other.get()))) == 0)
            e.mutable_file()->set_ofd_id(id);
      seen.emplace_back(std::move(f), e.file().ofd_id());
      *msg.add_fds() = std::move(e);
    }
    return {};
  };
  for (;;) {
    const int o = static_cast<int>(off);
    if (::setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &o, sizeof o) != 0) {
      result = sys_fail("setsockopt SO_PEEK_OFF");
      break;
    }
    sockaddr_un from{};
    iovec iov{buf.data(), buf.size()};
    msghdr m{};
    m.msg_name = &from;
    m.msg_namelen = sizeof from;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(fd, &m, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) {
      result = sys_fail("recvmsg MSG_PEEK");
      break;
    }
    std::vector<UniqueFd> fds = received_fds(m);
    if (m.msg_flags & MSG_CTRUNC) {
      result = failf("a message with more fds in flight than SCM_MAX_FD");
      break;
    }
    if (m.msg_flags & MSG_TRUNC) {  // a datagram bigger than the buffer: again, bigger
      if (buf.size() >= (size_t{1} << 30)) {
        result = failf("a datagram over 1 GiB in its receive queue");
        break;
      }
      buf.resize(buf.size() * 4);
      continue;
    }
    // 0: the end of a shut-down stream; a datagram of no bytes is a
    // message (kept) unless the receive side is shut down, where the two
    // cannot be told apart (taken as the end).
    if (n == 0 && fds.empty() && (stream || (d.shutdown & 1))) break;
    if (n == 0 && fds.empty() && !ctx.read_queues) {
      // This peek made it "peeked": the dump proper would never see it.
      result = unsupported("a datagram of no bytes queued with files in flight: not supported yet");
      break;
    }
    if (stream && fds.empty()) {
      stream_bytes(buf.data(), static_cast<size_t>(n));
    } else if (stream) {
      // A stream peek stops after the skb that carried fds, with the bytes
      // queued before it, but cannot tell where that skb starts: every
      // peek, at any offset and of any length, walks on to the next skb
      // with fds and hands them over (unix_stream_read_generic, measured on
      // 6.18). The whole run is one message with the fds: they come with
      // the first read of it, where they came with the read that reached
      // their own bytes (the same for a read that takes the whole run).
      img::UnixMessage* msg = u.add_queue();
      msg->set_data(std::string(buf.data(), static_cast<size_t>(n)));
      if (result = add_fds(*msg, std::move(fds)); !result) break;
    } else {
      img::UnixMessage* msg = u.add_queue();
      msg->set_data(std::string(buf.data(), static_cast<size_t>(n)));
      if (m.msg_namelen > offsetof(sockaddr_un, sun_path)) {
        size_t len = m.msg_namelen - offsetof(sockaddr_un, sun_path);
        if (from.sun_path[0] != '\0') len = strnlen(from.sun_path, len);
        msg->set_sender(std::string(from.sun_path, len));
      }
      if (result = add_fds(*msg, std::move(fds)); !result) break;
    }
    off += n;
    if (n == 0) continue;  // the peek moved past the empty datagram (skb "peeked")
  }
  if (::setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &saved, sizeof saved) != 0 && result)
    result = sys_fail("setsockopt SO_PEEK_OFF back to {}", saved);
  return result;
}

// A path name: its socket file on the container's own tmpfs (the restore's
// bind makes it again there; anywhere else the old file would still be in
// the way), its mode and owner, or gone.
Status dump_socket_file(const FdDumpContext& ctx, const sys::UnixSockDiag& d, img::UnixSocket& u,
                        const std::string& what) {
  const std::string& name = u.name();
  if (!unix_path_on_own_tmpfs(name))
    return unsupported("{}: a socket file outside the container's own tmpfs (/tmp, /dev/shm): not supported yet",
                       what);
  UniqueFd root = TRY(open_fd(fmt::format("/proc/{}/root", ctx.pid), O_PATH | O_DIRECTORY));
  auto f = sys::open_at(root.get(), name, O_PATH | O_NOFOLLOW, sys::kInRoot);
  if (!f) {
    if (f.error().sys_errno != ENOENT) return std::unexpected(std::move(f.error()));
    u.set_file_unlinked(true);
    return {};
  }
  struct stat st {};
  if (::fstat(f->get(), &st) != 0) return sys_fail("fstat {}", name);
  if (!S_ISSOCK(st.st_mode) || st.st_ino != d.vfs_ino)
    return unsupported("{}: its socket file was replaced since the bind: not supported yet", what);
  struct statfs fs {};
  if (::fstatfs(f->get(), &fs) != 0) return sys_fail("statfs {}", name);
  if (fs.f_type != TMPFS_MAGIC)
    return unsupported("{}: a socket file outside the container's own tmpfs: not supported yet", what);
  u.set_file_mode(st.st_mode & 07777);
  u.set_file_uid(st.st_uid);
  u.set_file_gid(st.st_gid);
  return {};
}

Status dump_options(int fd, img::UnixSocket& u) {
  u.set_passcred(TRY(int_opt(fd, SO_PASSCRED, "SO_PASSCRED")) != 0);
  u.set_passsec(TRY(int_opt(fd, SO_PASSSEC, "SO_PASSSEC")) != 0);
  if (auto pp = int_opt(fd, SO_PASSPIDFD, "SO_PASSPIDFD")) u.set_passpidfd(*pp != 0);
  if (auto pr = int_opt(fd, SO_PASSRIGHTS, "SO_PASSRIGHTS")) u.set_no_passrights(*pr == 0);
  u.set_rcvbuf(TRY(int_opt(fd, SO_RCVBUF, "SO_RCVBUF")));
  u.set_sndbuf(TRY(int_opt(fd, SO_SNDBUF, "SO_SNDBUF")));
  u.set_peek_off(TRY(int_opt(fd, SO_PEEK_OFF, "SO_PEEK_OFF")));
  u.set_rcvtimeo_us(TRY(timeo_opt(fd, SO_RCVTIMEO_OLD, "SO_RCVTIMEO")));
  u.set_sndtimeo_us(TRY(timeo_opt(fd, SO_SNDTIMEO_OLD, "SO_SNDTIMEO")));
  if (TRY(int_opt(fd, SO_RCVLOWAT, "SO_RCVLOWAT")) != 1) return unsupported("SO_RCVLOWAT set: not supported yet");
  sock_fprog prog{};
  socklen_t len = sizeof prog;
  if (::getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, &prog, &len) == 0 && len > 0 && prog.len > 0)
    return unsupported("a socket filter (SO_ATTACH_FILTER): not supported yet");
  return {};
}

}  // namespace

std::string unix_socket_text(const img::UnixSocket& u) {
  const char* t = u.type() == SOCK_STREAM ? "stream" : u.type() == SOCK_DGRAM ? "datagram" : "seqpacket";
  std::string s = fmt::format("unix {} socket", t);
  if (u.state() == kListen) s = "listening " + s;
  if (!u.name().empty()) s += fmt::format(" \"{}\"", diag_name(u.name()));
  return s;
}

bool unix_path_on_own_tmpfs(const std::string& name) {
  if (name.empty() || name[0] != '/' || name.find('\0') != std::string::npos) return false;
  for (std::string_view part : split(name.substr(1), '/'))
    if (part.empty() || part == "." || part == "..") return false;
  for (std::string_view mp : {"/tmp", "/dev/shm"})
    if (name.starts_with(std::string(mp) + "/") && is_own_tmpfs(mp)) return true;
  return false;
}

bool is_unix_socket(const FdProbe& p) {
  if (!S_ISSOCK(p.st.st_mode) || p.pid <= 0) return false;
  char proto[32] = {};
  const std::string path = fmt::format("/proc/{}/fd/{}", p.pid, p.fd);
  ssize_t n = ::getxattr(path.c_str(), "system.sockprotoname", proto, sizeof proto - 1);
  return n >= 4 && std::string_view(proto, 4) == "UNIX";
}

Status dump_unix_socket(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out) {
  out.set_kind(img::FD_UNIX_SOCKET);
  UniqueFd pidfd = TRY(sys::pidfd_open(ctx.pid));
  UniqueFd copy = TRY_CTX(sys::pidfd_getfd(pidfd.get(), p.fd), "{}", p.link);
  std::vector<uint64_t> stack;
  return dump_unix_state(copy.get(), p.st.st_ino, p.link, ctx, *out.mutable_unix_socket(), stack);
}

Status dump_unix_state(int sock, uint64_t inode, const std::string& link, const FdDumpContext& ctx,
                       img::UnixSocket& u, std::vector<uint64_t>& stack) {
  const sys::UnixNetDiag net = TRY_CTX(sys::unix_sockets_of(sock), "{}", link);
  struct stat own_net {};
  if (::stat(fmt::format("/proc/{}/ns/net", ctx.pid).c_str(), &own_net) != 0) return sys_fail("net namespace");
  u.set_inode(inode);
  u.set_type(static_cast<uint32_t>(TRY(int_opt(sock, SO_TYPE, "SO_TYPE"))));
  {
    sockaddr_un a{};
    socklen_t len = sizeof a;
    if (::getsockname(sock, reinterpret_cast<sockaddr*>(&a), &len) != 0) return sys_fail("getsockname");
    if (len > offsetof(sockaddr_un, sun_path)) {
      size_t n = len - offsetof(sockaddr_un, sun_path);
      if (a.sun_path[0] != '\0') n = strnlen(a.sun_path, n);
      u.set_name(std::string(a.sun_path, n));
    }
  }
  const std::string what = fmt::format("{} ({})", link, unix_socket_text(u));
  if (own_net.st_ino != net.netns)
    return unsupported("{}: a socket of another net namespace than its holder's: not supported yet", what);
  const sys::UnixSockDiag* d = net.find(u.inode());
  if (!d) return failf("{}: not found by sock_diag", what);
  u.set_state(static_cast<uint32_t>(d->state));
  u.set_shutdown(d->shutdown);
  if (u.type() != SOCK_STREAM && u.type() != SOCK_DGRAM && u.type() != SOCK_SEQPACKET)
    return unsupported("{}: socket type {}: not supported yet", what, u.type());
  TRY_CTX(dump_options(sock, u), "{}", what);
  const bool connection = u.type() != SOCK_DGRAM;

  // Who it is tied to.
  const sys::UnixSockDiag* listener_of_pending = nullptr;
  for (const sys::UnixSockDiag& s : net.sockets)
    if (s.state == kListen && std::find(s.icons.begin(), s.icons.end(), u.inode()) != s.icons.end())
      listener_of_pending = &s;
  if (u.state() == kListen) {
    u.set_backlog(d->wqueue);
    for (uint64_t c : d->icons) {
      if (c == 0) return unsupported("{}: a pending connection whose client has closed: not supported yet", what);
      const sys::UnixSockDiag* client = net.find(c);
      if (client && client->wqueue > 0)
        // It waits in the embryo socket the accept will return, which only
        // accept() reaches: a failed or --leave-running dump could not put
        // the connection back in the listener's queue.
        return unsupported("{}: data sent on a connection not accepted yet (client socket:[{}]): not supported (only "
                           "accept() can read it, and a failed dump could not undo the accept)",
                           what, c);
      u.add_pending(c);
    }
  } else if (listener_of_pending) {
    // A client waiting in accept(): its peer is the embryo the accept will
    // return, which has no inode yet.
    if (!u.name().empty())
      return unsupported("{}: bound, then connected (not accepted yet): not supported yet", what);
  } else if (d->has_peer) {
    u.set_peer(d->peer);
    u.set_peer_gone(d->peer == 0);
  }
  if (connection && u.state() == kEstablished && !u.name().empty() && !listener_of_pending) {
    // Accepted connections carry their listener's name.
    const sys::UnixSockDiag* l = nullptr;
    for (const sys::UnixSockDiag& s : net.sockets)
      if (s.state == kListen && s.type == static_cast<int>(u.type()) && s.name == diag_name(u.name()) &&
          s.vfs_ino == d->vfs_ino)
        l = &s;
    if (!l)
      return unsupported("{}: connected with a name but no listener of that name (bound before connecting, or its "
                         "listener closed): not supported yet", what);
    u.set_accepted(true);
    u.set_listener(l->inode);
  }
  if (!connection && u.peer() != 0 && !u.peer_gone()) {
    const sys::UnixSockDiag* peer = net.find(u.peer());
    if (peer && peer->peer != u.inode() && peer->name.empty())
      return unsupported("{}: connected to an unbound datagram socket that is not connected back: not supported yet",
                         what);
  }
  if (!u.name().empty() && u.name()[0] != '\0' && !u.accepted()) {
    if (u.name()[0] != '/') return unsupported("{}: bound to a relative path: not supported yet", what);
    TRY(dump_socket_file(ctx, *d, u, what));
  }

  // The receive queue, and what cannot be put back with it. The blockers
  // pass peeks only the queues with files in flight (to name those amber
  // cannot send again), see FdDumpContext::read_queues.
  bool in_flight = false;
  if (!ctx.read_queues) {
    const sys::FdInfo info = TRY_CTX(sys::read_fdinfo(::getpid(), sock), "{}", what);
    for (const auto& [key, value] : info.fields) in_flight |= key == "scm_fds" && value != "0";
  }
  if (u.state() != kListen && (ctx.read_queues || in_flight)) {
    stack.push_back(inode);
    Status peeked = context(peek_queue(sock, *d, ctx, u, stack), what);
    stack.pop_back();
    TRY(std::move(peeked));
  }
  if ((u.queue_size() > 0 || (!ctx.read_queues && d->rqueue > 0)) && (u.passcred() || u.passpidfd() || u.passsec()))
    return unsupported("{}: credentials of queued data are visible (SO_PASSCRED/SO_PASSPIDFD/SO_PASSSEC): not "
                       "supported yet", what);
  if (u.type() == SOCK_STREAM && u.state() != kListen) {
    char c;
    if (::recv(sock, &c, 1, MSG_OOB | MSG_PEEK | MSG_DONTWAIT) >= 0)
      return unsupported("{}: out-of-band data (MSG_OOB) queued: not supported yet", what);
  }
  pollfd pfd{sock, 0, 0};
  if (::poll(&pfd, 1, 0) < 0) return sys_fail("poll");
  if (pfd.revents & POLLERR) {
    if (!(connection && u.peer_gone()))
      return unsupported("{}: a pending socket error: not supported yet", what);
    u.set_reset(true);  // the peer closed with data unread: ECONNRESET
  }
  return {};
}

Result<UniqueFd> open_unix_socket(const img::Fd& fd, const OpenContext&) {
  return failf("unix socket:[{}]: never opened alone (its unit is made whole)", fd.unix_socket().inode());
}

Status link_unix_sockets(std::vector<TaskFds>& tasks) {
  TRY(link_in_flight(tasks));
  // Union-find over the container's sockets (by inode) and the other files
  // in flight in their queues (a pipe by id, a description by ofd_id): one
  // file in flight in two units makes them one, made by one process.
  using Key = std::pair<int, uint64_t>;  // {0, socket inode}, {1, pipe id}, {2, ofd id}
  std::map<Key, Key> parent;
  std::map<uint64_t, img::UnixSocket*> by_inode;  // the sockets tasks hold, then those described in flight
  std::map<std::string, uint64_t> by_name;         // bound (not accepted) sockets
  std::function<void(img::UnixSocket&)> add = [&](img::UnixSocket& u) {
    if (!by_inode.emplace(u.inode(), &u).second) return;
    parent.emplace(Key{0, u.inode()}, Key{0, u.inode()});
    if (!u.name().empty() && !u.accepted()) by_name.emplace(u.name(), u.inode());
  };
  for (TaskFds& t : tasks)
    for (img::Fd& f : *t.files.mutable_fds())
      if (f.kind() == img::FD_UNIX_SOCKET) add(*f.mutable_unix_socket());
  for (TaskFds& t : tasks)
    for (img::Fd& f : *t.files.mutable_fds())
      if (f.kind() == img::FD_UNIX_SOCKET)
        for_each_in_flight(*f.mutable_unix_socket(), [&](img::InFlightFd& e) {
          if (e.file().kind() == img::FD_UNIX_SOCKET && described(e.file().unix_socket()))
            add(*e.mutable_file()->mutable_unix_socket());
        });
  std::function<Key(Key)> find = [&](Key x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  auto join = [&](uint64_t a, Key b) -> Status {
    if (b.first == 0 && !parent.contains(b))
      return unsupported("unix socket:[{}] is tied to socket:[{}], which no task of the container holds: not "
                         "supported yet", a, b.second);
    parent.emplace(b, b);
    Key ra = find(Key{0, a}), rb = find(b);
    if (ra != rb) parent[std::max(ra, rb)] = std::min(ra, rb);
    return {};
  };
  for (const auto& [ino, u] : by_inode) {
    if (u->peer() != 0) TRY(join(ino, Key{0, u->peer()}));
    for (uint64_t c : u->pending()) TRY(join(ino, Key{0, c}));
    if (u->accepted()) TRY(join(ino, Key{0, u->listener()}));
    for (const img::UnixMessage& m : u->queue()) {
      if (auto it = by_name.find(m.sender()); !m.sender().empty() && it != by_name.end())
        TRY(join(ino, Key{0, it->second}));
      for (const img::InFlightFd& e : m.fds()) {
        const img::Fd& f = e.file();
        if (f.kind() == img::FD_UNIX_SOCKET)
          TRY(join(ino, Key{0, f.unix_socket().inode()}));
        else if (f.kind() == img::FD_PIPE)
          TRY(join(ino, Key{1, f.pipe().pipe_id()}));
        else
          TRY(join(ino, Key{2, f.ofd_id()}));
      }
    }
  }
  // A unit is named by its lowest socket inode (a root may be a pipe or a description).
  std::map<Key, uint64_t> unit_of;
  for (const auto& [ino, u] : by_inode) {
    auto [it, fresh] = unit_of.emplace(find(Key{0, ino}), ino);
    if (!fresh) it->second = std::min(it->second, ino);
  }
  for (const auto& [ino, u] : by_inode) u->set_unit(unit_of.at(find(Key{0, ino})));
  // Every holder's entry of a socket, not only the first one met.
  for (TaskFds& t : tasks)
    for (img::Fd& f : *t.files.mutable_fds())
      if (f.kind() == img::FD_UNIX_SOCKET) f.mutable_unix_socket()->set_unit(by_inode.at(f.unix_socket().inode())->unit());
  return {};
}

Status verify_unix_socket(const FdProbe& now, const img::Fd& fd) {
  const img::UnixSocket& want = fd.unix_socket();
  UniqueFd pidfd = TRY(sys::pidfd_open(now.pid));
  UniqueFd copy = TRY(sys::pidfd_getfd(pidfd.get(), now.fd));
  const int type = TRY(int_opt(copy.get(), SO_TYPE, "SO_TYPE"));
  if (static_cast<uint32_t>(type) != want.type())
    return failf("unix socket type {}, the image has {}", type, want.type());
  const sys::UnixNetDiag net = TRY(sys::unix_sockets_of(copy.get()));
  const sys::UnixSockDiag* d = net.find(now.st.st_ino);
  if (!d) return failf("unix socket:[{}] not found by sock_diag", now.st.st_ino);
  const std::string what = unix_socket_text(want);
  if (static_cast<uint32_t>(d->state) != want.state())
    return failf("{}: state {}, the image has {}", what, d->state, want.state());
  if (d->name != diag_name(want.name()))
    return failf("{}: name \"{}\" after the restore", what, d->name);
  if (d->shutdown != want.shutdown())
    return failf("{}: shutdown {}, the image has {}", what, d->shutdown, want.shutdown());
  if (want.state() == kListen && d->icons.size() != static_cast<size_t>(want.pending_size()))
    return failf("{}: {} pending connections, the image has {}", what, d->icons.size(), want.pending_size());
  const bool has_peer = want.peer() != 0 || want.peer_gone();
  if (want.state() != kListen && d->has_peer != has_peer && !(want.peer() == 0 && !want.peer_gone()))
    return failf("{}: {} after the restore", what, d->has_peer ? "connected" : "not connected");
  if (want.peer_gone() && d->peer != 0) return failf("{}: its peer is alive after the restore", what);
  if (want.state() != kListen) {
    uint64_t total = 0;
    for (const img::UnixMessage& m : want.queue()) total += m.data().size();
    const uint64_t expect = want.type() == SOCK_DGRAM ? (want.queue().empty() ? 0 : want.queue(0).data().size()) : total;
    if (d->rqueue != expect) return failf("{}: {} bytes queued, the image has {}", what, d->rqueue, expect);
  }
  // The fds in flight: as many again (what they are was made from the image).
  int want_fds = 0;
  for (const img::UnixMessage& m : want.queue()) want_fds += m.fds_size();
  int scm_fds = 0;
  for (const auto& [key, value] : now.info.fields)
    if (key == "scm_fds") scm_fds = static_cast<int>(std::strtol(value.c_str(), nullptr, 10));
  if (scm_fds != want_fds) return failf("{}: {} fds in flight, the image has {}", what, scm_fds, want_fds);
  const int peek = TRY(int_opt(copy.get(), SO_PEEK_OFF, "SO_PEEK_OFF"));
  if (peek != want.peek_off()) return failf("{}: SO_PEEK_OFF {}, the image has {}", what, peek, want.peek_off());
  if ((TRY(int_opt(copy.get(), SO_PASSCRED, "SO_PASSCRED")) != 0) != want.passcred())
    return failf("{}: SO_PASSCRED differs from the image", what);
  if (TRY(int_opt(copy.get(), SO_SNDBUF, "SO_SNDBUF")) != want.sndbuf())
    return failf("{}: SO_SNDBUF differs from the image", what);
  if (TRY(int_opt(copy.get(), SO_RCVBUF, "SO_RCVBUF")) != want.rcvbuf())
    return failf("{}: SO_RCVBUF differs from the image", what);
  if (want.no_passrights() && TRY(int_opt(copy.get(), SO_PASSRIGHTS, "SO_PASSRIGHTS")) != 0)
    return failf("{}: SO_PASSRIGHTS is on, the image has it off", what);
  return {};
}

}  // namespace amber::kinds::files
