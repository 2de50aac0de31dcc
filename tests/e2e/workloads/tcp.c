// Workload: TCP and UDP over 127.0.0.1 and ::1 between two processes of the
// container, with data in flight both ways at the dump. The init (server)
// listens on 127.0.0.1:7000 and [::1]:7001 (IPV6_V6ONLY) and accepts one
// connection on each from its child (client). Over IPv4 each side writes
// until its socket would block and reads nothing: full receive windows and
// unsent data both ways. Over IPv6 each side writes 3000/5000 bytes unread.
// UDP: 127.0.0.1:7100 (server) and 7101 (client, connected to 7100) with two
// datagrams queued at the server and one at the client; [::1]:7200/7201 with
// one. Options: TCP_NODELAY and IP_TOS on the client, keepalive timers on the
// server's connection, SO_SNDBUF on the IPv6 one. A dual-stack listener on
// [::]:7003 has accepted an IPv4 client (v4-mapped addresses), 2000/1000
// bytes unread. One more IPv4 connection is shut down for reading by the
// client (shutdown(SHUT_RD): end of file at once after the restore). "tcp: READY". On SIGUSR1
// (init, forwarded to the child) every stream runs to its end, each byte
// checked by position (lost, doubled or reordered bytes fail), the datagrams
// are read and answered, a new connection is accepted on the listener:
// "tcp: OK" (exit 0) or "tcp: FAIL <what>" (exit 1).
// A listener on 7002 has a connection from the client not accepted yet
// (accepted after the restore, then "hi"/"ho" both ways). `tcp pending-data`:
// the client has sent "x" on it before the dump (which refuses that).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define V4_TOTAL (4u << 20)
#define V6_TOTAL (64u << 10)

static const char* who = "server";

static void fail(const char* what) {
  printf("tcp: FAIL %s: %s (errno %d)\n", who, what, errno);
  fflush(stdout);
  _exit(1);
}

static unsigned char pat(unsigned seed, size_t i) { return (unsigned char)(i * 131 + i / 251 + seed); }

struct stream {
  int fd;
  unsigned send_seed, recv_seed;
  size_t send_total, sent, recv_total, received;
};

// Writes the pattern until the socket would block.
static void fill(struct stream* s, size_t limit) {
  unsigned char buf[16384];
  while (s->sent < limit) {
    size_t n = limit - s->sent < sizeof buf ? limit - s->sent : sizeof buf;
    for (size_t i = 0; i < n; ++i) buf[i] = pat(s->send_seed, s->sent + i);
    ssize_t w = send(s->fd, buf, n, MSG_DONTWAIT);
    if (w < 0 && errno == EAGAIN) return;
    if (w <= 0) fail("send");
    s->sent += (size_t)w;
  }
}

// Every stream to its end, both ways, bytes checked.
static void pump(struct stream* ss, int n) {
  for (;;) {
    struct pollfd p[8];
    int live = 0;
    for (int i = 0; i < n; ++i) {
      p[i].fd = ss[i].fd;
      p[i].events = (ss[i].sent < ss[i].send_total ? POLLOUT : 0) | (ss[i].received < ss[i].recv_total ? POLLIN : 0);
      p[i].revents = 0;
      if (p[i].events) live++;
    }
    if (!live) return;
    int r = poll(p, (nfds_t)n, 10000);
    if (r <= 0) fail("poll: a stream stalled");
    for (int i = 0; i < n; ++i) {
      struct stream* s = &ss[i];
      if (p[i].revents & POLLOUT) fill(s, s->send_total);
      if (p[i].revents & POLLIN) {
        unsigned char buf[16384];
        ssize_t got = recv(s->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (got == 0) fail("end of stream too early");
        if (got < 0 && errno != EAGAIN) fail("recv");
        for (ssize_t k = 0; k < got; ++k)
          if (buf[k] != pat(s->recv_seed, s->received + (size_t)k)) {
            printf("tcp: %s: byte %zu of stream %d wrong\n", who, s->received + (size_t)k, i);
            fail("data");
          }
        if (got > 0) s->received += (size_t)got;
        if (s->received > s->recv_total) fail("too many bytes");
      } else if (p[i].revents & (POLLERR | POLLHUP)) {
        fail("connection error");
      }
    }
  }
}

static struct sockaddr_in v4(int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}
static struct sockaddr_in6 v6(int port) {
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
  a.sin6_addr = in6addr_loopback;
  return a;
}

static int listener(int family, int port) {
  int s = socket(family, SOCK_STREAM, 0), one = 1;
  if (s < 0) fail("socket");
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (family == AF_INET6 && port != 7003) setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  struct sockaddr_in a4 = v4(port);
  struct sockaddr_in6 a6 = v6(port);
  if (port == 7003) a6.sin6_addr = in6addr_any;  // dual stack: IPv4 clients too
  if (family == AF_INET ? bind(s, (void*)&a4, sizeof a4) : bind(s, (void*)&a6, sizeof a6)) fail("bind listener");
  if (listen(s, 8)) fail("listen");
  return s;
}

static int connect_to(int family, int port) {
  int s = socket(family, SOCK_STREAM, 0);
  struct sockaddr_in a4 = v4(port);
  struct sockaddr_in6 a6 = v6(port);
  if (s < 0 || (family == AF_INET ? connect(s, (void*)&a4, sizeof a4) : connect(s, (void*)&a6, sizeof a6)))
    fail("connect");
  return s;
}

static int udp(int family, int port, int peer) {
  int s = socket(family, SOCK_DGRAM, 0);
  struct sockaddr_in a4 = v4(port), p4 = v4(peer);
  struct sockaddr_in6 a6 = v6(port), p6 = v6(peer);
  if (s < 0 || (family == AF_INET ? bind(s, (void*)&a4, sizeof a4) : bind(s, (void*)&a6, sizeof a6))) fail("udp bind");
  if (peer && (family == AF_INET ? connect(s, (void*)&p4, sizeof p4) : connect(s, (void*)&p6, sizeof p6)))
    fail("udp connect");
  return s;
}

static void send_to(int s, int family, int port, const char* msg) {
  struct sockaddr_in a4 = v4(port);
  struct sockaddr_in6 a6 = v6(port);
  ssize_t w = family == AF_INET ? sendto(s, msg, strlen(msg), 0, (void*)&a4, sizeof a4)
                                : sendto(s, msg, strlen(msg), 0, (void*)&a6, sizeof a6);
  if (w != (ssize_t)strlen(msg)) fail("sendto");
}

// The next datagram is `want`, from port `from` (0: any).
static void expect_dgram(int s, const char* want, int from) {
  char buf[256] = {0};
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  struct pollfd p = {s, POLLIN, 0};
  if (poll(&p, 1, 5000) != 1) fail("no datagram");
  ssize_t n = recvfrom(s, buf, sizeof buf - 1, 0, (void*)&ss, &len);
  int port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in*)&ss)->sin_port)
                                     : ntohs(((struct sockaddr_in6*)&ss)->sin6_port);
  if (n != (ssize_t)strlen(want) || memcmp(buf, want, (size_t)n) || (from && port != from)) {
    printf("tcp: %s: datagram '%s' from %d, want '%s' from %d\n", who, buf, port, want, from);
    fail("datagram");
  }
}

static int getint(int s, int level, int name) {
  int v = -1;
  socklen_t len = sizeof v;
  getsockopt(s, level, name, &v, &len);
  return v;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int pending_data = argc > 1 && strcmp(argv[1], "pending-data") == 0;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int l4 = listener(AF_INET, 7000), l6 = listener(AF_INET6, 7001), l46 = listener(AF_INET6, 7003);
  int lp = listener(AF_INET, 7002);
  int u4 = udp(AF_INET, 7100, 0), u6 = udp(AF_INET6, 7200, 0);
  pid_t child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    who = "client";
    close(l4), close(l6), close(l46), close(lp), close(u4), close(u6);
    int c4 = connect_to(AF_INET, 7000), c6 = connect_to(AF_INET6, 7001), c46 = connect_to(AF_INET, 7003), one = 1,
        tos = 0x10;
    int pc = connect_to(AF_INET, 7002);  // not accepted before the dump
    if (pending_data && send(pc, "x", 1, 0) != 1) fail("send on the pending connection");
    int rd = connect_to(AF_INET, 7000);  // shut down for reading, then unused
    if (shutdown(rd, SHUT_RD)) fail("shutdown");
    setsockopt(c4, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c4, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
    int cu4 = udp(AF_INET, 7101, 7100), cu6 = udp(AF_INET6, 7201, 7200);
    if (send(cu4, "first", 5, 0) != 5 || send(cu4, "second", 6, 0) != 6 || send(cu6, "six", 3, 0) != 3) fail("udp send");
    struct stream ss[3] = {{c4, 1, 2, V4_TOTAL, 0, V4_TOTAL, 0},
                           {c6, 3, 4, V6_TOTAL, 0, V6_TOTAL, 0},
                           {c46, 5, 6, V6_TOTAL, 0, V6_TOTAL, 0}};
    fill(&ss[0], V4_TOTAL);
    fill(&ss[1], 3000);
    fill(&ss[2], 2000);
    int sig;
    sigwait(&set, &sig);
    if (getint(c4, IPPROTO_TCP, TCP_NODELAY) != 1 || getint(c4, IPPROTO_IP, IP_TOS) != 0x10) fail("options");
    struct pollfd rdp = {rd, POLLRDHUP, 0};
    char c;
    if (poll(&rdp, 1, 0) != 1 || !(rdp.revents & POLLRDHUP) || recv(rd, &c, 1, MSG_DONTWAIT) != 0) fail("SHUT_RD");
    pump(ss, 3);
    expect_dgram(cu4, "reply", 7100);
    if (send(cu4, "ping", 4, 0) != 4) fail("udp ping");
    expect_dgram(cu4, "pong", 7100);
    expect_dgram(cu6, "six-reply", 7200);
    char ho[2];
    if (send(pc, "hi", 2, 0) != 2 || recv(pc, ho, 2, MSG_WAITALL) != 2 || memcmp(ho, "ho", 2))
      fail("the connection accepted after the restore");
    int again = connect_to(AF_INET, 7000);
    if (send(again, "hello", 5, 0) != 5) fail("send on a new connection");
    close(again);
    _exit(0);
  }
  int s4 = accept(l4, NULL, NULL), s6 = accept(l6, NULL, NULL), s46 = accept(l46, NULL, NULL), one = 1, idle = 77, intvl = 13, cnt = 4,
      sndbuf = 65536;
  int s_rd = accept(l4, NULL, NULL);
  if (s4 < 0 || s6 < 0 || s46 < 0 || s_rd < 0) fail("accept");
  setsockopt(s4, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  setsockopt(s4, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(s4, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
  setsockopt(s4, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
  setsockopt(s6, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  struct stream ss[3] = {{s4, 2, 1, V4_TOTAL, 0, V4_TOTAL, 0},
                         {s6, 4, 3, V6_TOTAL, 0, V6_TOTAL, 0},
                         {s46, 6, 5, V6_TOTAL, 0, V6_TOTAL, 0}};
  fill(&ss[0], V4_TOTAL);
  fill(&ss[1], 5000);
  fill(&ss[2], 1000);
  // The client's datagrams are there: its sockets exist to take ours.
  struct pollfd up[2] = {{u4, POLLIN, 0}, {u6, POLLIN, 0}};
  if (poll(&up[0], 1, 5000) != 1 || poll(&up[1], 1, 5000) != 1) fail("client datagrams");
  send_to(u4, AF_INET, 7101, "reply");
  send_to(u6, AF_INET6, 7201, "six-reply");
  usleep(300000);
  printf("tcp: READY child=%d sent4=%zu\n", child, ss[0].sent);
  int sig;
  sigwait(&set, &sig);
  kill(child, SIGUSR1);
  if (getint(s4, SOL_SOCKET, SO_KEEPALIVE) != 1 || getint(s4, IPPROTO_TCP, TCP_KEEPIDLE) != 77 ||
      getint(s4, IPPROTO_TCP, TCP_KEEPINTVL) != 13 || getint(s4, IPPROTO_TCP, TCP_KEEPCNT) != 4)
    fail("keepalive options");
  if (getint(l6, IPPROTO_IPV6, IPV6_V6ONLY) != 1 || getint(l4, SOL_SOCKET, SO_REUSEADDR) != 1) fail("listener options");
  pump(ss, 3);
  expect_dgram(u4, "first", 7101);
  expect_dgram(u4, "second", 7101);
  expect_dgram(u4, "ping", 7101);
  send_to(u4, AF_INET, 7101, "pong");
  expect_dgram(u6, "six", 7201);
  int ap = accept(lp, NULL, NULL);
  const char* want = pending_data ? "xhi" : "hi";
  char got[4] = {0};
  if (ap < 0 || recv(ap, got, strlen(want), MSG_WAITALL) != (ssize_t)strlen(want) || strcmp(got, want) ||
      send(ap, "ho", 2, 0) != 2)
    fail("the pending connection");
  int a = accept(l4, NULL, NULL);
  char buf[8] = {0};
  if (a < 0 || recv(a, buf, 5, MSG_WAITALL) != 5 || memcmp(buf, "hello", 5)) fail("new connection");
  int st;
  if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st)) fail("client failed");
  printf("tcp: OK\n");
  return 0;
}
