// Workload: the TCP states a server sees besides established, and socket
// options, over 127.0.0.1 and ::1 inside the container. Prints
// "tcp_states: READY"; on SIGUSR1 checks each connection's state
// (TCP_INFO) and what its program sees next, prints "tcp_states: OK"
// (exit 0) or "tcp_states: FAIL <what>" (exit 1).
//  1. IPv4: the client sent "req1" and shut its send side down: the server
//     end is CLOSE_WAIT with "req1" unread, the client FIN_WAIT2. The server
//     reads "req1" and end of file, answers "resp1" and closes its side.
//  2. IPv4: the server sent "bye2" and shut down: server FIN_WAIT2, client
//     CLOSE_WAIT with "bye2" unread; the client reads it, end of file, and
//     still sends "after2", which the server reads.
//  3. IPv6: the server filled both windows and shut down: FIN_WAIT1, its FIN
//     behind data never sent; the client reads every byte (checked by
//     position), then end of file.
//  4. IPv4: the client sent "req4" and closed its socket (an orphan in
//     FIN_WAIT2 now): the server end is CLOSE_WAIT with no peer in any
//     task; it reads "req4", end of file, and what it sends next is reset.
//  5. Options read back as they were: SO_REUSEADDR, SO_REUSEPORT,
//     SO_RCVBUF, SO_SNDBUF, SO_KEEPALIVE with TCP_KEEPIDLE/INTVL/CNT,
//     TCP_NODELAY, IP_TOS, IPV6_TCLASS, IPV6_V6ONLY on listeners, the
//     half-closed connections and UDP sockets (IPv4 and IPv6, bound and
//     connected, with a datagram queued each).
// `tcp_states closed`: instead, a connection closed both ways whose server
// socket is still open (CLOSE after FIN both ways): refused by the dump.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char* step = "setup";

static void fail(const char* what) {
  printf("tcp_states: FAIL %s: %s (errno %d %s)\n", step, what, errno, strerror(errno));
  fflush(stdout);
  _exit(1);
}

static unsigned char pat(size_t i) { return (unsigned char)(i * 7 + i / 253 + 11); }

static int state(int fd) {
  struct tcp_info ti;
  socklen_t l = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l)) fail("TCP_INFO");
  return ti.tcpi_state;
}

static void want_state(int fd, int want, const char* what) {
  if (state(fd) != want) {
    printf("tcp_states: %s: state %d, want %d\n", what, state(fd), want);
    fail("state");
  }
}

static void settle(void) { usleep(100 * 1000); }

// Writes the pattern on until the socket would block.
static void fill(int fd, size_t* sent) {
  unsigned char buf[8192];
  for (;;) {
    for (size_t i = 0; i < sizeof buf; ++i) buf[i] = pat(*sent + i);
    ssize_t w = send(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (w < 0 && errno == EAGAIN) return;
    if (w <= 0) fail("fill");
    *sent += (size_t)w;
  }
}

// Server and client of connections 1 to 4. `restored`: the IPv6 server
// may have sent everything and its FIN by now (FIN_WAIT2): the restored
// client's receive memory is accounted anew and its window may open a
// little (dump_tcp_states failed so once).
static void check_states(const int* fds, int restored) {
  want_state(fds[0], TCP_CLOSE_WAIT, "server 1");
  want_state(fds[1], TCP_FIN_WAIT2, "client 1");
  want_state(fds[2], TCP_FIN_WAIT2, "server 2");
  want_state(fds[3], TCP_CLOSE_WAIT, "client 2");
  if (!restored || state(fds[4]) != TCP_FIN_WAIT2) want_state(fds[4], TCP_FIN_WAIT1, "server 3");
  want_state(fds[5], TCP_ESTABLISHED, "client 3");
  want_state(fds[6], TCP_CLOSE_WAIT, "server 4");
}

static int opt(int fd, int level, int name) {
  int v = 0;
  socklen_t l = sizeof v;
  if (getsockopt(fd, level, name, &v, &l)) fail("getsockopt");
  return v;
}

static void set(int fd, int level, int name, int v) {
  if (setsockopt(fd, level, name, &v, sizeof v)) fail("setsockopt");
}

static int listener4(int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int l = socket(AF_INET, SOCK_STREAM, 0);
  set(l, SOL_SOCKET, SO_REUSEADDR, 1);
  set(l, SOL_SOCKET, SO_REUSEPORT, 1);
  if (bind(l, (struct sockaddr*)&a, sizeof a) || listen(l, 8)) fail("listen v4");
  return l;
}

static int listener6(int port) {
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  int l = socket(AF_INET6, SOCK_STREAM, 0);
  set(l, IPPROTO_IPV6, IPV6_V6ONLY, 1);
  if (bind(l, (struct sockaddr*)&a, sizeof a) || listen(l, 8)) fail("listen v6");
  return l;
}

static void connect_pair(int l, int family, int port, int* client, int* server) {
  *client = socket(family, SOCK_STREAM, 0);
  int r;
  if (family == AF_INET) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    r = connect(*client, (struct sockaddr*)&a, sizeof a);
  } else {
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    r = connect(*client, (struct sockaddr*)&a, sizeof a);
  }
  if (r) fail("connect");
  *server = accept(l, NULL, NULL);
  if (*server < 0) fail("accept");
}

static void expect(int fd, const char* want) {
  char buf[64] = {0};
  struct pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, 5000) != 1) fail("nothing to read");
  ssize_t n = recv(fd, buf, strlen(want), MSG_DONTWAIT);
  if (n != (ssize_t)strlen(want) || memcmp(buf, want, strlen(want))) {
    printf("tcp_states: read '%s' (%zd), want '%s'\n", buf, n, want);
    fail("read");
  }
}

static void expect_eof(int fd) {
  char c;
  struct pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, 5000) != 1 || recv(fd, &c, 1, MSG_DONTWAIT) != 0) fail("end of file");
}

// Options recorded before the dump, compared after.
#define NOPTS 32
static struct {
  int fd, level, name, value;
} opts[NOPTS];
static int nopts;

static void record(int fd, int level, int name) {
  if (nopts == NOPTS) fail("too many options");
  opts[nopts].fd = fd;
  opts[nopts].level = level;
  opts[nopts].name = name;
  opts[nopts].value = opt(fd, level, name);
  nopts++;
}

static int udp(int family, int port, int peer_port) {
  int s = socket(family, SOCK_DGRAM, 0);
  set(s, SOL_SOCKET, SO_REUSEADDR, 1);
  set(s, SOL_SOCKET, SO_REUSEPORT, 1);
  set(s, SOL_SOCKET, SO_RCVBUF, 300000);
  if (family == AF_INET) {
    set(s, IPPROTO_IP, IP_TOS, 0x28);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(s, (struct sockaddr*)&a, sizeof a)) fail("bind udp");
    a.sin_port = htons(peer_port);
    if (peer_port && connect(s, (struct sockaddr*)&a, sizeof a)) fail("connect udp");
  } else {
    set(s, IPPROTO_IPV6, IPV6_V6ONLY, 1);
    set(s, IPPROTO_IPV6, IPV6_TCLASS, 0x48);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    if (bind(s, (struct sockaddr*)&a, sizeof a)) fail("bind udp6");
    a.sin6_port = htons(peer_port);
    if (peer_port && connect(s, (struct sockaddr*)&a, sizeof a)) fail("connect udp6");
  }
  return s;
}

static void closed_mode(sigset_t* set_) {
  int l = listener4(7310), c, s;
  connect_pair(l, AF_INET, 7310, &c, &s);
  if (shutdown(c, SHUT_WR)) fail("client shutdown");
  settle();
  expect_eof(s);
  if (shutdown(s, SHUT_WR)) fail("server shutdown");
  settle();
  want_state(s, TCP_CLOSE, "server closed both ways");
  printf("tcp_states: READY\n");
  int sig;
  sigwait(set_, &sig);
  printf("tcp_states: OK\n");
  exit(0);
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGUSR1);
  sigprocmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);
  if (argc > 1 && !strcmp(argv[1], "closed")) closed_mode(&sigs);

  int l4 = listener4(7300), l6 = listener6(7301);
  record(l4, SOL_SOCKET, SO_REUSEADDR);
  record(l4, SOL_SOCKET, SO_REUSEPORT);
  record(l6, IPPROTO_IPV6, IPV6_V6ONLY);

  // 1. client half-closed: server CLOSE_WAIT
  int c1, s1;
  connect_pair(l4, AF_INET, 7300, &c1, &s1);
  set(s1, SOL_SOCKET, SO_KEEPALIVE, 1);
  set(s1, IPPROTO_TCP, TCP_KEEPIDLE, 77);
  set(s1, IPPROTO_TCP, TCP_KEEPINTVL, 13);
  set(s1, IPPROTO_TCP, TCP_KEEPCNT, 4);
  set(s1, IPPROTO_TCP, TCP_NODELAY, 1);
  set(s1, IPPROTO_IP, IP_TOS, 0x10);
  record(s1, SOL_SOCKET, SO_KEEPALIVE);
  record(s1, IPPROTO_TCP, TCP_KEEPIDLE);
  record(s1, IPPROTO_TCP, TCP_KEEPINTVL);
  record(s1, IPPROTO_TCP, TCP_KEEPCNT);
  record(s1, IPPROTO_TCP, TCP_NODELAY);
  record(s1, IPPROTO_IP, IP_TOS);
  if (send(c1, "req1", 4, 0) != 4 || shutdown(c1, SHUT_WR)) fail("client 1");
  // 2. server half-closed: client CLOSE_WAIT
  int c2, s2;
  connect_pair(l4, AF_INET, 7300, &c2, &s2);
  set(c2, SOL_SOCKET, SO_RCVBUF, 200000);
  set(c2, SOL_SOCKET, SO_SNDBUF, 150000);
  record(c2, SOL_SOCKET, SO_RCVBUF);
  record(c2, SOL_SOCKET, SO_SNDBUF);
  if (send(s2, "bye2", 4, 0) != 4 || shutdown(s2, SHUT_WR)) fail("server 2");
  // 3. IPv6, FIN_WAIT1 behind unsent data
  int c3, s3;
  connect_pair(l6, AF_INET6, 7301, &c3, &s3);
  set(s3, IPPROTO_IPV6, IPV6_TCLASS, 0x20);
  record(s3, IPPROTO_IPV6, IPV6_TCLASS);
  size_t sent3 = 0;
  fill(s3, &sent3);
  settle();
  fill(s3, &sent3);  // the window closed: more data waits unsent in the queue
  if (shutdown(s3, SHUT_WR)) fail("server 3");
  // 4. client closed
  int c4, s4;
  connect_pair(l4, AF_INET, 7300, &c4, &s4);
  if (send(c4, "req4", 4, 0) != 4 || close(c4)) fail("client 4");
  // UDP, bound and connected, a datagram queued at each.
  int u4a = udp(AF_INET, 7400, 0), u4b = udp(AF_INET, 7401, 7400);
  int u6a = udp(AF_INET6, 7402, 0), u6b = udp(AF_INET6, 7403, 7402);
  if (send(u4b, "udp4", 4, 0) != 4 || send(u6b, "udp6", 4, 0) != 4) fail("udp send");
  {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(7401), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (sendto(u4a, "back4", 5, 0, (struct sockaddr*)&a, sizeof a) != 5) fail("udp back");
  }
  int udps[4] = {u4a, u4b, u6a, u6b};
  for (int i = 0; i < 4; ++i) {
    record(udps[i], SOL_SOCKET, SO_REUSEADDR);
    record(udps[i], SOL_SOCKET, SO_REUSEPORT);
    record(udps[i], SOL_SOCKET, SO_RCVBUF);
    record(udps[i], i < 2 ? IPPROTO_IP : IPPROTO_IPV6, i < 2 ? IP_TOS : IPV6_TCLASS);
  }
  record(u6a, IPPROTO_IPV6, IPV6_V6ONLY);
  settle();
  step = "before the dump";
  int conns[7] = {s1, c1, s2, c2, s3, c3, s4};
  check_states(conns, 0);

  printf("tcp_states: READY (%zu bytes on the IPv6 connection)\n", sent3);
  int sig;
  sigwait(&sigs, &sig);

  step = "states";
  check_states(conns, 1);
  step = "options";
  for (int i = 0; i < nopts; ++i)
    if (opt(opts[i].fd, opts[i].level, opts[i].name) != opts[i].value) {
      printf("tcp_states: fd %d option %d/%d: %d, was %d\n", opts[i].fd, opts[i].level, opts[i].name,
             opt(opts[i].fd, opts[i].level, opts[i].name), opts[i].value);
      fail("option");
    }
  step = "connection 1";
  expect(s1, "req1");
  expect_eof(s1);
  if (send(s1, "resp1", 5, 0) != 5) fail("resp1");
  expect(c1, "resp1");
  if (shutdown(s1, SHUT_WR)) fail("close 1");
  expect_eof(c1);
  step = "connection 2";
  expect(c2, "bye2");
  expect_eof(c2);
  if (send(c2, "after2", 6, 0) != 6) fail("after2");
  expect(s2, "after2");
  step = "connection 3";
  {
    unsigned char buf[16384];
    size_t got = 0;
    while (got < sent3) {
      struct pollfd p = {c3, POLLIN, 0};
      if (poll(&p, 1, 5000) != 1) fail("data missing");
      ssize_t n = recv(c3, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) fail("recv");
      for (ssize_t i = 0; i < n; ++i)
        if (buf[i] != pat(got + (size_t)i)) fail("data");
      got += (size_t)n;
    }
    expect_eof(c3);
    settle();
    want_state(s3, TCP_FIN_WAIT2, "server 3 once all was read");
  }
  step = "connection 4";
  expect(s4, "req4");
  expect_eof(s4);
  {
    int reset = 0;
    for (int i = 0; i < 50 && !reset; ++i) {
      if (send(s4, "x", 1, MSG_NOSIGNAL) < 0) reset = errno == EPIPE || errno == ECONNRESET;
      usleep(10 * 1000);
    }
    if (!reset) fail("what is sent to a closed peer is not reset");
  }
  step = "udp";
  expect(u4a, "udp4");
  expect(u6a, "udp6");
  expect(u4b, "back4");
  if (send(u6b, "again", 5, 0) != 5) fail("udp6 still connected");
  expect(u6a, "again");

  printf("tcp_states: OK\n");
  return 0;
}
