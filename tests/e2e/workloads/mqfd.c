// Workload: POSIX message queue fds (mq_open) across dump -> kill ->
// restore (dump_mqfd.sh). Runs as the container's init.
//
// The init opens /amber_mqfd (O_CREAT | O_WRONLY, 10 messages of at most
// 64 bytes) and sends 5 messages of priorities 3, 0, 7, 3, 5; it forks a
// child, which inherits that description (fd shared across fork) and opens
// its own O_RDONLY | O_NONBLOCK one by name. Prints "mqfd: READY", waits
// for SIGUSR1 (the child waits on a pipe).
// On SIGUSR1 (after restore): the init checks its fd is write-only and
// blocking (mq_getattr flags, mq_receive -> EBADF), sends two more messages
// of priority 0 ("after 1", "after 2") through it, and wakes the child,
// which checks its fd's flags (O_NONBLOCK) and receives everything: the
// messages queued before the dump first, in priority order (7, 5, 3, 3, 0),
// then "after 1", "after 2", then EAGAIN (empty, non-blocking). The child
// also sends "child" through the inherited write-only fd, which the init
// reads through a new open. Prints "mqfd: OK", exits 0.
// With "unlinked": the queue is removed with mq_unlink while the init keeps
// its fd (refused by the dump); prints READY, waits.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char* what) {
  printf("mqfd: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

static volatile sig_atomic_t go;
static void on_usr1(int s) {
  (void)s;
  go = 1;
}

static const unsigned kPrios[] = {3, 0, 7, 3, 5};
enum { kBefore = 5 };

static void expect_msg(mqd_t q, const char* want, unsigned want_prio) {
  char buf[64];
  unsigned prio = 99;
  ssize_t n = mq_receive(q, buf, sizeof buf, &prio);
  if (n < 0) die("mq_receive");
  if ((size_t)n != strlen(want) || memcmp(buf, want, (size_t)n) != 0 || prio != want_prio) {
    printf("mqfd: FAIL got '%.*s' prio %u, want '%s' prio %u\n", (int)n, buf, prio, want, want_prio);
    fflush(stdout);
    _exit(1);
  }
}

static int child_side(mqd_t w, mqd_t r, int go_fd) {
  char c;
  for (;;) {
    ssize_t n = read(go_fd, &c, 1);
    if (n == 1) break;
    if (n < 0 && errno == EINTR) continue;
    die("child: wait");
  }
  struct mq_attr a;
  if (mq_getattr(r, &a) != 0 || !(a.mq_flags & O_NONBLOCK)) die("child: read fd not O_NONBLOCK");
  if (a.mq_curmsgs != kBefore + 2) die("child: message count");
  static const int order[] = {2, 4, 0, 3, 1};  // indexes of kPrios by priority, FIFO within one
  char want[64];
  for (int i = 0; i < kBefore; i++) {
    snprintf(want, sizeof want, "before %d", order[i]);
    expect_msg(r, want, kPrios[order[i]]);
  }
  expect_msg(r, "after 1", 0);
  expect_msg(r, "after 2", 0);
  char buf[64];
  if (mq_receive(r, buf, sizeof buf, NULL) >= 0 || errno != EAGAIN) die("child: queue not empty, or blocking");
  if (mq_send(w, "child", 5, 1) != 0) die("child: send through the inherited fd");
  return 0;
}

static int unlinked(void) {
  mqd_t q = mq_open("/amber_gone", O_CREAT | O_RDWR, 0600, NULL);
  if (q == (mqd_t)-1) die("mq_open");
  if (mq_unlink("/amber_gone") != 0) die("mq_unlink");
  printf("mqfd: READY\n");
  fflush(stdout);
  while (!go) pause();
  return 0;
}

int main(int argc, char** argv) {
  signal(SIGUSR1, on_usr1);
  if (argc > 1 && strcmp(argv[1], "unlinked") == 0) return unlinked();
  struct mq_attr attr = {0};
  attr.mq_maxmsg = 10;
  attr.mq_msgsize = 64;
  mqd_t w = mq_open("/amber_mqfd", O_CREAT | O_EXCL | O_WRONLY, 0640, &attr);
  if (w == (mqd_t)-1) die("mq_open");
  char text[64];
  for (int i = 0; i < kBefore; i++) {
    int n = snprintf(text, sizeof text, "before %d", i);
    if (mq_send(w, text, (size_t)n, kPrios[i]) != 0) die("mq_send");
  }
  int p[2], ready[2];
  if (pipe(p) != 0 || pipe(ready) != 0) die("pipe");
  pid_t c = fork();
  if (c < 0) die("fork");
  if (c == 0) {
    close(p[1]);
    close(ready[0]);
    mqd_t r = mq_open("/amber_mqfd", O_RDONLY | O_NONBLOCK);
    if (r == (mqd_t)-1) die("child: mq_open");
    if (write(ready[1], "r", 1) != 1) die("child: ready");
    close(ready[1]);
    // Told to go only after the restore: the dump sees both fds.
    _exit(child_side(w, r, p[0]));
  }
  close(p[0]);
  close(ready[1]);
  char r1;
  if (read(ready[0], &r1, 1) != 1) die("child ready");
  close(ready[0]);
  printf("mqfd: READY\n");
  fflush(stdout);
  sigset_t none;
  sigemptyset(&none);
  while (!go) sigsuspend(&none);

  struct mq_attr a;
  if (mq_getattr(w, &a) != 0 || (a.mq_flags & O_NONBLOCK) || a.mq_maxmsg != 10 || a.mq_msgsize != 64 ||
      a.mq_curmsgs != kBefore)
    die("init: attributes of its fd");
  char buf[64];
  if (mq_receive(w, buf, sizeof buf, NULL) >= 0 || errno != EBADF) die("init: its fd is not write-only");
  if (mq_send(w, "after 1", 7, 0) != 0 || mq_send(w, "after 2", 7, 0) != 0) die("init: mq_send");
  if (write(p[1], "g", 1) != 1) die("init: wake the child");
  int st;
  if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) die("child failed");
  mqd_t r = mq_open("/amber_mqfd", O_RDONLY | O_NONBLOCK);
  if (r == (mqd_t)-1) die("init: mq_open");
  expect_msg(r, "child", 1);
  printf("mqfd: OK\n");
  fflush(stdout);
  return 0;
}
