// Class 5: a unix socket of the container whose peer is held by an outside
// task, or a listening socket with connections from outside still waiting
// in accept(). Peers and pending clients come from sock_diag (UDIAG_SHOW_PEER,
// UDIAG_SHOW_ICONS) run in each of the container's net namespaces; who holds
// a socket comes from the outside fd scan ("socket:[INODE]").
#include <fcntl.h>

#include <map>

#include "base/files.h"
#include "seal/detectors.h"
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
      for (auto& s : TRY_CTX(sys::unix_sockets(ns.get()), "unix sockets of net:[{}]", ino))
        diag_.emplace(s.inode, std::move(s));
    }
    for (const auto& t : view.tasks)
      for (const auto& f : t.fds) {
        auto d = socket_of(f.link);
        if (!d) continue;
        if (d->peer) wants.fd_links.insert(sock_link(d->peer));
        for (uint64_t c : d->icons) wants.fd_links.insert(sock_link(c));
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
        if (leaked) found.at(d->inode).inside.push_back(fd_holder(t.ref, f.fd));
      }
    }
    for (auto& [ino, l] : found) leaks.push_back(std::move(l));
    return {};
  }

 private:
  const sys::UnixSockDiag* socket_of(const std::string& link) const {
    if (link.rfind("socket:[", 0) != 0) return nullptr;
    auto ino = parse_uint(std::string_view(link).substr(8, link.size() - 9));
    if (!ino) return nullptr;
    auto it = diag_.find(*ino);
    return it == diag_.end() ? nullptr : &it->second;
  }

  std::map<uint64_t, sys::UnixSockDiag> diag_;
};

}  // namespace

std::unique_ptr<Detector> unix_socket_detector() { return std::make_unique<UnixSocketDetector>(); }

}  // namespace amber::seal
