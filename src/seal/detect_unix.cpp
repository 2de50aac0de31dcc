// Class 5: a unix socket of the container whose peer is held by an outside
// task, or a listening socket with connections from outside still waiting
// in accept(). Peers and pending clients come from sock_diag (UDIAG_SHOW_PEER,
// UDIAG_SHOW_ICONS) run in each of the container's net namespaces; who holds
// a socket comes from the outside fd scan ("socket:[INODE]").
//
// A socket belongs to the net namespace it was created in, not to its
// holder's: a connection the container accepted from a client in another
// net namespace (the host's, through a socket path on a shared directory)
// was created in the client's; a socket passed in with SCM_RIGHTS in its
// creator's. A container socket no dump of its tasks' namespaces lists is
// looked up in its own (a pidfd_getfd copy, SIOCGSKNS).
//
// A datagram socket connected to a container socket names it as its peer,
// but not the other way round: an outside client connected to a bound
// container socket is found among the sockets of amber's own net namespace
// (where a host client's socket lives) and the container's ones. A client
// in a third net namespace (another container's) is not looked for.
#include <fcntl.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <map>
#include <optional>
#include <set>

#include "base/files.h"
#include "seal/detectors.h"
#include "sys/pidfd.h"
#include "sys/sock_diag.h"

namespace amber::seal {
namespace {

std::string sock_link(uint64_t ino) { return fmt::format("socket:[{}]", ino); }

class UnixSocketDetector : public Detector {
 public:
  Status prepare(const ContainerView& view, ScanWants& wants) override {
    std::map<uint64_t, const ContainerTask*> in_net;
    bool any_socket = false;
    for (const auto& t : view.tasks) {
      if (t.ns.count("net")) in_net.emplace(t.ns.at("net"), &t);
      for (const auto& f : t.fds) any_socket |= f.link.rfind("socket:[", 0) == 0;
    }
    if (!any_socket) return {};
    for (const auto& [ino, t] : in_net) {
      UniqueFd ns = TRY_CTX(open_fd(fmt::format("/proc/{}/ns/net", t->ref.pid), O_RDONLY),
                            "net namespace of container task {}", t->ref.vpid);
      TRY(dump_netns(ns.get(), ino));
    }
    for (const auto& t : view.tasks)
      for (const auto& f : t.fds) {
        auto ino = socket_inode(f.link);
        if (!ino || diag_.count(*ino)) continue;
        TRY_CTX(dump_netns_of(t, f.fd), "fd {} ({}) of container task {}", f.fd, f.link, t.ref.vpid);
      }
    {
      UniqueFd own = TRY(open_fd("/proc/self/ns/net", O_RDONLY));
      struct stat st {};
      if (::fstat(own.get(), &st) < 0) return sys_fail("fstat of amber's net namespace");
      TRY(dump_netns(own.get(), st.st_ino));
    }
    // Sockets connected to a container socket that is not connected back.
    std::set<uint64_t> held;
    for (const auto& t : view.tasks)
      for (const auto& f : t.fds)
        if (auto ino = socket_inode(f.link)) held.insert(*ino);
    for (const auto& [ino, s] : diag_) {
      if (!s.peer || held.count(ino) || !held.count(s.peer)) continue;
      if (auto p = diag_.find(s.peer); p != diag_.end() && p->second.peer == ino) continue;  // mutual: the peer check
      clients_[s.peer].push_back(ino);
    }
    for (const auto& t : view.tasks)
      for (const auto& f : t.fds) {
        auto d = socket_of(f.link);
        if (!d) continue;
        if (d->peer) wants.fd_links.insert(sock_link(d->peer));
        for (uint64_t c : d->icons) wants.fd_links.insert(sock_link(c));
        if (auto it = clients_.find(d->inode); it != clients_.end())
          for (uint64_t c : it->second) wants.fd_links.insert(sock_link(c));
      }
    return {};
  }

  Status detect(const ContainerView& view, HostIndex& host, std::vector<Leak>& leaks,
                std::vector<std::string>&) override {
    std::map<uint64_t, Leak> found;
    for (const auto& t : view.tasks) {
      for (const auto& f : t.fds) {
        const sys::UnixSockDiag* d = socket_of(f.link);
        if (!d) continue;
        auto leak_for = [&]() -> Leak& {
          auto [pos, fresh] = found.try_emplace(d->inode);
          Leak& l = pos->second;
          if (fresh) {
            l.cls = LeakClass::UnixSocket;
            l.kind = d->state == 10 ? "listening unix socket" : "unix socket";
            l.id = f.link;
            l.name = d->name;
            if (l.name.empty() && d->peer)
              if (auto p = diag_.find(d->peer); p != diag_.end()) l.name = p->second.name;
            l.external = fmt::format("unix:{}", d->inode);
            l.remedy = "disconnect the outside peer, or declare it with --external " + l.external;
          }
          return l;
        };
        bool leaked = false;
        if (d->peer)
          if (auto it = host.fds.find(sock_link(d->peer)); it != host.fds.end()) {
            Leak& l = leak_for();
            for (const FdHolder& h : it->second)
              add_outside(l, Holder{host.ref(h.pid), fmt::format("fd {} (peer socket:[{}])", h.fd, d->peer)});
            leaked = true;
          }
        for (uint64_t c : d->icons)
          if (auto it = host.fds.find(sock_link(c)); it != host.fds.end()) {
            Leak& l = leak_for();
            for (const FdHolder& h : it->second)
              add_outside(l, Holder{host.ref(h.pid),
                                    fmt::format("fd {} (socket:[{}], connected, waiting in accept())", h.fd, c)});
            leaked = true;
          }
        if (auto cl = clients_.find(d->inode); cl != clients_.end())
          for (uint64_t c : cl->second)
            if (auto it = host.fds.find(sock_link(c)); it != host.fds.end()) {
              Leak& l = leak_for();
              for (const FdHolder& h : it->second)
                add_outside(l, Holder{host.ref(h.pid), fmt::format("fd {} (socket:[{}], connected to it)", h.fd, c)});
              leaked = true;
            }
        if (leaked) found.at(d->inode).inside.push_back(fd_holder(t.ref, f.fd));
      }
    }
    for (auto& [ino, l] : found) leaks.push_back(std::move(l));
    return {};
  }

 private:
  static std::optional<uint64_t> socket_inode(const std::string& link) {
    if (link.rfind("socket:[", 0) != 0 || link.back() != ']') return std::nullopt;
    return parse_uint(std::string_view(link).substr(8, link.size() - 9));
  }

  const sys::UnixSockDiag* socket_of(const std::string& link) const {
    auto ino = socket_inode(link);
    if (!ino) return nullptr;
    auto it = diag_.find(*ino);
    return it == diag_.end() ? nullptr : &it->second;
  }

  // Every unix socket of one net namespace (once per namespace).
  Status dump_netns(int nsfd, uint64_t ino) {
    if (!dumped_.insert(ino).second) return {};
    for (auto& s : TRY_CTX(sys::unix_sockets(nsfd), "unix sockets of net:[{}]", ino))
      diag_.emplace(s.inode, std::move(s));
    return {};
  }

  // The net namespace of the socket at `fd` of a held container task, if it
  // is a unix socket: a copy of it (amber's own copies never count as
  // outside holders), SIOCGSKNS, and a dump of that namespace.
  Status dump_netns_of(const ContainerTask& t, int fd) {
    UniqueFd pidfd = TRY(sys::pidfd_open(t.ref.pid));
    UniqueFd sock = TRY(sys::pidfd_getfd(pidfd.get(), fd));
    int domain = 0;
    socklen_t len = sizeof domain;
    if (::getsockopt(sock.get(), SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0) return sys_fail("SO_DOMAIN");
    if (domain != AF_UNIX) return {};
    int raw = ::ioctl(sock.get(), SIOCGSKNS);
    if (raw < 0) return sys_fail("SIOCGSKNS");
    UniqueFd ns(raw);
    struct stat st {};
    if (::fstat(ns.get(), &st) < 0) return sys_fail("fstat of its net namespace");
    return dump_netns(ns.get(), st.st_ino);
  }

  std::map<uint64_t, sys::UnixSockDiag> diag_;
  std::set<uint64_t> dumped_;  // net namespace inodes already dumped
  // Container socket -> sockets connected to it that it is not connected to.
  std::map<uint64_t, std::vector<uint64_t>> clients_;
};

}  // namespace

std::unique_ptr<Detector> unix_socket_detector() { return std::make_unique<UnixSocketDetector>(); }

}  // namespace amber::seal
