// Half-closed TCP connections: FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK
// and CLOSING, with both ends in the container.
//
// The kernel has no repair option for a FIN: the dump reads the connection
// in repair mode like an established one and leaves the FINs out of the
// sequence numbers (a FIN counts one in write_seq and rcv_nxt, and one in
// SIOCOUTQ / SIOCOUTQNSD while unacknowledged / unsent; no byte of the send
// queue is it). The restore makes the connection established, and once
// every end exists and has left repair mode (finish_tcp_restore) the ends
// that had sent a FIN shut their send side down again: the FINs go for real,
// after the data still queued, the peer acknowledges them, and both ends are
// in the states they were (measured on 6.18: ESTABLISHED pair, then
// shutdown(SHUT_WR) of one end gives FIN_WAIT2 / CLOSE_WAIT with the right
// sequence numbers). CRIU makes the received FIN with a forged packet
// instead; with both ends restored the real one needs no raw socket.
// A CLOSE_WAIT whose peer's process closed it (no task holds the peer: an
// orphan in FIN_WAIT2, or gone since) gets the FIN from a stand-in bound to
// the peer's address, made in repair mode to match, which is then closed:
// an orphan again (measured on 6.18: a socket still in repair mode takes the
// FIN, acknowledges it, and a later send of it is reset by the orphan as
// the first orphan would). Other half-closed states whose peer no task
// holds are refused before the dump (tcp_repair.cpp).
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "base/files.h"

#include "kinds/files/inet_socket_impl.h"

namespace amber::kinds::files {

bool fin_sent(uint32_t state) {
  return state == kTcpFinWait1 || state == kTcpFinWait2 || state == kTcpClosing || state == kTcpLastAck;
}

bool fin_received(uint32_t state) {
  return state == kTcpCloseWait || state == kTcpClosing || state == kTcpLastAck;
}

bool repaired_state(uint32_t state) { return state == kTcpEstablished || fin_sent(state) || fin_received(state); }

namespace {

// Waits until the socket's receive side is shut down by the peer's FIN.
bool wait_fin(int fd, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    pollfd p{fd, POLLRDHUP, 0};
    if (::poll(&p, 1, 0) == 1 && (p.revents & POLLRDHUP)) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

bool wait_state(int fd, uint32_t state, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto ti = read_tcp_info(fd);
    if (ti && ti->tcpi_state == state) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace

Status replay_fins(std::vector<HalfClosed>& conns) {
  constexpr std::chrono::milliseconds kLimit{3000};
  // First the FINs sent before the peer's came (FIN_WAIT*, CLOSING: both at
  // once), then those sent after it (LAST_ACK: CLOSE_WAIT, then closed).
  for (HalfClosed& c : conns) {
    const uint32_t st = c.s->state();
    if (st == kTcpFinWait1 || st == kTcpFinWait2 || st == kTcpClosing)
      if (::shutdown(c.sock.get(), SHUT_WR) != 0) return sys_fail("{}: shutdown(SHUT_WR) again", c.what);
  }
  for (HalfClosed& c : conns) {
    if (c.s->state() != kTcpLastAck) continue;
    if (!wait_fin(c.sock.get(), kLimit)) return failf("{}: its peer's FIN did not come again", c.what);
    if (::shutdown(c.sock.get(), SHUT_WR) != 0) return sys_fail("{}: shutdown(SHUT_WR) again", c.what);
  }
  for (HalfClosed& c : conns)
    if (fin_received(c.s->state()) && !wait_fin(c.sock.get(), kLimit))
      return failf("{}: its peer's FIN did not come again", c.what);
  // A FIN that had been acknowledged is again before the tasks run (the
  // ACK may wait for a softirq under load).
  for (HalfClosed& c : conns)
    if (c.s->state() == kTcpFinWait2 && !wait_state(c.sock.get(), kTcpFinWait2, kLimit))
      return failf("{}: its FIN was not acknowledged again", c.what);
  return {};
}

}  // namespace amber::kinds::files

namespace amber::kinds::files {

namespace {

// An address as /proc/net/tcp* prints it: each 32-bit word of it in the
// machine's order, in hex.
std::string proc_hex(const std::string& addr) {
  std::string out;
  for (size_t i = 0; i + 4 <= addr.size(); i += 4) {
    uint32_t w;
    std::memcpy(&w, addr.data() + i, 4);
    out += fmt::format("{:08X}", w);
  }
  return out;
}

std::string mapped(const std::string& v4) { return std::string(10, '\0') + std::string("\xff\xff", 2) + v4; }

bool loopback(const std::string& a) {
  if (a.size() == 4) return static_cast<unsigned char>(a[0]) == 127;
  return a == std::string(15, '\0') + '\1';
}

}  // namespace

bool peer_was_local(pid_t pid, const std::string& local, uint32_t local_port, const std::string& peer,
                    uint32_t peer_port) {
  if (loopback(peer)) return true;
  // The peer's own entry: its local address is our peer, its remote ours.
  auto look = [&](const char* table, const std::string& me, const std::string& them) {
    auto text = read_file(fmt::format("/proc/{}/net/{}", pid, table));
    if (!text) return false;
    const std::string want = fmt::format(" {}:{:04X} {}:{:04X} ", proc_hex(them), peer_port, proc_hex(me), local_port);
    return text->find(want) != std::string::npos;
  };
  if (local.size() == 4 && peer.size() == 4) return look("tcp", local, peer) || look("tcp6", mapped(local), mapped(peer));
  return look("tcp6", local, peer);
}

Status stand_in_fin(int fd, const img::InetSocket& s) {
  const img::TcpConnection& c = s.tcp();
  int raw = ::socket(s.family(), SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (raw < 0) return sys_fail("the closed peer's stand-in: socket");
  UniqueFd y(raw);
  auto set = [&](int level, int name, int v, const char* text) -> Status {
    if (::setsockopt(y.get(), level, name, &v, sizeof v) != 0) return sys_fail("stand-in: setsockopt {}", text);
    return {};
  };
  // Its stream goes on where ours stopped reading (the FIN comes there); it
  // has had everything we sent before what is still unacknowledged.
  const uint32_t y_send = c.recv_seq();
  const uint32_t y_recv = c.send_seq() - static_cast<uint32_t>(c.send_queue().size());
  TRY(set(IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON, "TCP_REPAIR"));
  TRY(set(IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "TCP_REPAIR_QUEUE"));
  TRY(set(IPPROTO_TCP, TCP_QUEUE_SEQ, static_cast<int>(y_send), "TCP_QUEUE_SEQ"));
  TRY(set(IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, "TCP_REPAIR_QUEUE"));
  TRY(set(IPPROTO_TCP, TCP_QUEUE_SEQ, static_cast<int>(y_recv), "TCP_QUEUE_SEQ"));
  TRY(set(IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_NO_QUEUE, "TCP_REPAIR_QUEUE"));
  SockAddr peer = make_sockaddr(s.family(), s.peer_addr(), s.peer_port(), s.peer_scope());
  if (::bind(y.get(), peer.get(), peer.len) != 0) return sys_fail("stand-in: bind to the closed peer's address");
  SockAddr local = make_sockaddr(s.family(), s.local_addr(), s.local_port(), s.local_scope());
  if (::connect(y.get(), local.get(), local.len) != 0) return sys_fail("stand-in: connect in repair mode");
  std::vector<tcp_repair_opt> opts;
  opts.push_back({TCPOPT_MAXSEG, c.mss()});
  if (c.wscale()) opts.push_back({TCPOPT_WINDOW, c.rcv_wscale() | (c.snd_wscale() << 16)});
  if (c.timestamps()) opts.push_back({TCPOPT_TIMESTAMP, 0});
  if (c.sack()) opts.push_back({TCPOPT_SACK_PERMITTED, 0});
  if (::setsockopt(y.get(), IPPROTO_TCP, TCP_REPAIR_OPTIONS, opts.data(),
                   static_cast<socklen_t>(opts.size() * sizeof(tcp_repair_opt))) != 0)
    return sys_fail("stand-in: TCP_REPAIR_OPTIONS");
  // Our window as it sees it, and its as we saw it.
  tcp_repair_window w{y_recv, c.rcv_wnd(), std::max(c.rcv_wnd(), c.max_window()), c.snd_wnd(), y_recv};
  if (::setsockopt(y.get(), IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof w) != 0)
    return sys_fail("stand-in: TCP_REPAIR_WINDOW");
  TRY(set(IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP, "TCP_REPAIR"));
  if (::shutdown(y.get(), SHUT_WR) != 0) return sys_fail("stand-in: shutdown(SHUT_WR)");
  if (!wait_fin(fd, std::chrono::milliseconds(3000))) return failf("the closed peer's FIN did not come again");
  return {};  // closed: an orphan now, as the peer was
}

}  // namespace amber::kinds::files
