// Unix sockets, restore side: one unit (unix_socket.h) made again in the
// process that creates every holder, in the container's net namespace and
// root, in this order:
//   1. sockets: connected pairs by socketpair (a peer that has closed: a
//      partner closed at the end), the others by socket; names bound;
//   2. listeners: listen(), then their accepted connections (connect +
//      accept: the accepted end carries the listener's name, as it did),
//      then the pending ones in accept order (connect only);
//   3. datagram sockets connected one way to a named one: connect;
//   4. receive queues, written by the socket that sent them (message by
//      message for datagram and seqpacket), senders' SO_SNDBUF raised while
//      they write, each message with its files in flight (SCM_RIGHTS): the
//      unit's sockets, the descriptions tasks hold that the unit makes for
//      them, or files made for the queue alone and closed once sent;
//   5. shutdown, the partners of closed peers closed, then the options.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <set>

#include "kinds/files/fd_kinds.h"
#include "kinds/files/fdinfo_fields.h"
#include "kinds/files/unix_socket.h"
#include "sys/resolve.h"

namespace amber::kinds::files {

namespace {

constexpr int kListen = 10;

Result<std::pair<sockaddr_un, socklen_t>> address(const std::string& name) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (name.empty() || name.size() >= sizeof a.sun_path) return bad_input("unix socket name of {} bytes", name.size());
  std::memcpy(a.sun_path, name.data(), name.size());
  return std::pair{a, static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (name[0] ? 1 : 0))};
}

Status set_int(int fd, int opt, int v, const char* what) {
  if (::setsockopt(fd, SOL_SOCKET, opt, &v, sizeof v) != 0) return sys_fail("setsockopt {} {}", what, v);
  return {};
}

// Buffer sizes as getsockopt reported them (the kernel doubles what is
// set): SO_*BUFFORCE (CAP_NET_ADMIN) past the sysctl maximum, else plain.
Status set_buf(int fd, int force, int plain, int reported, const char* what) {
  int cur = 0;
  socklen_t len = sizeof cur;
  if (::getsockopt(fd, SOL_SOCKET, plain, &cur, &len) == 0 && cur == reported) return {};
  const int half = reported / 2;
  if (::setsockopt(fd, SOL_SOCKET, force, &half, sizeof half) == 0) return {};
  return set_int(fd, plain, half, what);
}

Status set_timeo(int fd, int opt, int64_t us, const char* what) {
  if (us == 0) return {};
  timeval tv{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
  if (::setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv) != 0) return sys_fail("setsockopt {}", what);
  return {};
}

// One message: `data` with `fds` in flight (SCM_RIGHTS, on the first skb),
// to the name `to` or (empty) the peer. `whole`: datagram and seqpacket
// messages go in one piece.
Status send_message(int fd, const std::string& data, const std::vector<int>& fds, const std::string& to,
                    bool whole) {
  std::pair<sockaddr_un, socklen_t> name{};
  if (!to.empty()) name = TRY(address(to));
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  size_t done = 0;
  do {
    iovec iov{const_cast<char*>(data.data()) + done, data.size() - done};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (!to.empty()) {
      m.msg_name = &name.first;
      m.msg_namelen = name.second;
    }
    if (done == 0 && !fds.empty()) {
      m.msg_control = control.data();
      m.msg_controllen = control.size();
      cmsghdr* c = CMSG_FIRSTHDR(&m);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    ssize_t n = ::sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return sys_fail("send {} bytes{}{}", data.size() - done, fds.empty() ? "" : fmt::format(" and {} fds", fds.size()),
                      to.empty() ? "" : fmt::format(" to \"{}\"", to[0] ? to : "@" + to.substr(1)));
    done += static_cast<size_t>(n);
    if (whole && done != data.size()) return failf("a message of {} bytes sent in part", data.size());
  } while (done < data.size());
  return {};
}

class Unit {
 public:
  Unit(const std::vector<img::Fd>& fds, const OpenContext& oc, pid_t creator) : oc_(oc), creator_(creator) {
    for (const img::Fd& f : fds) {
      if (f.kind() != img::FD_UNIX_SOCKET) {
        others_.push_back(&f);
        continue;
      }
      add(f);
    }
    // Sockets in flight that no task holds, described in the queues.
    for (const img::Fd& f : fds)
      if (f.kind() == img::FD_UNIX_SOCKET)
        for_each_in_flight(f.unix_socket(), [&](const img::InFlightFd& e) {
          if (e.file().kind() == img::FD_UNIX_SOCKET && described(e.file().unix_socket()) &&
              !by_inode_.contains(e.file().unix_socket().inode())) {
            add(e.file());
            in_flight_only_.insert(e.file().unix_socket().inode());
          }
          if (e.has_pipe()) lone_pipes_.emplace(e.pipe().id(), &e.pipe());
        });
  }

  Result<std::vector<std::pair<uint64_t, UniqueFd>>> make(const std::vector<const img::Pipe*>& pipes, int floor) {
    std::vector<const img::Pipe*> all = pipes;
    for (const auto& [id, p] : lone_pipes_) all.push_back(p);
    pipes_ = TRY(PipeSet::create(all, creator_, floor));
    oc_.pipes = &pipes_;
    for (const img::Fd* f : others_)
      held_[f->ofd_id()] = TRY_CTX(open_description(*f, oc_), "{} in flight", f->path().empty() ? img::FdKind_Name(f->kind()) : f->path());
    TRY(create_sockets());
    TRY(listeners());
    TRY(connect_one_way());
    for (const auto& [ino, f] : by_inode_) TRY_CTX(fill_queue(f->unix_socket()), "{}", text(ino));
    TRY(finish());
    lone_.clear();  // in the queues now
    std::vector<std::pair<uint64_t, UniqueFd>> out;
    for (const auto& [ino, f] : by_inode_) {
      auto it = fd_.find(ino);
      if (it == fd_.end()) return failf("{}: not made", text(ino));
      if (in_flight_only_.contains(ino)) continue;  // in a queue now, closed here
      out.emplace_back(f->ofd_id(), TRY(lift_fd(std::move(it->second), floor)));
    }
    for (auto& [ofd, fd] : held_) out.emplace_back(ofd, TRY(lift_fd(std::move(fd), floor)));
    return out;
  }

 private:
  void add(const img::Fd& f) {
    by_inode_[f.unix_socket().inode()] = &f;
    if (!f.unix_socket().name().empty() && !f.unix_socket().accepted())
      by_name_[f.unix_socket().name()] = f.unix_socket().inode();
    for (uint64_t c : f.unix_socket().pending()) pending_client_[c] = true;
  }

  // The fds a message sends again, in its order.
  Result<std::vector<int>> files_of(const img::UnixMessage& m) {
    std::vector<int> out;
    for (const img::InFlightFd& e : m.fds()) {
      const img::Fd& f = e.file();
      if (f.kind() == img::FD_UNIX_SOCKET) {
        auto it = fd_.find(f.unix_socket().inode());
        if (it == fd_.end()) return failf("socket:[{}] in flight is not in its unit", f.unix_socket().inode());
        out.push_back(it->second.get());
      } else if (auto it = held_.find(f.ofd_id()); it != held_.end()) {
        out.push_back(it->second.get());
      } else {
        auto [at, fresh] = lone_.try_emplace(f.ofd_id());
        if (fresh)
          at->second = TRY_CTX(open_description(f, oc_), "{} in flight",
                               f.path().empty() ? img::FdKind_Name(f.kind()) : f.path());
        out.push_back(at->second.get());
      }
    }
    return out;
  }

  std::string text(uint64_t ino) const {
    return fmt::format("socket:[{}] ({})", ino, unix_socket_text(by_inode_.at(ino)->unix_socket()));
  }
  const img::UnixSocket& sock(uint64_t ino) const { return by_inode_.at(ino)->unix_socket(); }
  bool has(uint64_t ino) const { return by_inode_.contains(ino); }

  Result<UniqueFd> new_socket(uint32_t type) {
    int fd = ::socket(AF_UNIX, static_cast<int>(type) | SOCK_CLOEXEC, 0);
    if (fd < 0) return sys_fail("socket(AF_UNIX, {})", type);
    return UniqueFd(fd);
  }

  Status bind_name(int fd, const img::UnixSocket& u) {
    const std::string& name = u.name();
    if (name[0] != '\0' && !unix_path_on_own_tmpfs(name))
      return bad_input("socket path \"{}\" is not below the container's own tmpfs", name);
    auto [a, len] = TRY(address(name));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0) return sys_fail("bind");
    if (name[0] == '\0') return {};
    if (u.file_unlinked()) {
      if (::unlink(name.c_str()) != 0) return sys_fail("unlink {}", name);
      return {};
    }
    sys::PathEntry e = TRY(sys::open_parent(AT_FDCWD, name, sys::kTaskPath));
    UniqueFd file = TRY(sys::open_entry(e));
    TRY(sys::chown_fd(file.get(), u.file_uid(), u.file_gid()));
    TRY(sys::chmod_fd(file.get(), u.file_mode()));
    return {};
  }

  Status connect_to(int fd, const std::string& name) {
    auto [a, len] = TRY(address(name));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), len) != 0) return sys_fail("connect");
    return {};
  }

  // Step 1.
  Status create_sockets() {
    for (const auto& [ino, f] : by_inode_) {
      const img::UnixSocket& u = f->unix_socket();
      if (fd_.contains(ino) || u.accepted() || pending_client_.contains(ino)) continue;
      // The client end of an accepted connection is made by the accept.
      if (u.peer() != 0 && has(u.peer()) && sock(u.peer()).accepted()) continue;
      const bool mutual = u.peer() != 0 && has(u.peer()) && sock(u.peer()).peer() == ino;
      if (mutual || u.peer_gone()) {
        int sv[2];
        if (::socketpair(AF_UNIX, static_cast<int>(u.type()) | SOCK_CLOEXEC, 0, sv) != 0)
          return sys_fail("{}: socketpair", text(ino));
        fd_[ino] = UniqueFd(sv[0]);
        if (mutual) {
          fd_[u.peer()] = UniqueFd(sv[1]);
          if (!sock(u.peer()).name().empty()) TRY_CTX(bind_name(sv[1], sock(u.peer())), "{}", text(u.peer()));
        } else {
          doomed_[ino] = UniqueFd(sv[1]);
        }
      } else {
        fd_[ino] = TRY_CTX(new_socket(u.type()), "{}", text(ino));
      }
      if (!u.name().empty()) TRY_CTX(bind_name(fd_[ino].get(), u), "{}", text(ino));
    }
    return {};
  }

  // Step 2.
  Status listeners() {
    for (const auto& [ino, f] : by_inode_) {
      const img::UnixSocket& l = f->unix_socket();
      if (l.state() != kListen) continue;
      const int lfd = fd_.at(ino).get();
      int accepted = 0;
      for (const auto& [a, af] : by_inode_) accepted += af->unix_socket().accepted() && af->unix_socket().listener() == ino;
      const int room = std::max<int>(static_cast<int>(l.backlog()), accepted + l.pending_size() + 1);
      if (::listen(lfd, room) != 0) return sys_fail("{}: listen", text(ino));
      for (const auto& [a, af] : by_inode_) {
        const img::UnixSocket& s = af->unix_socket();
        if (!s.accepted() || s.listener() != ino) continue;
        UniqueFd client = TRY_CTX(new_socket(l.type()), "{}", text(a));
        TRY_CTX(connect_to(client.get(), l.name()), "client of {}", text(a));
        int got = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
        if (got < 0) return sys_fail("{}: accept", text(a));
        fd_[a] = UniqueFd(got);
        if (s.peer_gone())
          doomed_[a] = std::move(client);
        else if (has(s.peer()))
          fd_[s.peer()] = std::move(client);
        else
          return failf("{}: its client socket:[{}] is not in the image", text(a), s.peer());
      }
      for (uint64_t c : l.pending()) {
        if (!has(c)) return failf("{}: pending client socket:[{}] is not in the image", text(ino), c);
        fd_[c] = TRY_CTX(new_socket(l.type()), "{}", text(c));
        TRY_CTX(connect_to(fd_[c].get(), l.name()), "{}", text(c));
      }
      if (::listen(lfd, static_cast<int>(l.backlog())) != 0) return sys_fail("{}: listen {}", text(ino), l.backlog());
    }
    return {};
  }

  // Step 3.
  Status connect_one_way() {
    for (const auto& [ino, f] : by_inode_) {
      const img::UnixSocket& u = f->unix_socket();
      if (u.type() != SOCK_DGRAM || u.peer() == 0 || !has(u.peer()) || sock(u.peer()).peer() == ino) continue;
      if (sock(u.peer()).name().empty()) return failf("{}: connected to an unbound socket", text(ino));
      TRY_CTX(connect_to(fd_.at(ino).get(), sock(u.peer()).name()), "{}", text(ino));
    }
    return {};
  }

  Status raise_sndbuf(int fd) {
    if (raised_.contains(fd)) return {};
    raised_[fd] = true;
    const int big = 1 << 30;
    if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) == 0) return {};
    return set_int(fd, SO_SNDBUF, big, "SO_SNDBUF");
  }

  // The fd its peer writes from: the live peer or the partner of a closed one.
  int peer_fd(uint64_t ino) {
    if (auto it = doomed_.find(ino); it != doomed_.end()) return it->second.get();
    const img::UnixSocket& u = sock(ino);
    if (u.peer() != 0 && fd_.contains(u.peer())) return fd_.at(u.peer()).get();
    return -1;
  }

  // Step 4.
  Status fill_queue(const img::UnixSocket& u) {
    if (u.queue().empty()) return {};
    const uint64_t ino = u.inode();
    if (u.type() != SOCK_DGRAM) {
      const int from = peer_fd(ino);
      if (from < 0) return failf("queued data but no peer to send it");
      TRY(raise_sndbuf(from));
      for (const img::UnixMessage& m : u.queue())
        TRY(send_message(from, m.data(), TRY(files_of(m)), "", u.type() == SOCK_SEQPACKET));
      return {};
    }
    for (const img::UnixMessage& m : u.queue()) {
      const std::vector<int> fds = TRY(files_of(m));
      if (m.sender().empty()) {
        if (int from = peer_fd(ino); from >= 0 && (doomed_.contains(ino) || sock(u.peer()).peer() == ino)) {
          TRY(raise_sndbuf(from));
          TRY(send_message(from, m.data(), fds, "", true));
          continue;
        }
        if (u.name().empty()) return failf("a datagram from an unbound socket to an unbound one");
        UniqueFd tmp = TRY(new_socket(SOCK_DGRAM));
        TRY(raise_sndbuf(tmp.get()));
        TRY(send_message(tmp.get(), m.data(), fds, u.name(), true));
        continue;
      }
      UniqueFd tmp;
      int from = -1;
      bool connected = false;
      if (auto it = by_name_.find(m.sender()); it != by_name_.end()) {
        from = fd_.at(it->second).get();
        connected = sock(it->second).peer() == ino;
      } else if (m.sender()[0] == '\0') {
        // A sender that has closed since: a stand-in with its abstract name.
        tmp = TRY(new_socket(SOCK_DGRAM));
        auto [a, len] = TRY(address(m.sender()));
        if (::bind(tmp.get(), reinterpret_cast<sockaddr*>(&a), len) != 0)
          return sys_fail("bind a stand-in for the closed sender \"@{}\"", m.sender().substr(1));
        from = tmp.get();
      } else {
        return unsupported("a datagram from \"{}\", a socket that has closed: not supported yet", m.sender());
      }
      TRY(raise_sndbuf(from));
      TRY(send_message(from, m.data(), fds, connected ? std::string() : u.name(), true));
    }
    return {};
  }

  // Step 5.
  Status finish() {
    for (const auto& [ino, f] : by_inode_) {
      const img::UnixSocket& u = f->unix_socket();
      if (!u.reset()) continue;
      // Data left unread in the closing partner makes its close reset us.
      auto it = doomed_.find(ino);
      if (it == doomed_.end()) return failf("{}: a reset without a closed peer", text(ino));
      const char c = 0;
      if (::send(fd_.at(ino).get(), &c, 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1) return sys_fail("{}: reset", text(ino));
    }
    for (const auto& [ino, f] : by_inode_) {
      const img::UnixSocket& u = f->unix_socket();
      const int how = u.shutdown() == 3 ? SHUT_RDWR : u.shutdown() == 2 ? SHUT_WR : u.shutdown() == 1 ? SHUT_RD : -1;
      // A closed peer shuts a connection down whole by itself.
      if (how < 0 || (u.peer_gone() && u.type() != SOCK_DGRAM)) continue;
      if (::shutdown(fd_.at(ino).get(), how) != 0) return sys_fail("{}: shutdown {}", text(ino), how);
    }
    doomed_.clear();
    for (const auto& [ino, f] : by_inode_) {
      const img::UnixSocket& u = f->unix_socket();
      const int fd = fd_.at(ino).get();
      auto one = [&]() -> Status {
        TRY(set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, u.sndbuf(), "SO_SNDBUF"));
        TRY(set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, u.rcvbuf(), "SO_RCVBUF"));
        TRY(set_timeo(fd, SO_RCVTIMEO_OLD, u.rcvtimeo_us(), "SO_RCVTIMEO"));
        TRY(set_timeo(fd, SO_SNDTIMEO_OLD, u.sndtimeo_us(), "SO_SNDTIMEO"));
        if (u.passcred()) TRY(set_int(fd, SO_PASSCRED, 1, "SO_PASSCRED"));
        if (u.passsec()) TRY(set_int(fd, SO_PASSSEC, 1, "SO_PASSSEC"));
        if (u.passpidfd()) TRY(set_int(fd, 76 /* SO_PASSPIDFD */, 1, "SO_PASSPIDFD"));
        if (u.no_passrights()) TRY(set_int(fd, 83 /* SO_PASSRIGHTS */, 0, "SO_PASSRIGHTS"));
        if (u.peek_off() != -1) TRY(set_int(fd, SO_PEEK_OFF, u.peek_off(), "SO_PEEK_OFF"));
        // The description's flags (O_NONBLOCK: nginx's channel between
        // master and worker) once the unit is made.
        return set_status_flags(fd, f->flags());
      };
      TRY_CTX(one(), "{}", text(ino));
    }
    return {};
  }

  OpenContext oc_;
  pid_t creator_;
  std::vector<const img::Fd*> others_;          // descriptions tasks hold that are in flight
  std::map<uint64_t, const img::Pipe*> lone_pipes_;  // pipes with no end in a task, by id
  std::set<uint64_t> in_flight_only_;            // sockets no task holds
  PipeSet pipes_;
  std::map<uint64_t, UniqueFd> held_;  // others_ made: ofd_id -> fd
  std::map<uint64_t, UniqueFd> lone_;  // files in flight no task holds, until sent
  std::map<uint64_t, const img::Fd*> by_inode_;
  std::map<std::string, uint64_t> by_name_;
  std::map<uint64_t, bool> pending_client_;
  std::map<uint64_t, UniqueFd> fd_;
  std::map<uint64_t, UniqueFd> doomed_;  // partners standing in for peers that have closed
  std::map<int, bool> raised_;
};

}  // namespace

Result<std::vector<std::pair<uint64_t, UniqueFd>>> create_unix_unit(const std::vector<img::Fd>& fds,
                                                                    const std::vector<const img::Pipe*>& pipes,
                                                                    const OpenContext& oc, pid_t creator, int floor) {
  Unit u(fds, oc, creator);
  auto made = u.make(pipes, floor);
  if (!made) return std::unexpected(std::move(made.error()).wrap(fmt::format("task {}: unix sockets", creator)));
  return made;
}

}  // namespace amber::kinds::files
