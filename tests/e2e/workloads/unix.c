// Workload: unix sockets of every shape amber restores, with state in
// flight. Prints "unix: READY"; on SIGUSR1 checks everything and prints
// "unix: OK" (exit 0) or "unix: FAIL <what>" (exit 1).
//  - socketpairs stream, dgram, seqpacket: data queued both ways (message
//    boundaries for dgram/seqpacket); one end of the seqpacket pair in a
//    child process; SO_SNDBUF and SO_PEEK_OFF set on the stream pair;
//  - a listening stream socket /tmp/u/listen with one accepted connection
//    (data queued both ways) and 2 connections not yet accepted;
//  - an abstract datagram server with 2 datagrams queued from 2 clients
//    (one bound to an abstract name, one unbound and connected);
//  - a datagram socket bound to /tmp/u/dgram with a client connected to it;
//  - a stream pair half shut down (one side SHUT_WR), a pair whose peer has
//    closed after writing, a socket with SO_PASSCRED and nothing queued.
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char* step = "setup";

static void fail(const char* what) {
  printf("unix: FAIL %s: %s (errno %d %s)\n", step, what, errno, strerror(errno));
  fflush(stdout);
  _exit(1);
}

static socklen_t addr(struct sockaddr_un* a, const char* name, int abstract) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  if (abstract) {
    memcpy(a->sun_path + 1, name, strlen(name));
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
  }
  strcpy(a->sun_path, name);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name) + 1);
}

static void put(int fd, const char* s) {
  if (send(fd, s, strlen(s), MSG_DONTWAIT) != (ssize_t)strlen(s)) fail(s);
}

// Reads exactly one message (or for streams, exactly strlen(want) bytes).
static void expect(int fd, const char* want) {
  char buf[256] = {0};
  struct pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, 5000) != 1) fail("poll");
  ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
  if (n != (ssize_t)strlen(want) || memcmp(buf, want, (size_t)n)) {
    printf("unix: got '%s' (%zd) want '%s'\n", buf, n, want);
    fail("data");
  }
}

static void expect_from(int fd, const char* want, const char* sender_abstract) {
  char buf[256] = {0};
  struct sockaddr_un from;
  socklen_t len = sizeof from;
  ssize_t n = recvfrom(fd, buf, sizeof buf - 1, MSG_DONTWAIT, (struct sockaddr*)&from, &len);
  if (n != (ssize_t)strlen(want) || memcmp(buf, want, (size_t)n)) {
    printf("unix: got '%s' want '%s'\n", buf, want);
    fail("datagram");
  }
  size_t namelen = len > offsetof(struct sockaddr_un, sun_path) ? len - offsetof(struct sockaddr_un, sun_path) : 0;
  if (sender_abstract == NULL) {
    if (namelen != 0) fail("sender should be unbound");
  } else if (namelen != strlen(sender_abstract) + 1 || from.sun_path[0] != 0 ||
             memcmp(from.sun_path + 1, sender_abstract, strlen(sender_abstract))) {
    fail("sender name");
  }
}

static void expect_empty(int fd) {
  char c;
  ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
  if (n >= 0 || errno != EAGAIN) fail("queue should be empty");
}

static void expect_eof(int fd) {
  char c;
  if (recv(fd, &c, 1, MSG_DONTWAIT) != 0) fail("want EOF");
}

static int getint(int fd, int opt) {
  int v = 0;
  socklen_t l = sizeof v;
  if (getsockopt(fd, SOL_SOCKET, opt, &v, &l)) fail("getsockopt");
  return v;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  if (mkdir("/tmp/u", 0755)) fail("mkdir");

  int st[2], dg[2], sq[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, st) || socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) ||
      socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sq))
    fail("socketpair");
  put(st[0], "stream-a");
  put(st[0], "-more");
  put(st[1], "stream-b");
  put(dg[0], "d1");
  put(dg[0], "d22");
  put(dg[1], "back");
  put(sq[0], "s1");
  put(sq[0], "s22");
  put(sq[1], "sback");
  int sndbuf = 65536, peek = 0;
  if (setsockopt(st[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf)) fail("SO_SNDBUF");
  if (setsockopt(st[1], SOL_SOCKET, SO_PEEK_OFF, &peek, sizeof peek)) fail("SO_PEEK_OFF");
  const int want_sndbuf = getint(st[0], SO_SNDBUF);

  struct sockaddr_un a;
  socklen_t al;
  int lst = socket(AF_UNIX, SOCK_STREAM, 0);
  al = addr(&a, "/tmp/u/listen", 0);
  if (lst < 0 || bind(lst, (struct sockaddr*)&a, al) || listen(lst, 5)) fail("listen");
  int c0 = socket(AF_UNIX, SOCK_STREAM, 0);
  if (connect(c0, (struct sockaddr*)&a, al)) fail("connect c0");
  int s0 = accept(lst, NULL, NULL);
  if (s0 < 0) fail("accept");
  put(c0, "request");
  put(s0, "response");
  int c1 = socket(AF_UNIX, SOCK_STREAM, 0), c2 = socket(AF_UNIX, SOCK_STREAM, 0);
  if (connect(c1, (struct sockaddr*)&a, al) || connect(c2, (struct sockaddr*)&a, al)) fail("connect pending");

  char abs_srv[64], abs_cl[64];
  snprintf(abs_srv, sizeof abs_srv, "amber-unix-srv-%d", getpid());
  snprintf(abs_cl, sizeof abs_cl, "amber-unix-cl-%d", getpid());
  int srv = socket(AF_UNIX, SOCK_DGRAM, 0), cl1 = socket(AF_UNIX, SOCK_DGRAM, 0), cl2 = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct sockaddr_un sa, ca;
  socklen_t sal = addr(&sa, abs_srv, 1), cal = addr(&ca, abs_cl, 1);
  if (bind(srv, (struct sockaddr*)&sa, sal) || bind(cl1, (struct sockaddr*)&ca, cal)) fail("bind abstract");
  if (sendto(cl1, "from1", 5, 0, (struct sockaddr*)&sa, sal) != 5) fail("sendto");
  if (connect(cl2, (struct sockaddr*)&sa, sal) || send(cl2, "from2", 5, 0) != 5) fail("send cl2");

  int dsrv = socket(AF_UNIX, SOCK_DGRAM, 0), dcl = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct sockaddr_un da;
  socklen_t dal = addr(&da, "/tmp/u/dgram", 0);
  if (bind(dsrv, (struct sockaddr*)&da, dal) || connect(dcl, (struct sockaddr*)&da, dal)) fail("dgram path");
  put(dcl, "p1");

  int half[2], gone[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, half) || socketpair(AF_UNIX, SOCK_STREAM, 0, gone)) fail("socketpair 2");
  put(half[0], "bye");
  if (shutdown(half[0], SHUT_WR)) fail("shutdown");
  put(gone[1], "last");
  close(gone[1]);
  int cred = socket(AF_UNIX, SOCK_DGRAM, 0), one = 1;
  if (setsockopt(cred, SOL_SOCKET, SO_PASSCRED, &one, sizeof one)) fail("SO_PASSCRED");

  pid_t child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    step = "child";
    int sig;
    sigwait(&set, &sig);
    expect(sq[1], "s1");
    expect(sq[1], "s22");
    expect_empty(sq[1]);
    put(sq[1], "child-after");
    _exit(0);
  }
  close(sq[1]);

  printf("unix: READY child=%d\n", child);
  int sig;
  sigwait(&set, &sig);
  step = "after restore";

  step = "stream pair";
  if (getint(st[0], SO_SNDBUF) != want_sndbuf) fail("SO_SNDBUF");
  if (getint(st[1], SO_PEEK_OFF) != 0) fail("SO_PEEK_OFF");
  {
    char buf[64] = {0};
    if (recv(st[1], buf, sizeof buf, MSG_DONTWAIT) != 13 || memcmp(buf, "stream-a-more", 13)) fail("stream a->b");
  }
  expect(st[0], "stream-b");
  put(st[1], "again");
  expect(st[0], "again");

  step = "dgram pair";
  expect(dg[1], "d1");
  expect(dg[1], "d22");
  expect_empty(dg[1]);
  expect(dg[0], "back");

  step = "seqpacket pair";
  kill(child, SIGUSR1);
  int cst;
  if (waitpid(child, &cst, 0) != child || !WIFEXITED(cst) || WEXITSTATUS(cst)) fail("child");
  expect(sq[0], "sback");
  expect(sq[0], "child-after");

  step = "listener";
  expect(s0, "request");
  expect(c0, "response");
  {
    struct sockaddr_un n;
    socklen_t nl = sizeof n;
    if (getsockname(s0, (struct sockaddr*)&n, &nl) || strcmp(n.sun_path, "/tmp/u/listen")) fail("accepted name");
    nl = sizeof n;
    if (getpeername(c0, (struct sockaddr*)&n, &nl) || strcmp(n.sun_path, "/tmp/u/listen")) fail("client's peer name");
  }
  struct stat sb;
  if (stat("/tmp/u/listen", &sb) || !S_ISSOCK(sb.st_mode)) fail("socket file");
  int fl = fcntl(lst, F_GETFL);
  fcntl(lst, F_SETFL, fl | O_NONBLOCK);
  int a1 = accept(lst, NULL, NULL), a2 = accept(lst, NULL, NULL);
  if (a1 < 0 || a2 < 0) fail("accept pending");
  if (accept(lst, NULL, NULL) >= 0 || errno != EAGAIN) fail("a third pending connection");
  put(c1, "one");
  put(c2, "two");
  expect(a1, "one");
  expect(a2, "two");
  int c3 = socket(AF_UNIX, SOCK_STREAM, 0);
  if (connect(c3, (struct sockaddr*)&a, al)) fail("new connection to the restored listener");

  step = "abstract dgram server";
  expect_from(srv, "from1", abs_cl);
  expect_from(srv, "from2", NULL);
  expect_empty(srv);
  if (send(cl2, "again", 5, 0) != 5) fail("cl2 still connected");
  expect_from(srv, "again", NULL);

  step = "dgram path";
  expect(dsrv, "p1");
  put(dcl, "p2");
  expect(dsrv, "p2");

  step = "half shutdown";
  expect(half[1], "bye");
  expect_eof(half[1]);
  put(half[1], "still");
  expect(half[0], "still");
  if (send(half[0], "x", 1, MSG_NOSIGNAL) >= 0 || errno != EPIPE) fail("write after SHUT_WR");

  step = "peer gone";
  expect(gone[0], "last");
  expect_eof(gone[0]);

  step = "options";
  if (getint(cred, SO_PASSCRED) != 1) fail("SO_PASSCRED");

  printf("unix: OK\n");
  return 0;
}
