// Workload for the seal check's class 5 (unix socket with an outside peer).
// Every mode writes "ready ..." to READY (a file both the container and the
// host see) once its socket is in place, then waits until it is killed.
//   listen PATH READY    (inside)  listens on PATH and never accepts
//   serve PATH READY     (inside)  listens on PATH and accepts every client,
//                                  appending "accepted" to READY each time
//   pair PATH READY      (inside)  makes a socketpair, passes one end over
//                                  PATH (SCM_RIGHTS) and keeps the other
//   connect PATH READY   (outside) connects to PATH and keeps the connection
//   receive PATH READY   (outside) listens on PATH, takes one fd passed over
//                                  it and keeps only that fd
//   dgram PATH READY     (inside)  a datagram socket bound to PATH, never read
//   dgram-connect PATH READY
//                        (outside) a datagram socket connected to PATH, kept
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void die(const char* what) {
  fprintf(stderr, "seal_unix: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void say(const char* file, const char* text) {
  int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) die("open READY");
  if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) die("write READY");
  close(fd);
}

static struct sockaddr_un addr_of(const char* path) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof a.sun_path) {
    errno = ENAMETOOLONG;
    die(path);
  }
  strcpy(a.sun_path, path);
  return a;
}

static int listener(const char* path) {
  struct sockaddr_un a = addr_of(path);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) die("socket");
  unlink(path);
  if (bind(s, (struct sockaddr*)&a, sizeof a) < 0) die("bind");
  if (listen(s, 8) < 0) die("listen");
  return s;
}

static int connector(const char* path) {
  struct sockaddr_un a = addr_of(path);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) die("socket");
  if (connect(s, (struct sockaddr*)&a, sizeof a) < 0) die("connect");
  return s;
}

static void wait_forever(void) {
  for (;;) pause();
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: seal_unix listen|serve|pair|dgram|connect|receive|dgram-connect PATH READY\n");
    return 2;
  }
  const char *mode = argv[1], *path = argv[2], *ready = argv[3];
  char line[128];

  if (!strcmp(mode, "listen")) {
    listener(path);
    say(ready, "ready\n");
    wait_forever();
  }
  if (!strcmp(mode, "serve")) {
    int s = listener(path);
    say(ready, "ready\n");
    for (;;) {
      int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
      if (c < 0 && errno == EINTR) continue;
      if (c < 0) die("accept");
      say(ready, "accepted\n");  // c stays open: the connection is kept
    }
  }
  if (!strcmp(mode, "pair")) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) die("socketpair");
    int c = connector(path);
    char byte = 'x';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
      struct cmsghdr h;
      char buf[CMSG_SPACE(sizeof(int))];
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    struct cmsghdr* cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &sv[1], sizeof(int));
    if (sendmsg(c, &m, 0) != 1) die("sendmsg");
    // Wait until the receiver has it (it closes the connection), so that
    // nothing but sv[0] and the passed end is left.
    if (read(c, &byte, 1) < 0) die("read");
    close(c);
    close(sv[1]);
    snprintf(line, sizeof line, "ready %d\n", sv[0]);
    say(ready, line);
    wait_forever();
  }
  if (!strcmp(mode, "dgram")) {
    struct sockaddr_un a = addr_of(path);
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) die("socket");
    unlink(path);
    if (bind(s, (struct sockaddr*)&a, sizeof a) < 0) die("bind");
    say(ready, "ready\n");
    wait_forever();
  }
  if (!strcmp(mode, "dgram-connect")) {
    struct sockaddr_un a = addr_of(path);
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) die("socket");
    if (connect(s, (struct sockaddr*)&a, sizeof a) < 0) die("connect");
    say(ready, "ready\n");
    wait_forever();
  }
  if (!strcmp(mode, "connect")) {
    connector(path);
    say(ready, "ready\n");
    wait_forever();
  }
  if (!strcmp(mode, "receive")) {
    int s = listener(path);
    int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) die("accept");
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
      struct cmsghdr h;
      char buf[CMSG_SPACE(sizeof(int))];
    } u;
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    if (recvmsg(c, &m, MSG_CMSG_CLOEXEC) != 1) die("recvmsg");
    struct cmsghdr* cm = CMSG_FIRSTHDR(&m);
    if (!cm || cm->cmsg_type != SCM_RIGHTS) {
      fprintf(stderr, "seal_unix: no fd received\n");
      return 1;
    }
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    close(c);
    close(s);
    unlink(path);
    snprintf(line, sizeof line, "ready %d\n", fd);
    say(ready, line);
    wait_forever();
  }
  fprintf(stderr, "seal_unix: unknown mode %s\n", mode);
  return 2;
}
