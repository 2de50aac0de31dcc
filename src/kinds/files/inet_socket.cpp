// TCP and UDP sockets of IPv4 and IPv6 (FD_INET_SOCKET): bound, connected
// and listening sockets with their options; UDP datagrams waiting unread;
// established and half-closed TCP connections through tcp_repair.cpp and
// tcp_fin.cpp. Read from outside through a pidfd_getfd copy; made again by
// the restoring task itself, in the container's net namespace.
//
// Refused by name: TCP in any other state (SYN_SENT, SYN_RECV), a closed
// socket whose connection ended (end of file or an error pending), a
// half-closed connection whose peer no task holds, a listening socket with
// connections not accepted yet from outside or with data sent, and
// datagrams cut short.
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>

#include "kinds/files/fd_kinds.h"
#include "kinds/files/fdinfo_fields.h"
#include "kinds/files/inet_socket_impl.h"
#include "sys/pidfd.h"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

namespace amber::kinds::files {

const char* tcp_state_name(uint32_t state) {
  static constexpr const char* kNames[] = {"?",         "ESTABLISHED", "SYN_SENT",   "SYN_RECV",
                                           "FIN_WAIT1", "FIN_WAIT2",   "TIME_WAIT",  "CLOSE",
                                           "CLOSE_WAIT", "LAST_ACK",   "LISTEN",     "CLOSING",
                                           "NEW_SYN_RECV", "BOUND_INACTIVE"};
  return state < std::size(kNames) ? kNames[state] : "?";
}

std::string addr_text(int family, const std::string& addr, uint32_t port) {
  char buf[INET6_ADDRSTRLEN] = "*";
  if (addr.size() == 4 || addr.size() == 16) ::inet_ntop(addr.size() == 4 ? AF_INET : AF_INET6, addr.data(), buf, sizeof buf);
  if (family == AF_INET6) return fmt::format("[{}]:{}", buf, port);
  return fmt::format("{}:{}", buf, port);
}

std::string describe_inet(const img::InetSocket& s) {
  const char* proto = s.protocol() == IPPROTO_TCP ? "TCP" : "UDP";
  const char* v = s.family() == AF_INET6 ? "v6" : "";
  std::string out = fmt::format("{}{} socket {}", proto, v, addr_text(s.family(), s.local_addr(), s.local_port()));
  if (!s.peer_addr().empty()) out += " -> " + addr_text(s.family(), s.peer_addr(), s.peer_port());
  return out;
}

SockAddr make_sockaddr(int family, const std::string& addr, uint32_t port, uint32_t scope) {
  SockAddr a;
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&a.ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(port));
    if (addr.size() == 4) std::memcpy(&in->sin_addr, addr.data(), 4);
    a.len = sizeof *in;
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    in6->sin6_scope_id = scope;
    if (addr.size() == 16) std::memcpy(&in6->sin6_addr, addr.data(), 16);
    a.len = sizeof *in6;
  }
  return a;
}

void split_sockaddr(const sockaddr_storage& ss, std::string* addr, uint32_t* port, uint32_t* scope) {
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    *addr = std::string(reinterpret_cast<const char*>(&in->sin_addr), 4);
    *port = ntohs(in->sin_port);
    *scope = 0;
  } else if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    *addr = std::string(reinterpret_cast<const char*>(&in6->sin6_addr), 16);
    *port = ntohs(in6->sin6_port);
    *scope = in6->sin6_scope_id;
  }
}

Result<tcp_info> read_tcp_info(int fd) {
  tcp_info ti{};
  socklen_t len = sizeof ti;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return sys_fail("TCP_INFO");
  return ti;
}

namespace {

// "TCP", "TCPv6", "UDP", "UDPv6": sockfs names the protocol in an xattr of
// the socket's inode, readable through the /proc magic link.
}  // namespace

std::string inet_proto_name(pid_t pid, int fd) {
  char buf[32] = {};
  ssize_t n = ::getxattr(fmt::format("/proc/{}/fd/{}", pid, fd).c_str(), "system.sockprotoname", buf, sizeof buf - 1);
  if (n <= 0) return "";
  return std::string(buf, strnlen(buf, static_cast<size_t>(n)));
}

Result<UniqueFd> socket_copy(pid_t pid, int fd) {
  UniqueFd pidfd = TRY(sys::pidfd_open(pid));
  return sys::pidfd_getfd(pidfd.get(), fd);
}

namespace {

int int_opt(int fd, int level, int name) {
  int v = 0;
  socklen_t len = sizeof v;
  if (::getsockopt(fd, level, name, &v, &len) != 0) return -1;
  return v;
}

// Family, type, protocol, state, addresses.
Status read_identity(int fd, img::InetSocket& s) {
  s.set_family(int_opt(fd, SOL_SOCKET, SO_DOMAIN));
  s.set_type(int_opt(fd, SOL_SOCKET, SO_TYPE));
  s.set_protocol(int_opt(fd, SOL_SOCKET, SO_PROTOCOL));
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return sys_fail("getsockname");
  std::string addr;
  uint32_t port = 0, scope = 0;
  split_sockaddr(ss, &addr, &port, &scope);
  if (port != 0 || addr.find_first_not_of('\0') != std::string::npos) {
    s.set_local_addr(addr);
    s.set_local_port(port);
    s.set_local_scope(scope);
  }
  ss = {};
  len = sizeof ss;
  const bool connected = ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0;
  if (connected) {
    split_sockaddr(ss, &addr, &port, &scope);
    s.set_peer_addr(addr);
    s.set_peer_port(port);
    s.set_peer_scope(scope);
  }
  if (s.protocol() == IPPROTO_TCP) {
    tcp_info ti = TRY(read_tcp_info(fd));
    s.set_state(ti.tcpi_state);
    if (ti.tcpi_state == kTcpListen) s.set_backlog(ti.tcpi_sacked);  // sk_max_ack_backlog for a listener
  } else {
    s.set_state(connected ? kTcpEstablished : kTcpClose);
  }
  return {};
}

// Every datagram waiting, peeked in order (SO_PEEK_OFF moves past each),
// the socket's own peek offset put back.
Result<std::vector<img::Datagram>> peek_datagrams(int fd) {
  int old = int_opt(fd, SOL_SOCKET, SO_PEEK_OFF);
  int zero = 0;
  if (::setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof zero) != 0) return sys_fail("SO_PEEK_OFF");
  std::vector<img::Datagram> out;
  std::vector<char> buf(65536);
  Status st;
  for (;;) {
    sockaddr_storage ss{};
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_name = &ss;
    msg.msg_namelen = sizeof ss;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = ::recvmsg(fd, &msg, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0) {
      if (errno != EAGAIN) st = sys_fail("peek datagram {}", out.size() + 1);
      break;
    }
    if (msg.msg_flags & MSG_TRUNC) {
      st = unsupported("datagram {} is longer than {} bytes: not supported yet", out.size() + 1, buf.size());
      break;
    }
    img::Datagram& d = out.emplace_back();
    std::string addr;
    uint32_t port = 0, scope = 0;
    split_sockaddr(ss, &addr, &port, &scope);
    d.set_source_addr(addr);
    d.set_source_port(port);
    d.set_data(std::string(buf.data(), static_cast<size_t>(n)));
  }
  if (::setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &old, sizeof old) != 0 && st) st = sys_fail("put SO_PEEK_OFF back");
  TRY(std::move(st));
  return out;
}

bool v4_mapped(const std::string& a) {
  static const char kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '\xff', '\xff'};
  return a.size() == 16 && std::memcmp(a.data(), kPrefix, 12) == 0;
}

// The datagram queued again: sent from its source address and port by a raw
// socket (the source may be a socket of the container not made yet, or
// bound without SO_REUSEADDR), to the restored socket's address.
Status requeue_datagram(const img::InetSocket& s, const img::Datagram& d) {
  std::string src = d.source_addr(), dst = s.local_addr();
  int family = src.size() == 4 ? AF_INET : AF_INET6;
  if (family == AF_INET6 && v4_mapped(src)) {
    family = AF_INET;
    src = src.substr(12);
    dst = v4_mapped(dst) ? dst.substr(12) : std::string();
  }
  const bool any = dst.find_first_not_of('\0') == std::string::npos;
  if (any || dst.size() != (family == AF_INET ? 4u : 16u)) {
    // A wildcard-bound socket receives on the loopback address.
    dst = family == AF_INET ? std::string("\x7f\0\0\x01", 4) : std::string(15, '\0') + '\x01';
  }
  int raw = ::socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP);
  if (raw < 0) return sys_fail("raw UDP socket");
  UniqueFd r(raw);
  int one = 1;
  if (family == AF_INET6) {
    int off = 6;  // the kernel computes the UDP checksum (mandatory over IPv6)
    if (::setsockopt(raw, IPPROTO_IPV6, IPV6_CHECKSUM, &off, sizeof off) != 0) return sys_fail("IPV6_CHECKSUM");
    ::setsockopt(raw, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof one);
  } else {
    ::setsockopt(raw, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
    // A source no link of the namespace has (a peer outside, over a veth):
    // the IPv4 route lookup refuses it (ENETUNREACH) unless the socket is
    // transparent (FLOWI_FLAG_ANYSRC; IP_FREEBIND only lets it bind).
    if (::setsockopt(raw, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof one) != 0) return sys_fail("IP_TRANSPARENT");
  }
  SockAddr from = make_sockaddr(family, src, 0, 0);
  if (::bind(raw, from.get(), from.len) != 0) return sys_fail("bind raw socket to the sender's address");
  std::string pkt(sizeof(udphdr), '\0');
  udphdr h{};
  h.source = htons(static_cast<uint16_t>(d.source_port()));
  h.dest = htons(static_cast<uint16_t>(s.local_port()));
  h.len = htons(static_cast<uint16_t>(sizeof h + d.data().size()));
  h.check = 0;  // IPv4: no checksum; IPv6: filled in by the kernel
  std::memcpy(pkt.data(), &h, sizeof h);
  pkt += d.data();
  SockAddr to = make_sockaddr(family, dst, 0, s.local_scope());
  if (::sendto(raw, pkt.data(), pkt.size(), 0, to.get(), to.len) != static_cast<ssize_t>(pkt.size()))
    return sys_fail("send the datagram again");
  return {};
}

Status bind_to(int fd, const img::InetSocket& s) {
  SockAddr a = make_sockaddr(s.family(), s.local_addr(), s.local_port(), s.local_scope());
  if (::bind(fd, a.get(), a.len) != 0) return sys_fail("bind");
  return {};
}

// A listening or closed TCP socket binds with SO_REUSEADDR for the bind
// only: the connections of the listener (restored by repair, in any order)
// may hold its port already. Its own value is set again right after.
Status bind_tcp(int fd, const img::InetSocket& s) {
  int one = 1;
  int had = int_opt(fd, SOL_SOCKET, SO_REUSEADDR);
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) return sys_fail("SO_REUSEADDR");
  TRY(bind_to(fd, s));
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &had, sizeof had) != 0) return sys_fail("SO_REUSEADDR");
  return {};
}

bool bound(const img::InetSocket& s) { return s.local_port() != 0 || !s.local_addr().empty(); }

}  // namespace

bool is_inet_socket(const FdProbe& p) {
  if (!p.link.starts_with("socket:[") || p.pid == 0) return false;
  const std::string n = inet_proto_name(p.pid, p.fd);
  return n == "TCP" || n == "TCPv6" || n == "UDP" || n == "UDPv6";
}

Status dump_inet_socket(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out) {
  out.set_kind(img::FD_INET_SOCKET);
  out.set_pos(0);
  img::InetSocket& s = *out.mutable_inet();
  s.set_inode(p.st.st_ino);
  UniqueFd fd = TRY_CTX(socket_copy(p.pid, p.fd), "{}", p.link);
  TRY_CTX(read_identity(fd.get(), s), "{}", p.link);
  const std::string what = describe_inet(s);
  if (s.type() != (s.protocol() == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM))
    return unsupported("{}: socket type {}: not supported yet", what, s.type());
  s.set_peek_off(int_opt(fd.get(), SOL_SOCKET, SO_PEEK_OFF));
  TRY_CTX(dump_inet_options(fd.get(), s), "{}", what);
  if (s.protocol() == IPPROTO_UDP) {
    auto dgrams = TRY_CTX(peek_datagrams(fd.get()), "{}", what);
    for (auto& d : dgrams) *s.add_datagrams() = std::move(d);
    return {};
  }
  switch (s.state()) {
    case kTcpClose: {
      // A connection that ended (FINs both ways, or a reset) leaves its
      // socket CLOSE with the receive side shut (reads: end of file) or an
      // error pending: the restore would make a socket never connected
      // (reads: ENOTCONN).
      pollfd p{fd.get(), POLLRDHUP, 0};
      if (::poll(&p, 1, 0) < 0) return sys_fail("{}: poll", what);
      if (p.revents & POLLERR) return unsupported("{}: closed with an error pending: not supported yet", what);
      if (p.revents & POLLRDHUP)
        return unsupported("{}: its connection has ended (closed both ways, or reset) and the program still holds it: "
                           "not supported yet",
                           what);
      return {};
    }
    case kTcpListen: {
      tcp_info ti = TRY_CTX(read_tcp_info(fd.get()), "{}", what);
      // For a listener tcpi_unacked is its accept queue (sk_ack_backlog).
      // The blockers pass leaves them to TcpRepairSession, which finds the
      // clients that can connect again.
      if (ti.tcpi_unacked == 0 || !ctx.tcp_pending) return {};
      auto it = ctx.tcp_pending->find(s.inode());
      const uint32_t ours = it == ctx.tcp_pending->end() ? 0 : it->second;
      if (ti.tcpi_unacked != ours)
        return unsupported("listening {}: {} connection(s) not accepted yet, {} of them from a client of the "
                           "container: not supported yet",
                           what, ti.tcpi_unacked, ours);
      s.set_pending(ours);
      return {};
    }
    default: {
      if (!repaired_state(s.state()))
        return unsupported("{} in state {}: not supported yet", what, tcp_state_name(s.state()));
      // The blockers pass looks at the shape only; the dump proper takes
      // what TcpRepairSession read, every connection in one instant.
      if (!ctx.tcp) return {};
      auto it = ctx.tcp->find(s.inode());
      if (it == ctx.tcp->end()) return failf("{}: not read in repair mode", what);
      *s.mutable_tcp() = it->second;
      return {};
    }
  }
}

Result<UniqueFd> open_inet_socket(const img::Fd& fd, const OpenContext&) {
  const img::InetSocket& s = fd.inet();
  const std::string what = describe_inet(s);
  if ((s.family() != AF_INET && s.family() != AF_INET6) ||
      !((s.protocol() == IPPROTO_TCP && s.type() == SOCK_STREAM) ||
        (s.protocol() == IPPROTO_UDP && s.type() == SOCK_DGRAM)))
    return bad_input("{}: family {} type {} protocol {}: not an inet TCP/UDP socket", what, s.family(), s.type(),
                     s.protocol());
  int raw = ::socket(s.family(), s.type() | SOCK_CLOEXEC, s.protocol());
  if (raw < 0) return sys_fail("{}: socket", what);
  UniqueFd sock(raw);
  TRY_CTX(apply_inet_options(sock.get(), s), "{}", what);
  if (s.protocol() == IPPROTO_TCP) {
    switch (s.state()) {
      case kTcpClose:
        if (bound(s)) TRY_CTX(bind_tcp(sock.get(), s), "{}", what);
        break;
      case kTcpListen:
        TRY_CTX(bind_tcp(sock.get(), s), "{}", what);
        if (::listen(sock.get(), static_cast<int>(s.backlog())) != 0) return sys_fail("{}: listen", what);
        break;
      default:
        if (!repaired_state(s.state()))
          return unsupported("{} in state {}: not supported yet", what, tcp_state_name(s.state()));
        if (s.tcp().reconnect())
          TRY_CTX(bind_tcp(sock.get(), s), "{}", what);  // connected by reconnect_pending_tcp
        else
          TRY_CTX(restore_tcp_connection(sock.get(), s), "{}", what);  // half-closed: replay_fins
        break;
    }
  } else {
    if (bound(s)) TRY_CTX(bind_to(sock.get(), s), "{}", what);
    // Before connect: a connected socket takes datagrams from its peer only.
    for (const img::Datagram& d : s.datagrams()) TRY_CTX(requeue_datagram(s, d), "{}", what);
    if (s.state() == kTcpEstablished) {
      SockAddr a = make_sockaddr(s.family(), s.peer_addr(), s.peer_port(), s.peer_scope());
      if (::connect(sock.get(), a.get(), a.len) != 0) return sys_fail("{}: connect", what);
    }
  }
  if (const int peek_off = s.peek_off(); peek_off >= 0 &&
      ::setsockopt(sock.get(), SOL_SOCKET, SO_PEEK_OFF, &peek_off, sizeof peek_off) != 0)
    return sys_fail("{}: SO_PEEK_OFF", what);
  TRY_CTX(set_status_flags(sock.get(), fd.flags()), "{}", what);
  return sock;
}

Status verify_inet_socket(const FdProbe& now, const img::Fd& fd) {
  const img::InetSocket& want = fd.inet();
  const std::string what = describe_inet(want);
  UniqueFd sock = TRY_CTX(socket_copy(now.pid, now.fd), "{}", what);
  img::InetSocket got;
  TRY_CTX(read_identity(sock.get(), got), "{}", what);
  if (got.family() != want.family() || got.protocol() != want.protocol())
    return failf("{}: restored as family {} protocol {}", what, got.family(), got.protocol());
  // A half-closed connection is established until replay_fins (but for the
  // FIN of a closed peer's stand-in).
  const uint32_t want_state = want.tcp().peer_closed() ? kTcpCloseWait
                              : repaired_state(want.state()) ? kTcpEstablished
                                                             : want.state();
  if (got.state() != want_state)
    return failf("{}: state {}, the image has {}", what, tcp_state_name(got.state()), tcp_state_name(want.state()));
  if (got.local_addr() != want.local_addr() || got.local_port() != want.local_port() ||
      got.peer_addr() != want.peer_addr() || got.peer_port() != want.peer_port())
    return failf("{}: addresses are {} after the restore", what, describe_inet(got));
  if (got.state() == kTcpListen && got.backlog() != want.backlog())
    return failf("{}: backlog {}, the image has {}", what, got.backlog(), want.backlog());
  if (got.state() == kTcpListen) {
    tcp_info ti = TRY_CTX(read_tcp_info(sock.get()), "{}", what);
    if (ti.tcpi_unacked != want.pending())
      return failf("{}: {} connection(s) not accepted, the image has {}", what, ti.tcpi_unacked, want.pending());
  }
  TRY_CTX(verify_inet_options(sock.get(), want), "{}", what);
  if (want.protocol() == IPPROTO_UDP) {
    auto dgrams = TRY_CTX(peek_datagrams(sock.get()), "{}", what);
    if (static_cast<int>(dgrams.size()) != want.datagrams_size())
      return failf("{}: {} datagram(s) queued, the image has {}", what, dgrams.size(), want.datagrams_size());
    for (size_t i = 0; i < dgrams.size(); ++i) {
      const img::Datagram& w = want.datagrams(static_cast<int>(i));
      if (dgrams[i].data() != w.data() || dgrams[i].source_port() != w.source_port())
        return failf("{}: datagram {} differs from the image's", what, i + 1);
    }
  }
  if (want.protocol() == IPPROTO_TCP && repaired_state(want.state()) && !want.tcp().reconnect())
    TRY_CTX(verify_tcp_connection(sock.get(), want), "{}", what);
  return {};
}

}  // namespace amber::kinds::files
