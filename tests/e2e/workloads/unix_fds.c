// Workload: files in flight in unix socket queues (SCM_RIGHTS sent, not
// received yet) at the dump. Prints "unix_fds: READY"; on SIGUSR1 receives
// each message, checks that every file arrived in its place with its
// state, and prints "unix_fds: OK" (exit 0) or "unix_fds: FAIL <what>".
// Queued on a datagram pair (the "channel", as a server hands work to a
// worker), in this order:
//  1. "file": /tmp/f opened O_RDWR at offset 5, closed by the sender;
//  2. "held": /tmp/g, whose description the process keeps too (fd `g`):
//     one description after the restore (a seek through one moves both);
//  3. "pipe": the read end of a pipe with 8 bytes in it, whose write end a
//     child process holds (the sender closed both);
//  4. "lone": the read end of a pipe with data whose write end is closed
//     everywhere (data, then end of file);
//  5. "pair": one end of a socketpair with data queued in it, the other end
//     kept by the process;
//  6. "nested": a socket no task holds with a file in flight in its own
//     queue (/tmp/h), its peer kept;
//  7. "two": /dev/null and an eventfd (count 7) in one message;
//  8. "conn": a connection accepted on /tmp/fds-listen, whose client (kept)
//     sent "req" before the dump.
// On a stream pair: "aaaa", then "bbbb" with /tmp/f again, then "cccc": a
// read of all that is queued gets "aaaabbbb" with the fd (the kernel stops a
// read after the bytes that carried fds), then "cccc". (A read of "aaaa"
// alone got no fd before the dump and gets it after: the restore cannot
// tell where the bytes that carried it began.) On a seqpacket pair: "sq"
// with /dev/null.
// `unix_fds refuse`: an epoll in flight instead (refused by the dump).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char* step = "setup";

static void fail(const char* what) {
  printf("unix_fds: FAIL %s: %s (errno %d %s)\n", step, what, errno, strerror(errno));
  fflush(stdout);
  _exit(1);
}

static void send_fds(int sock, const char* data, const int* fds, int n) {
  char control[CMSG_SPACE(sizeof(int) * 4)];
  memset(control, 0, sizeof control);
  struct iovec iov = {(void*)data, strlen(data)};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
  if (n > 0) {
    m.msg_control = control;
    m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
    struct cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
  }
  if (sendmsg(sock, &m, MSG_DONTWAIT) != (ssize_t)strlen(data)) fail(data);
}

// Receives one message of exactly `want`, with exactly `n` fds into `fds`.
static void recv_fds(int sock, const char* want, int* fds, int n) {
  char buf[64] = {0};
  char control[CMSG_SPACE(sizeof(int) * 8)];
  struct iovec iov = {buf, strlen(want)};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  ssize_t r = recvmsg(sock, &m, MSG_DONTWAIT);
  if (r != (ssize_t)strlen(want) || memcmp(buf, want, strlen(want))) {
    printf("unix_fds: got '%s' (%zd), want '%s'\n", buf, r, want);
    fail("message");
  }
  int got = 0;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      for (int i = 0; i < k; ++i) {
        if (got < n) memcpy(&fds[got], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        got++;
      }
    }
  if (got != n) {
    printf("unix_fds: message '%s': %d fds, want %d\n", want, got, n);
    fail("fds");
  }
}

static void expect_read(int fd, const char* want) {
  char buf[64] = {0};
  ssize_t n = read(fd, buf, strlen(want));
  if (n != (ssize_t)strlen(want) || memcmp(buf, want, strlen(want))) {
    printf("unix_fds: read '%s' (%zd), want '%s'\n", buf, n, want);
    fail("read");
  }
}

static int make_file(const char* path, const char* content) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content)) fail(path);
  return fd;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);

  int ch[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM, 0, ch)) fail("channel");
  if (argc > 1 && !strcmp(argv[1], "refuse")) {
    int ep = epoll_create1(0);
    send_fds(ch[0], "epoll", &ep, 1);
    close(ep);
    printf("unix_fds: READY\n");
    int sig;
    sigwait(&set, &sig);
    int got;
    recv_fds(ch[1], "epoll", &got, 1);
    printf("unix_fds: OK\n");
    return 0;
  }

  // 1. file
  int f = make_file("/tmp/f", "0123456789abcdef");
  if (lseek(f, 5, SEEK_SET) != 5) fail("lseek");
  send_fds(ch[0], "file", &f, 1);
  close(f);
  // 2. held
  int g = make_file("/tmp/g", "ghijklmnop");
  if (lseek(g, 2, SEEK_SET) != 2) fail("lseek g");
  send_fds(ch[0], "held", &g, 1);
  // 3. pipe: the write end in a child
  int p[2];
  if (pipe(p) || write(p[1], "pipedata", 8) != 8) fail("pipe");
  pid_t child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    step = "child";
    close(p[0]);
    int sig;
    sigwait(&set, &sig);
    if (write(p[1], "more", 4) != 4) fail("write more");
    _exit(0);
  }
  close(p[1]);
  // 4. lone pipe
  int lp[2];
  if (pipe(lp) || write(lp[1], "lonely", 6) != 6) fail("lone pipe");
  close(lp[1]);
  send_fds(ch[0], "pipe", &p[0], 1);
  send_fds(ch[0], "lone", &lp[0], 1);
  close(p[0]);
  close(lp[0]);
  // 5. pair
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) || send(sp[1], "hello", 5, 0) != 5) fail("pair");
  send_fds(ch[0], "pair", &sp[0], 1);
  close(sp[0]);
  // 6. nested
  int ns[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM, 0, ns)) fail("nested pair");
  int h = make_file("/tmp/h", "inner-file");
  if (lseek(h, 0, SEEK_SET) != 0) fail("lseek h");
  send_fds(ns[1], "inner", &h, 1);
  close(h);
  send_fds(ch[0], "nested", &ns[0], 1);
  close(ns[0]);
  // 7. two
  int two[2] = {open("/dev/null", O_WRONLY), eventfd(7, 0)};
  if (two[0] < 0 || two[1] < 0) fail("two");
  send_fds(ch[0], "two", two, 2);
  close(two[0]);
  close(two[1]);
  // 8. conn
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strcpy(a.sun_path, "/tmp/fds-listen");
  socklen_t al = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(a.sun_path) + 1);
  int l = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0);
  if (l < 0 || c < 0 || bind(l, (struct sockaddr*)&a, al) || listen(l, 4) || connect(c, (struct sockaddr*)&a, al))
    fail("listen");
  int s = accept(l, NULL, NULL);
  if (s < 0 || send(c, "req", 3, 0) != 3) fail("accept");
  send_fds(ch[0], "conn", &s, 1);
  close(s);
  // The stream pair: plain, with an fd, plain.
  int st[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, st)) fail("stream pair");
  int f2 = open("/tmp/f", O_RDONLY);
  if (send(st[0], "aaaa", 4, 0) != 4) fail("aaaa");
  send_fds(st[0], "bbbb", &f2, 1);
  if (send(st[0], "cccc", 4, 0) != 4) fail("cccc");
  close(f2);
  // The seqpacket pair: /dev/null.
  int sq[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sq)) fail("seqpacket pair");
  int w2 = open("/dev/null", O_RDONLY);
  send_fds(sq[0], "sq", &w2, 1);
  close(w2);

  printf("unix_fds: READY child=%d\n", child);
  int sig;
  sigwait(&set, &sig);

  int got[2];
  step = "file";
  recv_fds(ch[1], "file", got, 1);
  if (lseek(got[0], 0, SEEK_CUR) != 5) fail("offset");
  expect_read(got[0], "56789");
  step = "held";
  recv_fds(ch[1], "held", got, 1);
  if (lseek(got[0], 0, SEEK_CUR) != 2) fail("offset");
  if (lseek(g, 7, SEEK_SET) != 7 || lseek(got[0], 0, SEEK_CUR) != 7) fail("one description with the kept fd");
  expect_read(got[0], "nop");
  step = "pipe";
  recv_fds(ch[1], "pipe", got, 1);
  expect_read(got[0], "pipedata");
  kill(child, SIGUSR1);
  int cst;
  if (waitpid(child, &cst, 0) != child || !WIFEXITED(cst) || WEXITSTATUS(cst)) fail("child");
  expect_read(got[0], "more");
  {
    char b;
    if (read(got[0], &b, 1) != 0) fail("end of file once the child has gone");
  }
  step = "lone pipe";
  recv_fds(ch[1], "lone", got, 1);
  expect_read(got[0], "lonely");
  {
    char b;
    if (read(got[0], &b, 1) != 0) fail("end of file");
  }
  step = "pair";
  recv_fds(ch[1], "pair", got, 1);
  expect_read(got[0], "hello");
  if (send(got[0], "back", 4, 0) != 4) fail("send back");
  expect_read(sp[1], "back");
  step = "nested";
  recv_fds(ch[1], "nested", got, 1);
  {
    int inner;
    recv_fds(got[0], "inner", &inner, 1);
    expect_read(inner, "inner-file");
    if (send(ns[1], "still", 5, 0) != 5) fail("peer");
    expect_read(got[0], "still");
  }
  step = "two";
  recv_fds(ch[1], "two", got, 2);
  if (write(got[0], "x", 1) != 1) fail("/dev/null");
  {
    uint64_t v = 0;
    if (read(got[1], &v, sizeof v) != sizeof v || v != 7) fail("eventfd count");
  }
  step = "conn";
  recv_fds(ch[1], "conn", got, 1);
  expect_read(got[0], "req");
  if (send(got[0], "resp", 4, 0) != 4) fail("resp");
  expect_read(c, "resp");
  step = "channel";
  {
    char b;
    if (recv(ch[1], &b, 1, MSG_DONTWAIT) >= 0 || errno != EAGAIN) fail("more messages than sent");
  }
  step = "stream";
  {
    char b[64] = {0};
    char control[CMSG_SPACE(sizeof(int) * 4)];
    struct iovec iov = {b, sizeof b};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    if (recvmsg(st[1], &m, 0) != 8 || memcmp(b, "aaaabbbb", 8)) fail("aaaabbbb");
    struct cmsghdr* cm = CMSG_FIRSTHDR(&m);
    if (!cm || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int))) fail("the fd with bbbb");
    memcpy(got, CMSG_DATA(cm), sizeof(int));
    expect_read(got[0], "0123456789");
    expect_read(st[1], "cccc");
  }
  step = "seqpacket";
  recv_fds(sq[1], "sq", got, 1);
  {
    char b;
    if (read(got[0], &b, 1) != 0) fail("/dev/null reads nothing");
  }
  printf("unix_fds: OK\n");
  return 0;
}
