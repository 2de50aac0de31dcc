// The socket options of an inet socket that change what the program sees or
// how the connection behaves. Each is read with getsockopt at the dump and,
// at the restore, set only where the new socket's value differs (so that a
// default that follows a sysctl, like the keepalive timers, stays a
// default). Buffer sizes are forced (SO_RCVBUFFORCE/SO_SNDBUFFORCE): the
// restored queues need the room, and the kernel then keeps them fixed
// (auto-tuning off), as after a CRIU restore.
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <cstring>

#include "kinds/files/inet_socket_impl.h"

namespace amber::kinds::files {
namespace {

enum class Shape { Int, Bytes };
enum class Applies { All, Tcp, Udp, V4, V6, UdpV4, UdpV6 };

struct OptRule {
  int level;
  int name;
  const char* text;
  Shape shape;
  Applies applies;
};

constexpr auto kOptions = std::to_array<OptRule>({
    {SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR", Shape::Int, Applies::All},
    {SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT", Shape::Int, Applies::All},
    {SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", Shape::Int, Applies::All},
    {SOL_SOCKET, SO_BROADCAST, "SO_BROADCAST", Shape::Int, Applies::All},
    {SOL_SOCKET, SO_OOBINLINE, "SO_OOBINLINE", Shape::Int, Applies::All},
    {SOL_SOCKET, SO_PRIORITY, "SO_PRIORITY", Shape::Int, Applies::All},
    {SOL_SOCKET, SO_RCVLOWAT, "SO_RCVLOWAT", Shape::Int, Applies::All},
    {SOL_SOCKET, SO_MARK, "SO_MARK", Shape::Int, Applies::All},
    {SOL_SOCKET, SO_TIMESTAMP, "SO_TIMESTAMP", Shape::Int, Applies::All},
    {SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF", Shape::Int, Applies::All},
    {SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF", Shape::Int, Applies::All},
    {SOL_SOCKET, SO_LINGER, "SO_LINGER", Shape::Bytes, Applies::All},
    {SOL_SOCKET, SO_RCVTIMEO, "SO_RCVTIMEO", Shape::Bytes, Applies::All},
    {SOL_SOCKET, SO_SNDTIMEO, "SO_SNDTIMEO", Shape::Bytes, Applies::All},
    {SOL_SOCKET, SO_BINDTODEVICE, "SO_BINDTODEVICE", Shape::Bytes, Applies::All},
    {IPPROTO_IP, IP_TOS, "IP_TOS", Shape::Int, Applies::V4},
    {IPPROTO_IP, IP_TTL, "IP_TTL", Shape::Int, Applies::V4},
    {IPPROTO_IP, IP_RECVERR, "IP_RECVERR", Shape::Int, Applies::V4},
    {IPPROTO_IP, IP_PKTINFO, "IP_PKTINFO", Shape::Int, Applies::V4},
    {IPPROTO_IP, IP_RECVTOS, "IP_RECVTOS", Shape::Int, Applies::V4},
    {IPPROTO_IP, IP_FREEBIND, "IP_FREEBIND", Shape::Int, Applies::V4},
    {IPPROTO_IP, IP_MTU_DISCOVER, "IP_MTU_DISCOVER", Shape::Int, Applies::V4},
    {IPPROTO_IP, IP_MULTICAST_TTL, "IP_MULTICAST_TTL", Shape::Int, Applies::UdpV4},
    {IPPROTO_IP, IP_MULTICAST_LOOP, "IP_MULTICAST_LOOP", Shape::Int, Applies::UdpV4},
    {IPPROTO_IPV6, IPV6_V6ONLY, "IPV6_V6ONLY", Shape::Int, Applies::V6},
    {IPPROTO_IPV6, IPV6_TCLASS, "IPV6_TCLASS", Shape::Int, Applies::V6},
    {IPPROTO_IPV6, IPV6_UNICAST_HOPS, "IPV6_UNICAST_HOPS", Shape::Int, Applies::V6},
    {IPPROTO_IPV6, IPV6_RECVPKTINFO, "IPV6_RECVPKTINFO", Shape::Int, Applies::V6},
    {IPPROTO_IPV6, IPV6_RECVERR, "IPV6_RECVERR", Shape::Int, Applies::V6},
    {IPPROTO_IPV6, IPV6_MTU_DISCOVER, "IPV6_MTU_DISCOVER", Shape::Int, Applies::V6},
    {IPPROTO_IPV6, IPV6_MULTICAST_HOPS, "IPV6_MULTICAST_HOPS", Shape::Int, Applies::UdpV6},
    {IPPROTO_IPV6, IPV6_MULTICAST_LOOP, "IPV6_MULTICAST_LOOP", Shape::Int, Applies::UdpV6},
    {IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", Shape::Int, Applies::Tcp},
    {IPPROTO_TCP, TCP_CORK, "TCP_CORK", Shape::Int, Applies::Tcp},
    {IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", Shape::Int, Applies::Tcp},
    {IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", Shape::Int, Applies::Tcp},
    {IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", Shape::Int, Applies::Tcp},
    {IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT", Shape::Int, Applies::Tcp},
    {IPPROTO_TCP, TCP_SYNCNT, "TCP_SYNCNT", Shape::Int, Applies::Tcp},
    {IPPROTO_TCP, TCP_LINGER2, "TCP_LINGER2", Shape::Int, Applies::Tcp},
    {IPPROTO_TCP, TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT", Shape::Int, Applies::Tcp},
    {IPPROTO_TCP, TCP_NOTSENT_LOWAT, "TCP_NOTSENT_LOWAT", Shape::Int, Applies::Tcp},
    {IPPROTO_TCP, TCP_CONGESTION, "TCP_CONGESTION", Shape::Bytes, Applies::Tcp},
});

bool applies(const OptRule& r, const img::InetSocket& s) {
  switch (r.applies) {
    case Applies::All: return true;
    case Applies::Tcp: return s.protocol() == IPPROTO_TCP;
    case Applies::Udp: return s.protocol() == IPPROTO_UDP;
    case Applies::V4: return s.family() == AF_INET;
    case Applies::V6: return s.family() == AF_INET6;
    case Applies::UdpV4: return s.family() == AF_INET && s.protocol() == IPPROTO_UDP;
    case Applies::UdpV6: return s.family() == AF_INET6 && s.protocol() == IPPROTO_UDP;
  }
  return false;
}

const OptRule* rule_of(int level, int name) {
  for (const OptRule& r : kOptions)
    if (r.level == level && r.name == name) return &r;
  return nullptr;
}

// The option as the kernel reports it now.
Result<img::SocketOption> read_option(int fd, const OptRule& r) {
  img::SocketOption o;
  o.set_level(r.level);
  o.set_name(r.name);
  if (r.shape == Shape::Int) {
    int v = 0;
    socklen_t len = sizeof v;
    if (::getsockopt(fd, r.level, r.name, &v, &len) != 0) return sys_fail("getsockopt {}", r.text);
    o.set_value(v);
    return o;
  }
  char buf[64] = {};
  socklen_t len = sizeof buf;
  if (::getsockopt(fd, r.level, r.name, buf, &len) != 0) return sys_fail("getsockopt {}", r.text);
  std::string data(buf, len);
  // Names (TCP_CONGESTION, SO_BINDTODEVICE) up to their NUL.
  if (r.name == TCP_CONGESTION || r.name == SO_BINDTODEVICE) data = data.substr(0, data.find('\0'));
  o.set_is_data(true);
  o.set_data(data);
  return o;
}

bool is_buffer(const img::SocketOption& o) {
  return o.level() == SOL_SOCKET && (o.name() == SO_RCVBUF || o.name() == SO_SNDBUF);
}

bool same(const img::SocketOption& a, const img::SocketOption& b) {
  if (a.is_data() != b.is_data()) return false;
  if (a.is_data()) return a.data() == b.data();
  // The kernel keeps twice what is asked: an odd size comes back one less.
  if (is_buffer(a)) return a.value() / 2 == b.value() / 2;
  return a.value() == b.value();
}

std::string value_text(const img::SocketOption& o) {
  if (!o.is_data()) return fmt::format("{}", o.value());
  std::string hex;
  for (unsigned char c : o.data()) hex += fmt::format("{:02x}", c);
  return hex;
}

Status set_option(int fd, const OptRule& r, const img::SocketOption& o) {
  if (o.is_data()) {
    if (::setsockopt(fd, r.level, r.name, o.data().data(), static_cast<socklen_t>(o.data().size())) != 0)
      return sys_fail("setsockopt {} {}", r.text, value_text(o));
    return {};
  }
  int v = static_cast<int>(o.value());
  int name = r.name;
  if (is_buffer(o)) {
    // setsockopt doubles the value (bookkeeping overhead); FORCE: above rmem_max/wmem_max too.
    name = r.name == SO_RCVBUF ? SO_RCVBUFFORCE : SO_SNDBUFFORCE;
    v /= 2;
  }
  if (::setsockopt(fd, r.level, name, &v, sizeof v) != 0) return sys_fail("setsockopt {} {}", r.text, o.value());
  return {};
}

// inet6_bind sets IPV6_V6ONLY on a socket bound to one IPv6 address (not
// v4-mapped), and it cannot be cleared once bound: a socket the kernel bound
// implicitly (connect) reads 0, its restore (an explicit bind) 1. Either way
// it takes IPv6 traffic of that address only.
bool v6only_by_bind(const img::InetSocket& s, const img::SocketOption& o) {
  static const char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '\xff', '\xff'};
  const std::string& a = s.local_addr();
  return o.level() == IPPROTO_IPV6 && o.name() == IPV6_V6ONLY && o.value() == 0 && a.size() == 16 &&
         a.find_first_not_of('\0') != std::string::npos && std::memcmp(a.data(), kMapped, 12) != 0;
}

}  // namespace

Status dump_inet_options(int fd, img::InetSocket& s) {
  for (const OptRule& r : kOptions) {
    if (!applies(r, s)) continue;
    auto o = read_option(fd, r);
    // Not every kernel knows every option (ENOPROTOOPT): then nobody set it.
    if (!o && o.error().sys_errno == ENOPROTOOPT) continue;
    *s.add_options() = TRY(std::move(o));
  }
  return {};
}

Status apply_inet_options(int fd, const img::InetSocket& s) {
  const bool repaired = s.protocol() == IPPROTO_TCP && repaired_state(s.state()) && !s.tcp().reconnect();
  for (const img::SocketOption& o : s.options()) {
    const OptRule* r = rule_of(o.level(), o.name());
    if (!r) return bad_input("socket option {}/{}: unknown to this amber", o.level(), o.name());
    // Repair mode overrides sk_reuse: finish_tcp_restore sets it.
    if (repaired && o.level() == SOL_SOCKET && o.name() == SO_REUSEADDR) continue;
    img::SocketOption now = TRY(read_option(fd, *r));
    if (same(now, o)) continue;
    TRY(set_option(fd, *r, o));
  }
  return {};
}

Status verify_inet_options(int fd, const img::InetSocket& s) {
  const bool repaired = s.protocol() == IPPROTO_TCP && repaired_state(s.state()) && !s.tcp().reconnect();
  for (const img::SocketOption& o : s.options()) {
    const OptRule* r = rule_of(o.level(), o.name());
    if (!r) return bad_input("socket option {}/{}: unknown to this amber", o.level(), o.name());
    if (repaired && o.level() == SOL_SOCKET && o.name() == SO_REUSEADDR) continue;
    if (v6only_by_bind(s, o)) continue;
    img::SocketOption now = TRY(read_option(fd, *r));
    if (!same(now, o)) return failf("{} is {}, the image has {}", r->text, value_text(now), value_text(o));
  }
  return {};
}

}  // namespace amber::kinds::files
