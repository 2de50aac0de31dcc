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
// A FIN of an end that is no socket of the container (the peer closed its
// fd: an orphan) is refused before the dump (tcp_repair.cpp).
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>

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
  return {};
}

}  // namespace amber::kinds::files
