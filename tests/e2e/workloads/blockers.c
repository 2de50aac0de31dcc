// Workload: objects amber cannot dump yet, spread over two processes, for
// the one report of every blocker (check_blockers.sh). Kinds chosen that
// stay unsupported for a while (io_uring and userfaultfd have no plan):
// the init holds a unix socketpair with its userfaultfd in flight each way
// (two fds) and the userfaultfd itself; its child holds an io_uring fd and
// the ring mapped. Both
// then sleep; the init prints "blockers: READY" once the child is set up.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char* what) {
  printf("blockers: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

int main(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) die("socketpair");
  int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
  if (uffd < 0) die("userfaultfd");
  for (int i = 0; i < 2; ++i) {
    char byte = 'x';
    struct iovec iov = {&byte, 1};
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    struct cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &uffd, sizeof uffd);
    if (sendmsg(sv[i], &m, 0) != 1) die("sendmsg SCM_RIGHTS");
  }
  int ready[2];
  if (pipe(ready) != 0) die("pipe");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    int ring = (int)syscall(SYS_io_uring_setup, 4, &p);
    if (ring < 0) die("io_uring_setup");
    size_t len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    if (mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING) == MAP_FAILED)
      die("mmap ring");
    if (write(ready[1], "x", 1) != 1) die("write ready");
    close(ready[0]);
    close(ready[1]);
    for (;;) pause();
  }
  char c;
  if (read(ready[0], &c, 1) != 1) die("child setup");
  close(ready[0]);
  close(ready[1]);
  printf("blockers: READY\n");
  fflush(stdout);
  for (;;) pause();
}
