// Established TCP connections through TCP_REPAIR (Documentation: the
// TCP_REPAIR* options of include/uapi/linux/tcp.h; CRIU's soccr does the
// same). In repair mode the kernel lets a program read and set what is
// otherwise hidden: the sequence numbers (TCP_QUEUE_SEQ of the queue chosen
// with TCP_REPAIR_QUEUE), both queues without consuming them (MSG_PEEK;
// the send queue includes what the peer has not acknowledged), the options
// negotiated at the handshake (TCP_REPAIR_OPTIONS) and the window
// (TCP_REPAIR_WINDOW, accepted only once the queues are back). connect() in
// repair mode sends no SYN: the socket is established at once with the
// sequence numbers set before it.
#include "kinds/files/inet_socket.h"

#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <set>
#include <thread>

#include "kinds/files/inet_socket_impl.h"
#include "sys/pidfd.h"
#include "sys/procfs.h"
#include "base/files.h"

namespace amber::kinds {

using files::kTcpEstablished;

namespace {

Status set_int(int fd, int level, int name, int v, const char* text) {
  if (::setsockopt(fd, level, name, &v, sizeof v) != 0) return sys_fail("setsockopt {} {}", text, v);
  return {};
}

Result<int> get_int(int fd, int level, int name, const char* text) {
  int v = 0;
  socklen_t len = sizeof v;
  if (::getsockopt(fd, level, name, &v, &len) != 0) return sys_fail("getsockopt {}", text);
  return v;
}

Status set_queue(int fd, int q) { return set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, q, "TCP_REPAIR_QUEUE"); }

Result<uint32_t> queue_seq(int fd, int q) {
  TRY(set_queue(fd, q));
  return static_cast<uint32_t>(TRY(get_int(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, "TCP_QUEUE_SEQ")));
}

Result<int> ioctl_int(int fd, unsigned long req, const char* text) {
  int v = 0;
  if (::ioctl(fd, req, &v) != 0) return sys_fail("ioctl {}", text);
  return v;
}

// The whole queue `q`, peeked (one recv returns every segment of it).
Result<std::string> peek_queue(int fd, int q, int len) {
  if (len <= 0) return std::string();
  TRY(set_queue(fd, q));
  std::string buf(static_cast<size_t>(len), '\0');
  ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return sys_fail("peek the {} queue", q == TCP_SEND_QUEUE ? "send" : "receive");
  if (n != len) return failf("peek the {} queue: {} of {} bytes", q == TCP_SEND_QUEUE ? "send" : "receive", n, len);
  return buf;
}

Result<tcp_repair_window> read_window(int fd) {
  tcp_repair_window w{};
  socklen_t len = sizeof w;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &len) != 0) return sys_fail("TCP_REPAIR_WINDOW");
  return w;
}

// What moves when a segment or an ACK arrives: all monotonic but the window.
struct Fingerprint {
  uint32_t write_seq = 0, rcv_nxt = 0;
  int outq = 0, unsent = 0, inq = 0;
  tcp_repair_window win{};
  bool operator==(const Fingerprint& o) const {
    return write_seq == o.write_seq && rcv_nxt == o.rcv_nxt && outq == o.outq && unsent == o.unsent &&
           inq == o.inq && win.snd_wl1 == o.win.snd_wl1 && win.snd_wnd == o.win.snd_wnd &&
           win.max_window == o.win.max_window && win.rcv_wnd == o.win.rcv_wnd && win.rcv_wup == o.win.rcv_wup;
  }
};

Result<Fingerprint> fingerprint(int fd) {
  Fingerprint f;
  f.write_seq = TRY(queue_seq(fd, TCP_SEND_QUEUE));
  f.rcv_nxt = TRY(queue_seq(fd, TCP_RECV_QUEUE));
  TRY(set_queue(fd, TCP_NO_QUEUE));
  f.outq = TRY(ioctl_int(fd, SIOCOUTQ, "SIOCOUTQ"));
  f.unsent = TRY(ioctl_int(fd, SIOCOUTQNSD, "SIOCOUTQNSD"));
  f.inq = TRY(ioctl_int(fd, SIOCINQ, "SIOCINQ"));
  f.win = TRY(read_window(fd));
  return f;
}

// Writes `data` into queue `q` of a socket in repair mode: the send queue
// counts it as sent and unacknowledged, the receive queue as received.
Status write_queue(int fd, int q, std::string_view data) {
  if (data.empty()) return {};
  TRY(set_queue(fd, q));
  constexpr size_t kChunk = 64 * 1024;
  for (size_t off = 0; off < data.size();) {
    size_t n = std::min(kChunk, data.size() - off);
    ssize_t w = ::send(fd, data.data() + off, n, MSG_DONTWAIT);
    if (w <= 0)
      return sys_fail("restore {} bytes of the {} queue at {}", data.size(), q == TCP_SEND_QUEUE ? "send" : "receive",
                      off);
    off += static_cast<size_t>(w);
  }
  return {};
}

}  // namespace

namespace files {

Result<img::TcpConnection> read_tcp_connection(int fd) {
  img::TcpConnection c;
  // A half-closed connection's FINs are left out (tcp_fin.cpp): one
  // sequence number each, and one in SIOCOUTQ (SIOCOUTQNSD) until acknowledged (sent).
  const uint32_t state = TRY(read_tcp_info(fd)).tcpi_state;
  const bool fin_out = files::fin_sent(state), fin_unacked = fin_out && state != files::kTcpFinWait2;
  c.set_send_seq(TRY(queue_seq(fd, TCP_SEND_QUEUE)) - (fin_out ? 1 : 0));
  TRY(set_queue(fd, TCP_NO_QUEUE));
  int outq = TRY(ioctl_int(fd, SIOCOUTQ, "SIOCOUTQ"));
  int unsent = TRY(ioctl_int(fd, SIOCOUTQNSD, "SIOCOUTQNSD"));
  if (fin_unacked && outq > 0) --outq;
  if (fin_unacked && unsent > 0) --unsent;
  c.set_send_queue(TRY(peek_queue(fd, TCP_SEND_QUEUE, outq)));
  c.set_unsent(static_cast<uint32_t>(unsent));
  c.set_recv_seq(TRY(queue_seq(fd, TCP_RECV_QUEUE)) - (files::fin_received(state) ? 1 : 0));
  TRY(set_queue(fd, TCP_NO_QUEUE));
  const int inq = TRY(ioctl_int(fd, SIOCINQ, "SIOCINQ"));
  c.set_recv_queue(TRY(peek_queue(fd, TCP_RECV_QUEUE, inq)));
  TRY(set_queue(fd, TCP_NO_QUEUE));
  tcp_info ti = TRY(read_tcp_info(fd));
  c.set_timestamps(ti.tcpi_options & TCPI_OPT_TIMESTAMPS);
  c.set_sack(ti.tcpi_options & TCPI_OPT_SACK);
  c.set_wscale(ti.tcpi_options & TCPI_OPT_WSCALE);
  c.set_snd_wscale(ti.tcpi_snd_wscale);
  c.set_rcv_wscale(ti.tcpi_rcv_wscale);
  c.set_mss(static_cast<uint32_t>(TRY(get_int(fd, IPPROTO_TCP, TCP_MAXSEG, "TCP_MAXSEG"))));
  c.set_timestamp(static_cast<uint32_t>(TRY(get_int(fd, IPPROTO_TCP, TCP_TIMESTAMP, "TCP_TIMESTAMP"))));
  // An established socket reports POLLRDHUP only for its own SHUT_RD (a
  // FIN from the peer would have made it CLOSE_WAIT).
  pollfd p{fd, POLLRDHUP, 0};
  if (::poll(&p, 1, 0) < 0) return sys_fail("poll");
  c.set_shut_rd((p.revents & POLLRDHUP) != 0 && !files::fin_received(state));
  tcp_repair_window w = TRY(read_window(fd));
  c.set_snd_wl1(w.snd_wl1);
  c.set_snd_wnd(w.snd_wnd);
  c.set_max_window(w.max_window);
  c.set_rcv_wnd(w.rcv_wnd);
  c.set_rcv_wup(w.rcv_wup);
  return c;
}

Status restore_tcp_connection(int fd, const img::InetSocket& s) {
  const img::TcpConnection& c = s.tcp();
  if (c.unsent() > c.send_queue().size())
    return bad_input("{} unsent bytes in a send queue of {}", c.unsent(), c.send_queue().size());
  TRY(set_int(fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON, "TCP_REPAIR"));
  // The sequence numbers of the queues' first bytes; writing the queues
  // below moves them to where they were.
  TRY(set_queue(fd, TCP_SEND_QUEUE));
  TRY(set_int(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, static_cast<int>(c.send_seq() - c.send_queue().size()),
              "TCP_QUEUE_SEQ (send)"));
  TRY(set_queue(fd, TCP_RECV_QUEUE));
  TRY(set_int(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, static_cast<int>(c.recv_seq() - c.recv_queue().size()),
              "TCP_QUEUE_SEQ (receive)"));
  TRY(set_queue(fd, TCP_NO_QUEUE));
  // The socket's timestamp clock goes on from where the peer last saw it
  // (PAWS drops segments whose timestamp goes back).
  if (c.timestamps())
    TRY(set_int(fd, IPPROTO_TCP, TCP_TIMESTAMP, static_cast<int>(c.timestamp()), "TCP_TIMESTAMP"));
  files::SockAddr local = files::make_sockaddr(s.family(), s.local_addr(), s.local_port(), s.local_scope());
  // Repair mode binds even where a listener or another connection has the
  // port (sk_reuse = SK_FORCE_REUSE).
  if (::bind(fd, local.get(), local.len) != 0) return sys_fail("bind in repair mode");
  files::SockAddr peer = files::make_sockaddr(s.family(), s.peer_addr(), s.peer_port(), s.peer_scope());
  if (::connect(fd, peer.get(), peer.len) != 0) return sys_fail("connect in repair mode");
  std::vector<tcp_repair_opt> opts;
  opts.push_back({TCPOPT_MAXSEG, c.mss()});
  if (c.wscale()) opts.push_back({TCPOPT_WINDOW, c.snd_wscale() | (c.rcv_wscale() << 16)});
  if (c.timestamps()) opts.push_back({TCPOPT_TIMESTAMP, 0});
  if (c.sack()) opts.push_back({TCPOPT_SACK_PERMITTED, 0});
  if (::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_OPTIONS, opts.data(),
                   static_cast<socklen_t>(opts.size() * sizeof(tcp_repair_opt))) != 0)
    return sys_fail("TCP_REPAIR_OPTIONS");
  // Bytes that had been sent go back as sent (the peer may have them, or
  // will get them again by retransmission); the never-sent rest is sent by
  // finish_tcp_restore, once the peer exists.
  const std::string_view sq = c.send_queue();
  TRY(write_queue(fd, TCP_SEND_QUEUE, sq.substr(0, sq.size() - c.unsent())));
  TRY(write_queue(fd, TCP_RECV_QUEUE, c.recv_queue()));
  TRY(set_queue(fd, TCP_NO_QUEUE));
  tcp_repair_window w{c.snd_wl1(), c.snd_wnd(), c.max_window(), c.rcv_wnd(), c.rcv_wup()};
  // The window was last advertised after the peer's FIN: that edge stays
  // where it was, from a rcv_wup the kernel accepts (not after rcv_nxt).
  if (const auto ahead = static_cast<int32_t>(w.rcv_wup - c.recv_seq()); ahead > 0) {
    w.rcv_wup -= static_cast<uint32_t>(ahead);
    w.rcv_wnd += static_cast<uint32_t>(ahead);
  }
  if (::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof w) != 0) return sys_fail("TCP_REPAIR_WINDOW");
  // Only sets RCV_SHUTDOWN (tcp_shutdown acts on SEND_SHUTDOWN alone): no packet.
  if (c.shut_rd() && ::shutdown(fd, SHUT_RD) != 0) return sys_fail("shutdown(SHUT_RD)");
  if (c.peer_closed()) TRY(files::stand_in_fin(fd, s));
  return {};
}

Status verify_tcp_connection(int fd, const img::InetSocket& s) {
  const img::TcpConnection& c = s.tcp();
  // Still in repair mode (finish_tcp_restore comes after): TCP_REPAIR_WINDOW answers only then.
  TRY_CTX(read_window(fd), "not in repair mode");
  const uint32_t sent = static_cast<uint32_t>(c.send_queue().size() - c.unsent());
  const uint32_t want_write_seq = c.send_seq() - c.unsent();
  const uint32_t write_seq = TRY(queue_seq(fd, TCP_SEND_QUEUE));
  const uint32_t rcv_nxt = TRY(queue_seq(fd, TCP_RECV_QUEUE));
  TRY(set_queue(fd, TCP_NO_QUEUE));
  if (write_seq != want_write_seq) return failf("send sequence {}, the image has {}", write_seq, want_write_seq);
  // The FIN of a closed peer's stand-in is in (tcp_fin.cpp).
  const uint32_t want_rcv_nxt = c.recv_seq() + (c.peer_closed() ? 1 : 0);
  if (rcv_nxt != want_rcv_nxt) return failf("receive sequence {}, the image has {}", rcv_nxt, want_rcv_nxt);
  const int outq = TRY(ioctl_int(fd, SIOCOUTQ, "SIOCOUTQ"));
  const int inq = TRY(ioctl_int(fd, SIOCINQ, "SIOCINQ"));
  if (static_cast<uint32_t>(outq) != sent) return failf("{} bytes in the send queue, the image has {}", outq, sent);
  if (static_cast<size_t>(inq) != c.recv_queue().size())
    return failf("{} bytes in the receive queue, the image has {}", inq, c.recv_queue().size());
  if (TRY(peek_queue(fd, TCP_SEND_QUEUE, outq)) != std::string_view(c.send_queue()).substr(0, sent))
    return failf("the send queue's bytes differ from the image's");
  if (TRY(peek_queue(fd, TCP_RECV_QUEUE, inq)) != c.recv_queue())
    return failf("the receive queue's bytes differ from the image's");
  TRY(set_queue(fd, TCP_NO_QUEUE));
  pollfd p{fd, POLLRDHUP, 0};
  if (::poll(&p, 1, 0) < 0) return sys_fail("poll");
  const bool want_rdhup = c.shut_rd() || c.peer_closed();
  if (((p.revents & POLLRDHUP) != 0) != want_rdhup)
    return failf("receive side {}shut down, the image has it {}", (p.revents & POLLRDHUP) ? "" : "not ",
                 want_rdhup ? "shut down" : "open");
  tcp_info ti = TRY(read_tcp_info(fd));
  if (bool(ti.tcpi_options & TCPI_OPT_TIMESTAMPS) != c.timestamps() ||
      bool(ti.tcpi_options & TCPI_OPT_SACK) != c.sack() || bool(ti.tcpi_options & TCPI_OPT_WSCALE) != c.wscale() ||
      (c.wscale() && (ti.tcpi_snd_wscale != c.snd_wscale() || ti.tcpi_rcv_wscale != c.rcv_wscale())))
    return failf("TCP options {:#x} (wscale {}/{}) after the restore differ from the image's", ti.tcpi_options,
                 unsigned{ti.tcpi_snd_wscale}, unsigned{ti.tcpi_rcv_wscale});
  return {};
}

}  // namespace files

TcpRepairSession::TcpRepairSession(TcpRepairSession&& o) noexcept
    : socks_(std::move(o.socks_)), conns_(std::move(o.conns_)), pending_(std::move(o.pending_)) {
  o.socks_.clear();
}

TcpRepairSession::~TcpRepairSession() { (void)release(); }

namespace {

// An inet address and port as getsockname/getpeername give them.
struct Endpoint {
  std::string addr;
  uint32_t port = 0;
  auto operator<=>(const Endpoint&) const = default;
};

// The IPv4 address of a v4-mapped IPv6 one, else the address itself.
std::string unmapped(const std::string& a) {
  static const char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '\xff', '\xff'};
  if (a.size() == 16 && std::memcmp(a.data(), kMapped, 12) == 0) return a.substr(12);
  return a;
}

// v4-mapped addresses as IPv4 ones: the two ends of a connection to a
// dual-stack listener see them in different families.
Endpoint endpoint_of(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  Endpoint e;
  uint32_t scope = 0;
  if ((peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
            : ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len)) == 0)
    files::split_sockaddr(ss, &e.addr, &e.port, &scope);
  e.addr = unmapped(e.addr);
  return e;
}

// Every TCP socket of `pid`'s net namespace as (local, remote), from
// /proc/PID/net/tcp and tcp6: a connection waiting in a listener's accept
// queue is there too, held by no fd. Addresses as the kernel stores them
// (printed as native-endian words), ports in host order.
Result<std::set<std::pair<Endpoint, Endpoint>>> netns_tuples(pid_t pid) {
  std::set<std::pair<Endpoint, Endpoint>> out;
  auto parse = [](std::string_view text, Endpoint& e) {
    auto colon = text.find(':');
    if (colon == std::string_view::npos || colon % 8 != 0) return false;
    for (size_t at = 0; at < colon; at += 8) {
      auto word = parse_uint(text.substr(at, 8), 16);
      if (!word) return false;
      const uint32_t w = static_cast<uint32_t>(*word);
      e.addr.append(reinterpret_cast<const char*>(&w), 4);
    }
    auto port = parse_uint(text.substr(colon + 1), 16);
    if (!port) return false;
    e.port = static_cast<uint32_t>(*port);
    e.addr = unmapped(e.addr);
    return true;
  };
  for (const char* file : {"tcp", "tcp6"}) {
    auto text = read_file(fmt::format("/proc/{}/net/{}", pid, file));
    if (!text) {
      if (text.error().sys_errno == ENOENT) continue;  // no IPv6 in this kernel
      return std::unexpected(std::move(text.error()));
    }
    auto lines = split(*text, '\n');
    for (size_t i = 1; i < lines.size(); ++i) {
      auto f = split_ws(lines[i]);
      Endpoint local, remote;
      if (f.size() > 2 && parse(f[1], local) && parse(f[2], remote)) out.insert({local, remote});
    }
  }
  return out;
}

// Does a listener bound to `l` take connections to `to`?
bool listens_for(const Endpoint& l, const Endpoint& to) {
  if (l.port != to.port) return false;
  if (l.addr.find_first_not_of('\0') == std::string::npos) return true;  // wildcard
  return unmapped(l.addr) == unmapped(to.addr);
}

// tcp_info's tcpi_bytes_acked and tcpi_bytes_received (Linux 4.1+, beyond
// glibc's struct): at offsets 120 and 128 of the kernel's layout.
std::pair<uint64_t, uint64_t> bytes_exchanged(int fd) {
  unsigned char buf[256] = {};
  socklen_t len = sizeof buf;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, buf, &len) != 0 || len < 136) return {UINT64_MAX, UINT64_MAX};
  uint64_t acked = 0, received = 0;
  std::memcpy(&acked, buf + 120, 8);
  std::memcpy(&received, buf + 128, 8);
  return {acked, received};
}

}  // namespace

Result<TcpRepairSession> TcpRepairSession::begin(
    const std::vector<std::pair<pid_t, pid_t>>& tasks, bool net_locked,
    const std::function<Status(const std::vector<RepairedSocket>&)>& journal) {
  TcpRepairSession session;
  struct Found {
    Sock s;
    Endpoint local, peer;
  };
  std::vector<Found> established;
  std::vector<std::pair<uint64_t, Endpoint>> listeners;
  std::set<std::pair<Endpoint, Endpoint>> fd_tuples;  // (local, peer) of every established fd
  std::set<uint64_t> seen;
  for (const auto& [pid, vpid] : tasks) {
    for (int fd : TRY_CTX(sys::list_fds(pid), "task {}", vpid)) {
      auto link = read_link(fmt::format("/proc/{}/fd/{}", pid, fd));
      if (!link || !link->starts_with("socket:[")) continue;
      const std::string name = files::inet_proto_name(pid, fd);
      if (name != "TCP" && name != "TCPv6") continue;
      struct stat st {};
      if (::stat(fmt::format("/proc/{}/fd/{}", pid, fd).c_str(), &st) != 0 || !seen.insert(st.st_ino).second)
        continue;
      Sock s;
      s.inode = st.st_ino;
      s.pid = pid;
      s.task_fd = fd;
      s.what = fmt::format("task {}: fd {}: {}", vpid, fd, *link);
      s.fd = TRY_CTX(files::socket_copy(pid, fd), "{}", s.what);
      tcp_info ti = TRY_CTX(files::read_tcp_info(s.fd.get()), "{}", s.what);
      if (ti.tcpi_state == files::kTcpListen) listeners.emplace_back(s.inode, endpoint_of(s.fd.get(), false));
      // Other states are refused by the fd walk (inet_socket.cpp).
      if (!files::repaired_state(ti.tcpi_state)) continue;
      s.reuseaddr = TRY_CTX(get_int(s.fd.get(), SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR"), "{}", s.what) != 0;
      Found f;
      f.s = std::move(s);
      f.local = endpoint_of(f.s.fd.get(), false);
      f.peer = endpoint_of(f.s.fd.get(), true);
      fd_tuples.insert({f.local, f.peer});
      established.push_back(std::move(f));
    }
  }
  // A connection whose other end no task holds: in a listener's accept
  // queue of the container (the namespace has a socket of the reverse
  // tuple), or outside. Waiting in the accept queue without data either
  // way, the client connects again at the restore; else refused.
  std::vector<Sock> found;
  std::optional<std::set<std::pair<Endpoint, Endpoint>>> in_ns;  // read once, if needed
  std::vector<uint64_t> peer_closed;  // CLOSE_WAIT, the peer closed by its process (tcp_fin.cpp)
  for (Found& f : established) {
    if (fd_tuples.contains({f.peer, f.local})) {
      found.push_back(std::move(f.s));
      continue;
    }
    const uint32_t st = TRY_CTX(files::read_tcp_info(f.s.fd.get()), "{}", f.s.what).tcpi_state;
    if (st == files::kTcpCloseWait && files::peer_was_local(f.s.pid, f.local.addr, f.local.port, f.peer.addr,
                                                            f.peer.port)) {
      peer_closed.push_back(f.s.inode);
      found.push_back(std::move(f.s));
      continue;
    }
    if (st != kTcpEstablished)
      return unsupported("{}: half-closed ({}) with its peer {} in no task of the container (closed by its process, "
                         "or outside): not supported yet",
                         f.s.what, files::tcp_state_name(st),
                         files::addr_text(f.peer.addr.size() == 16 ? AF_INET6 : AF_INET, f.peer.addr, f.peer.port));
    if (!in_ns) in_ns = TRY_CTX(netns_tuples(f.s.pid), "{}", f.s.what);
    if (!in_ns->contains({f.peer, f.local})) {
      // A peer outside the container (over a veth) keeps sending while the
      // container is held; the kernel would acknowledge what arrives after
      // the queues were read, and that data would be lost. The network
      // lock (kinds/ns/net_lock.h) keeps it out until the restore.
      if (!net_locked)
        return unsupported("{}: connected to {} outside the container, whose net namespace amber cannot lock (not "
                           "its own): not supported",
                           f.s.what, files::addr_text(f.peer.addr.size() == 16 ? AF_INET6 : AF_INET, f.peer.addr,
                                                     f.peer.port));
      found.push_back(std::move(f.s));
      continue;
    }
    const uint64_t* listener = nullptr;
    for (const auto& [ino, ep] : listeners)
      if (listens_for(ep, f.peer)) listener = &ino;
    if (!listener)
      return unsupported("{}: its other end is in the container's net namespace, held by no task and in no accept "
                         "queue: not supported",
                         f.s.what);
    const auto [acked, received] = bytes_exchanged(f.s.fd.get());
    const int outq = TRY_CTX(ioctl_int(f.s.fd.get(), SIOCOUTQ, "SIOCOUTQ"), "{}", f.s.what);
    const int inq = TRY_CTX(ioctl_int(f.s.fd.get(), SIOCINQ, "SIOCINQ"), "{}", f.s.what);
    // bytes_acked counts the SYN.
    if (acked > 1 || received > 0 || outq > 0 || inq > 0)
      return unsupported("{}: connected to a listener of the container that has not accepted it yet, and data was "
                         "sent: not supported yet",
                         f.s.what);
    img::TcpConnection c;
    c.set_reconnect(true);
    session.conns_[f.s.inode] = std::move(c);
    session.pending_[*listener]++;
  }
  std::vector<RepairedSocket> records;
  for (const Sock& s : found) records.push_back({s.pid, s.task_fd, s.inode, s.reuseaddr});
  if (!records.empty()) TRY(journal(records));
  for (Sock& s : found) {
    TRY_CTX(set_int(s.fd.get(), IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON, "TCP_REPAIR"), "{}", s.what);
    session.socks_.push_back(std::move(s));
  }
  TRY(session.read_settled());
  for (uint64_t ino : peer_closed) session.conns_[ino].set_peer_closed(true);
  return session;
}

// Reads every connection, then checks that none moved while they were read
// (every sequence number and queue length the same before and after): the
// image then holds one instant of all of them, consistent between the two
// ends of each. Else again, a little later.
Status TcpRepairSession::read_settled() {
  constexpr int kTries = 50;
  for (int attempt = 0; attempt < kTries; ++attempt) {
    std::vector<Fingerprint> before;
    for (const Sock& s : socks_) before.push_back(TRY_CTX(fingerprint(s.fd.get()), "{}", s.what));
    for (const Sock& s : socks_) conns_.erase(s.inode);
    bool moved = false;
    for (size_t i = 0; i < socks_.size() && !moved; ++i) {
      const Sock& s = socks_[i];
      auto c = files::read_tcp_connection(s.fd.get());
      if (!c) {
        // An ACK that frees the send queue between SIOCOUTQ and the peek
        // makes the peek short: read again if the connection moved.
        moved = !(TRY_CTX(fingerprint(s.fd.get()), "{}", s.what) == before[i]);
        if (!moved) return std::unexpected(std::move(c.error()).wrap(s.what));
        break;
      }
      c->set_reuseaddr(s.reuseaddr);
      conns_[s.inode] = std::move(*c);
    }
    for (size_t i = 0; i < socks_.size() && !moved; ++i)
      moved = !(TRY_CTX(fingerprint(socks_[i].fd.get()), "{}", socks_[i].what) == before[i]);
    if (!moved) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return failf("the container's TCP connections kept moving data while it was held ({} reads)", kTries);
}

Status TcpRepairSession::release() {
  Status first;
  for (Sock& s : socks_) {
    Status st = set_int(s.fd.get(), IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP, "TCP_REPAIR");
    if (st && s.reuseaddr) st = set_int(s.fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
    if (!st && first) first = context(std::move(st), s.what);
  }
  socks_.clear();
  return first;
}

Result<bool> leave_repair(pid_t pid, int fd, uint64_t inode, bool reuseaddr) {
  auto copy = files::socket_copy(pid, fd);
  if (!copy) return false;  // the task or its fd is gone
  struct stat st {};
  if (::fstat(copy->get(), &st) != 0 || st.st_ino != inode || !S_ISSOCK(st.st_mode)) return false;
  TRY(set_int(copy->get(), IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP, "TCP_REPAIR"));
  if (reuseaddr) TRY(set_int(copy->get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR"));
  return true;
}

Status reconnect_pending_tcp(const std::vector<std::pair<pid_t, const img::Files*>>& tasks) {
  std::set<uint64_t> done;
  for (const auto& [pid, files] : tasks) {
    for (const img::Fd& fd : files->fds()) {
      if (fd.kind() != img::FD_INET_SOCKET || !fd.inet().tcp().reconnect()) continue;
      if (fd.ofd_id() != 0 && !done.insert(fd.ofd_id()).second) continue;
      const img::InetSocket& s = fd.inet();
      const std::string what = fmt::format("fd {}: {}", fd.fd(), files::describe_inet(s));
      UniqueFd sock = TRY_CTX(files::socket_copy(pid, fd.fd()), "{}", what);
      files::SockAddr peer = files::make_sockaddr(s.family(), s.peer_addr(), s.peer_port(), s.peer_scope());
      if (::connect(sock.get(), peer.get(), peer.len) != 0) {
        if (errno != EINPROGRESS) return sys_fail("{}: connect again", what);
        // A non-blocking description: the handshake over lo takes microseconds.
        pollfd p{sock.get(), POLLOUT, 0};
        if (::poll(&p, 1, 5000) != 1) return failf("{}: connect again: no answer", what);
        int err = TRY(get_int(sock.get(), SOL_SOCKET, SO_ERROR, "SO_ERROR"));
        if (err != 0) return fail(Exit::Failed, fmt::format("{}: connect again: {}", what, std::strerror(err)), err);
      }
    }
  }
  return {};
}

Status finish_tcp_restore(const std::vector<std::pair<pid_t, const img::Files*>>& tasks) {
  std::set<uint64_t> done;
  std::vector<files::HalfClosed> half_closed;
  for (const auto& [pid, files] : tasks) {
    for (const img::Fd& fd : files->fds()) {
      if (fd.kind() != img::FD_INET_SOCKET || fd.inet().protocol() != IPPROTO_TCP ||
          !files::repaired_state(fd.inet().state()))
        continue;
      if (fd.inet().tcp().reconnect()) continue;
      if (fd.ofd_id() != 0 && !done.insert(fd.ofd_id()).second) continue;
      const img::TcpConnection& c = fd.inet().tcp();
      const std::string what = fmt::format("fd {}: {}", fd.fd(), files::describe_inet(fd.inet()));
      UniqueFd sock = TRY_CTX(files::socket_copy(pid, fd.fd()), "{}", what);
      // With a window probe: the peer learns the window at once.
      TRY_CTX(set_int(sock.get(), IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF, "TCP_REPAIR"), "{}", what);
      std::string_view rest = std::string_view(c.send_queue()).substr(c.send_queue().size() - c.unsent());
      // The queue written in repair mode may take more memory than it did
      // (other skb sizes): the unsent rest may not fit SO_SNDBUF any more.
      // It is raised while the rest goes in, then put back.
      const int sndbuf = TRY_CTX(get_int(sock.get(), SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF"), "{}", what);
      bool raised = false;
      while (!rest.empty()) {
        ssize_t w = ::send(sock.get(), rest.data(), rest.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && errno == EAGAIN && !raised) {
          raised = true;
          TRY_CTX(set_int(sock.get(), SOL_SOCKET, SO_SNDBUFFORCE, sndbuf + static_cast<int>(rest.size()) * 2,
                          "SO_SNDBUFFORCE"), "{}", what);
          continue;
        }
        if (w <= 0) return sys_fail("{}: send the {} bytes never sent", what, rest.size());
        rest.remove_prefix(static_cast<size_t>(w));
      }
      if (raised) TRY_CTX(set_int(sock.get(), SOL_SOCKET, SO_SNDBUFFORCE, sndbuf / 2, "SO_SNDBUFFORCE"), "{}", what);
      if (c.reuseaddr()) TRY_CTX(set_int(sock.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR"), "{}", what);
      if (fd.inet().state() != kTcpEstablished) half_closed.push_back({std::move(sock), &fd.inet(), what});
    }
  }
  return files::replay_fins(half_closed);
}

}  // namespace amber::kinds
