// Workload: unix socket pairs with 1 MiB queued each way, and the socket
// states and options around them. Prints "unix_big: READY"; on SIGUSR1
// reads everything back, checks each byte by position and each message's
// length, and prints "unix_big: OK" (exit 0) or "unix_big: FAIL <what>".
//  - stream, datagram and seqpacket socketpairs, 1 MiB queued in each
//    direction (datagram and seqpacket: messages of varied sizes, a datagram
//    of no bytes among them); buffers raised (SO_SNDBUFFORCE when allowed,
//    else SO_SNDBUF up to net.core.wmem_max);
//  - the seqpacket pair's receiving end in a child process;
//  - shutdown states: a stream end shut for reading with data queued, a
//    seqpacket end shut both ways with messages queued, a datagram pair with
//    one end shut for writing;
//  - options: SO_PEEK_OFF in the middle of a queue, SO_PASSRIGHTS off,
//    SO_RCVTIMEO/SO_SNDTIMEO, SO_PASSCRED on a socket with nothing queued.
//  `unix_big pending-data`: instead, a listener with two connections not
//  accepted yet, the clients having sent data on them (refused by the dump).
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif

#define TOTAL (1u << 20)

static const char* step = "setup";

static void fail(const char* what) {
  printf("unix_big: FAIL %s: %s (errno %d %s)\n", step, what, errno, strerror(errno));
  fflush(stdout);
  _exit(1);
}

static unsigned char pat(unsigned seed, size_t i) { return (unsigned char)(i * 131 + i / 251 + seed); }

static int getint(int fd, int opt) {
  int v = 0;
  socklen_t l = sizeof v;
  if (getsockopt(fd, SOL_SOCKET, opt, &v, &l)) fail("getsockopt");
  return v;
}

// Room for 1 MiB and its per-message overhead on the sending side.
static void raise_buffers(int fd) {
  int want = 8 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) != 0) {
    want = 4 << 20;  // without CAP_NET_ADMIN: up to net.core.wmem_max
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want)) fail("SO_SNDBUF");
  }
  want = 4 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want))
    fail("SO_RCVBUF");
}

// Message sizes: varied, summing to TOTAL exactly (the last one takes the rest).
static size_t msg_size(unsigned k, size_t left, int allow_empty) {
  static const size_t sizes[] = {1, 7, 4096, 65000, 0, 12345, 100000, 333, 70000, 2};
  size_t s = sizes[k % (sizeof sizes / sizeof *sizes)];
  if (s == 0 && !allow_empty) s = 3;
  return s < left ? s : left;
}

static void put_stream(int fd, unsigned seed) {
  static unsigned char buf[65536];
  for (size_t off = 0; off < TOTAL;) {
    size_t n = TOTAL - off < sizeof buf ? TOTAL - off : sizeof buf;
    for (size_t i = 0; i < n; ++i) buf[i] = pat(seed, off + i);
    ssize_t w = send(fd, buf, n, MSG_DONTWAIT);
    if (w <= 0) fail("stream: 1 MiB does not fit the socket buffers");
    off += (size_t)w;
  }
}

static void get_stream(int fd, unsigned seed) {
  static unsigned char buf[100000];
  for (size_t off = 0; off < TOTAL;) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) fail("stream: data missing");
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) fail("stream: recv");
    for (ssize_t i = 0; i < n; ++i)
      if (buf[i] != pat(seed, off + (size_t)i)) {
        printf("unix_big: stream byte %zu differs\n", off + (size_t)i);
        fail("stream: data");
      }
    off += (size_t)n;
  }
}

static void put_messages(int fd, unsigned seed, int allow_empty) {
  static unsigned char buf[100000];
  size_t off = 0;
  for (unsigned k = 0; off < TOTAL; ++k) {
    size_t n = msg_size(k, TOTAL - off, allow_empty);
    for (size_t i = 0; i < n; ++i) buf[i] = pat(seed, off + i);
    if (send(fd, buf, n, MSG_DONTWAIT) != (ssize_t)n) fail("messages: 1 MiB does not fit the socket buffers");
    off += n;
  }
}

static void get_messages(int fd, unsigned seed, int allow_empty) {
  static unsigned char buf[200000];
  size_t off = 0;
  for (unsigned k = 0; off < TOTAL; ++k) {
    size_t want = msg_size(k, TOTAL - off, allow_empty);
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) fail("messages: missing");
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n != (ssize_t)want) {
      printf("unix_big: message %u: %zd bytes, want %zu\n", k, n, want);
      fail("messages: boundaries");
    }
    for (ssize_t i = 0; i < n; ++i)
      if (buf[i] != pat(seed, off + (size_t)i)) fail("messages: data");
    off += want;
  }
  char c;
  if (recv(fd, &c, 1, MSG_DONTWAIT) >= 0 || errno != EAGAIN) fail("messages: more than sent");
}

static void pending_data(sigset_t* set) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strcpy(a.sun_path, "/tmp/ub-listen");
  socklen_t al = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(a.sun_path) + 1);
  int l = socket(AF_UNIX, SOCK_STREAM, 0);
  if (l < 0 || bind(l, (struct sockaddr*)&a, al) || listen(l, 4)) fail("listen");
  int c1 = socket(AF_UNIX, SOCK_STREAM, 0), c2 = socket(AF_UNIX, SOCK_STREAM, 0);
  if (connect(c1, (struct sockaddr*)&a, al) || connect(c2, (struct sockaddr*)&a, al)) fail("connect");
  if (send(c1, "one", 3, 0) != 3 || send(c2, "two", 3, 0) != 3) fail("send");
  printf("unix_big: READY\n");
  int sig;
  sigwait(set, &sig);
  step = "after";
  int a1 = accept(l, NULL, NULL), a2 = accept(l, NULL, NULL);
  char b1[4] = {0}, b2[4] = {0};
  if (a1 < 0 || a2 < 0 || recv(a1, b1, 3, 0) != 3 || recv(a2, b2, 3, 0) != 3) fail("accept");
  if (strcmp(b1, "one") || strcmp(b2, "two")) fail("pending data");
  printf("unix_big: OK\n");
  exit(0);
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  if (argc > 1 && !strcmp(argv[1], "pending-data")) pending_data(&set);

  int st[2], dg[2], sq[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, st) || socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) ||
      socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sq))
    fail("socketpair");
  for (int i = 0; i < 2; ++i) {
    raise_buffers(st[i]);
    raise_buffers(dg[i]);
    raise_buffers(sq[i]);
  }
  step = "fill";
  put_stream(st[0], 1);
  put_stream(st[1], 2);
  put_messages(dg[0], 3, 1);
  put_messages(dg[1], 4, 1);
  put_messages(sq[0], 5, 0);
  put_messages(sq[1], 6, 0);
  int bufs[6] = {getint(st[0], SO_SNDBUF), getint(st[1], SO_RCVBUF), getint(dg[0], SO_SNDBUF),
                 getint(dg[1], SO_RCVBUF), getint(sq[0], SO_SNDBUF), getint(sq[1], SO_RCVBUF)};

  // Shutdown states with data queued.
  int rd[2], both[2], dsh[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, rd) || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, both) ||
      socketpair(AF_UNIX, SOCK_DGRAM, 0, dsh))
    fail("socketpair 2");
  if (send(rd[1], "for-rd", 6, 0) != 6 || shutdown(rd[0], SHUT_RD)) fail("SHUT_RD");
  if (send(both[1], "m1", 2, 0) != 2 || send(both[1], "m22", 3, 0) != 3 || send(both[0], "back", 4, 0) != 4 ||
      shutdown(both[0], SHUT_RDWR))
    fail("SHUT_RDWR");
  if (send(dsh[0], "last", 4, 0) != 4 || shutdown(dsh[0], SHUT_WR)) fail("dgram SHUT_WR");

  // Options.
  int opts[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, opts)) fail("socketpair 3");
  if (send(opts[0], "0123456789", 10, 0) != 10) fail("send opts");
  int peek = 0, off = 0, one = 1;
  if (setsockopt(opts[1], SOL_SOCKET, SO_PEEK_OFF, &peek, sizeof peek)) fail("SO_PEEK_OFF");
  char tmp[4];
  if (recv(opts[1], tmp, 4, MSG_PEEK) != 4) fail("peek");  // the peek offset moves to 4
  if (setsockopt(opts[1], SOL_SOCKET, SO_PASSRIGHTS, &off, sizeof off)) fail("SO_PASSRIGHTS");
  struct timeval tv = {3, 250000};
  if (setsockopt(opts[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) ||
      setsockopt(opts[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv))
    fail("timeouts");
  if (setsockopt(opts[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one)) fail("SO_PASSCRED");
  // As the kernel keeps them (in jiffies: rounded up unless HZ is 1000).
  struct timeval rcvtimeo, sndtimeo;
  socklen_t tl = sizeof rcvtimeo;
  if (getsockopt(opts[0], SOL_SOCKET, SO_RCVTIMEO, &rcvtimeo, &tl)) fail("SO_RCVTIMEO");
  tl = sizeof sndtimeo;
  if (getsockopt(opts[0], SOL_SOCKET, SO_SNDTIMEO, &sndtimeo, &tl)) fail("SO_SNDTIMEO");

  pid_t child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    step = "child: seqpacket";
    int sig;
    sigwait(&set, &sig);
    get_messages(sq[1], 5, 0);
    if (send(sq[1], "child-after", 11, 0) != 11) fail("send after");
    _exit(0);
  }
  close(sq[1]);

  printf("unix_big: READY child=%d\n", child);
  int sig;
  sigwait(&set, &sig);

  step = "stream pair";
  if (getint(st[0], SO_SNDBUF) != bufs[0] || getint(st[1], SO_RCVBUF) != bufs[1]) fail("buffer sizes");
  get_stream(st[1], 1);
  get_stream(st[0], 2);
  step = "datagram pair";
  if (getint(dg[0], SO_SNDBUF) != bufs[2] || getint(dg[1], SO_RCVBUF) != bufs[3]) fail("buffer sizes");
  get_messages(dg[1], 3, 1);
  get_messages(dg[0], 4, 1);
  step = "seqpacket pair";
  if (getint(sq[0], SO_SNDBUF) != bufs[4]) fail("buffer sizes");
  get_messages(sq[0], 6, 0);
  kill(child, SIGUSR1);
  int cst;
  if (waitpid(child, &cst, 0) != child || !WIFEXITED(cst) || WEXITSTATUS(cst)) fail("child");
  {
    char b[16] = {0};
    if (recv(sq[0], b, sizeof b, MSG_DONTWAIT) != 11 || strcmp(b, "child-after")) fail("child's message");
  }

  step = "SHUT_RD";
  {
    char b[16] = {0};
    if (recv(rd[0], b, sizeof b, MSG_DONTWAIT) != 6 || strcmp(b, "for-rd")) fail("data before end");
    if (recv(rd[0], b, sizeof b, MSG_DONTWAIT) != 0) fail("end of file after the data");
    if (send(rd[0], "x", 1, MSG_NOSIGNAL) != 1) fail("its send side still open");
    if (recv(rd[1], b, sizeof b, MSG_DONTWAIT) != 1) fail("peer reads");
    if (send(rd[1], "y", 1, MSG_NOSIGNAL) >= 0 || errno != EPIPE) fail("peer's send after SHUT_RD");
  }
  step = "SHUT_RDWR";
  {
    char b[16] = {0};
    if (recv(both[0], b, sizeof b, MSG_DONTWAIT) != 2 || memcmp(b, "m1", 2)) fail("m1");
    if (recv(both[0], b, sizeof b, MSG_DONTWAIT) != 3 || memcmp(b, "m22", 3)) fail("m22");
    if (recv(both[0], b, sizeof b, MSG_DONTWAIT) != 0) fail("end after the messages");
    if (recv(both[1], b, sizeof b, MSG_DONTWAIT) != 4 || memcmp(b, "back", 4)) fail("back");
    if (recv(both[1], b, sizeof b, MSG_DONTWAIT) != 0) fail("peer sees the end");
    if (send(both[0], "x", 1, MSG_NOSIGNAL) >= 0 || errno != EPIPE) fail("send after SHUT_RDWR");
  }
  step = "dgram SHUT_WR";
  {
    char b[16] = {0};
    if (recv(dsh[1], b, sizeof b, MSG_DONTWAIT) != 4 || memcmp(b, "last", 4)) fail("last");
    if (send(dsh[0], "x", 1, MSG_NOSIGNAL) >= 0 || errno != EPIPE) fail("send after SHUT_WR");
    if (send(dsh[1], "z", 1, 0) != 1) fail("the other way");
    if (recv(dsh[0], b, sizeof b, MSG_DONTWAIT) != 1) fail("read the other way");
  }
  step = "options";
  if (getint(opts[1], SO_PEEK_OFF) != 4) fail("SO_PEEK_OFF");
  {
    char b[16] = {0};
    if (recv(opts[1], b, sizeof b, MSG_PEEK) != 6 || memcmp(b, "456789", 6)) fail("peek from the offset");
    if (recv(opts[1], b, sizeof b, 0) != 10 || memcmp(b, "0123456789", 10)) fail("read");
  }
  if (getint(opts[1], SO_PASSRIGHTS) != 0) fail("SO_PASSRIGHTS");
  {
    struct timeval got;
    socklen_t l = sizeof got;
    if (getsockopt(opts[0], SOL_SOCKET, SO_RCVTIMEO, &got, &l) || got.tv_sec != rcvtimeo.tv_sec ||
        got.tv_usec != rcvtimeo.tv_usec)
      fail("SO_RCVTIMEO");
    l = sizeof got;
    if (getsockopt(opts[0], SOL_SOCKET, SO_SNDTIMEO, &got, &l) || got.tv_sec != sndtimeo.tv_sec ||
        got.tv_usec != sndtimeo.tv_usec)
      fail("SO_SNDTIMEO");
  }
  if (getint(opts[0], SO_PASSCRED) != 1) fail("SO_PASSCRED");

  printf("unix_big: OK\n");
  return 0;
}
