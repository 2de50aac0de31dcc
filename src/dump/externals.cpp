#include "dump/externals.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/statfs.h>

#include <algorithm>
#include <array>
#include <set>

#include "base/files.h"
#include "kinds/ns/ipc_semundo.h"
#include "sys/pidfd.h"
#include "sys/procfs.h"

namespace amber::dump {
namespace {

// The namespaces a restore can join instead of making its own.
constexpr std::array<std::string_view, 4> kJoinable = {"net", "uts", "ipc", "cgroup"};
// The descriptions a restore can take from an fd handed to it.
constexpr std::array<std::string_view, 3> kHandedIn = {"pipe", "fifo", "file"};

bool one_of(std::string_view kind, std::span<const std::string_view> list) {
  return std::find(list.begin(), list.end(), kind) != list.end();
}

void add_once(std::vector<seal::External>& list, const seal::External& e) {
  for (const seal::External& have : list)
    if (have.kind == e.kind && have.value == e.value) return;
  list.push_back(e);
}

// "127.0.0.1:80", "[::1]:80".
std::string sockaddr_text(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    return fmt::format("{}:{}", buf, ntohs(a->sin_port));
  }
  const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
  ::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
  return fmt::format("[{}]:{}", buf, ntohs(a->sin6_port));
}

// A TCP socket of `copy` that is connected (any state but LISTEN and
// CLOSE): "TCP 127.0.0.1:5000 -> 127.0.0.1:41000 (ESTABLISHED)"; "" for
// anything else.
std::string connected_tcp(int copy) {
  int domain = 0, protocol = 0;
  socklen_t len = sizeof domain;
  if (::getsockopt(copy, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || (domain != AF_INET && domain != AF_INET6))
    return "";
  len = sizeof protocol;
  if (::getsockopt(copy, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) != 0 || protocol != IPPROTO_TCP) return "";
  tcp_info ti{};
  len = sizeof ti;
  if (::getsockopt(copy, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return "";
  constexpr uint8_t kListen = 10, kClose = 7, kEstablished = 1;
  if (ti.tcpi_state == kListen || ti.tcpi_state == kClose) return "";
  sockaddr_storage local{}, peer{};
  socklen_t ll = sizeof local, pl = sizeof peer;
  if (::getsockname(copy, reinterpret_cast<sockaddr*>(&local), &ll) != 0 ||
      ::getpeername(copy, reinterpret_cast<sockaddr*>(&peer), &pl) != 0)
    return "";
  return fmt::format("TCP{} {} -> {}{}", domain == AF_INET6 ? "v6" : "", sockaddr_text(local), sockaddr_text(peer),
                     ti.tcpi_state == kEstablished ? "" : fmt::format(" (state {})", ti.tcpi_state));
}

}  // namespace

Status refuse_connected_tcp(const std::vector<kinds::TreeTask>& tree, std::string_view why, kinds::Blockers& out) {
  std::set<std::string> seen;
  for (const kinds::TreeTask& t : tree) {
    if (t.zombie) continue;
    auto pidfd = sys::pidfd_open(t.pid);
    if (!pidfd) continue;  // gone: nothing of it is dumped
    for (int fd : TRY_CTX(sys::list_fds(t.pid), "task {}", t.vpid)) {
      auto link = read_link(fmt::format("/proc/{}/fd/{}", t.pid, fd));
      if (!link || !link->starts_with("socket:[") || seen.contains(*link)) continue;
      auto copy = sys::pidfd_getfd(pidfd->get(), fd);
      if (!copy) continue;
      std::string what = connected_tcp(copy->get());
      if (what.empty()) continue;
      seen.insert(*link);
      out.add(fmt::format("task {}: fd {}: {}{}", t.vpid, fd, what, why));
    }
  }
  return {};
}

namespace {

constexpr long kMqueueMagic = 0x19800202;  // MQUEUE_MAGIC

// What of an external ipc namespace the tasks use: its state would be
// the namespace's, not the image's.
Status refuse_ipc_use(const std::vector<kinds::TreeTask>& tree, kinds::Blockers& out) {
  for (const kinds::TreeTask& t : tree) {
    if (t.zombie) continue;
    for (const sys::VmArea& a : TRY_CTX(sys::read_maps(t.pid), "task {}", t.vpid))
      if (a.path.starts_with("/SYSV"))
        out.add(fmt::format("task {}: SysV shm segment (key 0x{}) attached at {:#x} in the container's external ipc "
                            "namespace: not supported",
                            t.vpid, a.path.substr(5), a.start));
    for (int fd : TRY_CTX(sys::list_fds(t.pid), "task {}", t.vpid)) {
      struct statfs fs {};
      if (::statfs(fmt::format("/proc/{}/fd/{}", t.pid, fd).c_str(), &fs) == 0 && fs.f_type == kMqueueMagic)
        out.add(fmt::format("task {}: fd {}: POSIX message queue of the container's external ipc namespace: not "
                            "supported",
                            t.vpid, fd));
    }
  }
  auto holders = kinds::find_sem_undo_holders(tree);
  if (!holders) {
    if (!out.keep(std::unexpected(std::move(holders.error())))) return std::unexpected(std::move(holders.error()));
    return {};
  }
  for (const kinds::SemUndoHolder& h : *holders)
    out.add(fmt::format("task {}: SEM_UNDO adjustments in the container's external ipc namespace: not supported",
                        h.vpid));
  return {};
}

}  // namespace

bool Declared::has_ns(std::string_view type) const {
  return std::any_of(image.begin(), image.end(),
                     [&](const seal::External& e) { return e.kind == type && e.value.empty(); });
}

std::map<int, std::string> Declared::fds_of(pid_t pid) const {
  std::map<int, std::string> out;
  for (const auto& [key, spec] : fds)
    if (key.first == pid) out[key.second] = spec;
  return out;
}

Declared declared_externals(const std::vector<seal::Leak>& leaks, kinds::Blockers& out) {
  Declared d;
  std::set<std::string> refused;
  std::map<std::string, std::string> description_of;  // SPEC -> the leak id of its description
  for (const seal::Leak& l : leaks) {
    if (!l.accepted) continue;
    auto ext = seal::parse_external(l.external);
    if (!ext) continue;  // the check only accepts what parses
    const bool ns = ext->value.empty();
    // A host path bound into the container: its mount's recipe records it
    // (Mount.external, MOUNT_HOST) and the restore binds it again.
    if (!ns && ext->kind == "mount") continue;
    if (ns ? one_of(ext->kind, kJoinable) : one_of(ext->kind, kHandedIn)) {
      if (!ns) {
        // One description per external: the restore hands in one fd.
        auto [it, fresh] = description_of.try_emplace(l.external, l.id);
        if (!fresh && l.cls == seal::LeakClass::SharedFile) {
          if (refused.insert(l.external).second)
            out.add(fmt::format("--external {}: the container shares more than one open file description of it "
                                "with outside tasks; amber restore gives back one: not supported",
                                l.external));
          continue;
        }
        for (const seal::Holder& h : l.inside)
          if (h.fd >= 0) d.fds[{h.task.pid, h.fd}] = l.external;
      }
      add_once(d.image, *ext);
      continue;
    }
    if (!refused.insert(l.external).second) continue;
    if (ns)
      out.add(fmt::format("--external {}: the container's {} namespace {} is declared external, but amber restore can "
                          "only join a net, uts, ipc or cgroup namespace: not supported",
                          l.external, ext->kind, l.id));
    else
      out.add(fmt::format("--external {}: {} {} is declared external, but amber restore cannot give it back: not "
                          "supported",
                          l.external, l.kind, l.id));
  }
  return d;
}

Status find_external_blockers(const std::vector<kinds::TreeTask>& tree, const Declared& d, bool tcp_established,
                              kinds::Blockers& out) {
  // The restore would make them in a namespace amber does not own.
  if (d.has_ns("net") && !tcp_established)
    TRY(refuse_connected_tcp(tree, " in the container's external net namespace: kept only with --tcp-established",
                             out));
  if (d.has_ns("ipc")) TRY(refuse_ipc_use(tree, out));
  return {};
}

void record_externals(const Declared& d, img::Container& c) {
  for (const seal::External& e : d.image) {
    img::External* x = c.add_externals();
    x->set_kind(e.kind);
    x->set_value(e.value);
  }
  img::Namespaces& ns = *c.mutable_namespaces();
  if (d.has_ns("net")) ns.mutable_net()->set_external(true);
  if (d.has_ns("uts")) ns.mutable_uts_ref()->set_external(true);
  if (d.has_ns("ipc")) ns.mutable_ipc()->set_external(true);
}

}  // namespace amber::dump
