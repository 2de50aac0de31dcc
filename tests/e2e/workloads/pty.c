// Workload: pseudo-terminal pairs of the container's devpts.
// Pair A (raw): termios made raw with VMIN 3, VTIME 7, 9600 baud, window
//   33x101 (5x7 pixels), exclusive, "to-slave" written by the master and
//   "to-master" by the slave, both unread. A child C makes it its
//   controlling terminal (setsid + TIOCSCTTY) and puts its own child G's new
//   process group in the foreground (tcsetpgrp): a foreground job.
// Pair B: master only, slave never opened, still locked, packet mode on.
// Pair C (canonical, echo on, the defaults): the master typed "line1\npart"
//   (the echo "line1\r\npart" unread on the master, "line1\n" a whole line
//   and "part" a partial line unread on the slave).
// Prints "pty: READY"; on SIGUSR1 (to the init, which passes it on) every
// bit is checked again: "pty: OK" (exit 0) or "pty: FAIL <what>" (exit 1).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static void fail(const char* what) {
  printf("pty: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

static int open_master(unsigned* index) {
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  if (m < 0) fail("posix_openpt");
  if (ioctl(m, TIOCGPTN, index) != 0) fail("TIOCGPTN");
  return m;
}

static int open_slave(int m) {
  int unlock = 0;
  if (ioctl(m, TIOCSPTLCK, &unlock) != 0) fail("TIOCSPTLCK");
  char name[64];
  if (ptsname_r(m, name, sizeof name) != 0) fail("ptsname");
  int s = open(name, O_RDWR | O_NOCTTY);
  if (s < 0) fail("open slave");
  return s;
}

// Reads exactly `want` from fd (which must have it queued already).
static void expect(int fd, const char* want, const char* what) {
  char buf[128] = {0};
  struct pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, 3000) != 1) fail(what);
  ssize_t n = read(fd, buf, sizeof buf - 1);
  if (n != (ssize_t)strlen(want) || memcmp(buf, want, (size_t)n)) {
    printf("pty: %s: got '%s' (%zd bytes) want '%s'\n", what, buf, n, want);
    fail(what);
  }
}

static void expect_empty(int fd, const char* what) {
  int queued = -1;
  if (ioctl(fd, FIONREAD, &queued) != 0 || queued != 0) {
    printf("pty: %s: %d bytes more queued\n", what, queued);
    fail(what);
  }
}

static void wait_usr1(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  int sig;
  sigwait(&set, &sig);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);

  unsigned ia, ib, ic;
  int ma = open_master(&ia);
  int mb = open_master(&ib);
  int mc = open_master(&ic);
  int sa = open_slave(ma);
  int sc = open_slave(mc);

  struct termios t;
  if (tcgetattr(sa, &t) != 0) fail("tcgetattr");
  cfmakeraw(&t);
  t.c_cc[VMIN] = 3;
  t.c_cc[VTIME] = 7;
  cfsetispeed(&t, B9600);
  cfsetospeed(&t, B9600);
  if (tcsetattr(sa, TCSANOW, &t) != 0) fail("tcsetattr");
  struct winsize ws = {33, 101, 5, 7};
  if (ioctl(ma, TIOCSWINSZ, &ws) != 0) fail("TIOCSWINSZ");
  if (ioctl(sa, TIOCEXCL) != 0) fail("TIOCEXCL");
  if (write(ma, "to-slave", 8) != 8 || write(sa, "to-master", 9) != 9) fail("write A");
  int one = 1;
  if (ioctl(mb, TIOCPKT, &one) != 0) fail("TIOCPKT");
  if (write(mc, "line1\npart", 10) != 10) fail("write C");

  int ready[2];
  if (pipe(ready) != 0) fail("pipe");
  pid_t c = fork();
  if (c < 0) fail("fork");
  if (c == 0) {
    // C: session leader with pair A as controlling terminal.
    close(ma), close(mb), close(mc), close(sc), close(ready[0]);
    if (setsid() < 0) fail("C: setsid");
    if (ioctl(sa, TIOCSCTTY, 0) != 0) fail("C: TIOCSCTTY");
    pid_t g = fork();
    if (g < 0) fail("C: fork");
    if (g == 0) {
      if (setpgid(0, 0) != 0) fail("G: setpgid");
      wait_usr1();
      if (tcgetpgrp(sa) != getpgrp()) fail("G: not in the foreground after the restore");
      if (getsid(0) != getppid()) fail("G: session");
      _exit(0);
    }
    setpgid(g, g);
    if (tcsetpgrp(sa, g) != 0) fail("C: tcsetpgrp");
    if (write(ready[1], "r", 1) != 1) fail("C: ready");
    wait_usr1();
    pid_t sid = -1;
    if (ioctl(sa, TIOCGSID, &sid) != 0 || sid != getpid()) fail("C: TIOCGSID");
    if (tcgetpgrp(sa) != g) {
      printf("pty: foreground %d, want %d\n", tcgetpgrp(sa), g);
      fail("C: foreground process group");
    }
    int fd = open("/dev/tty", O_RDWR);
    if (fd < 0) fail("C: no controlling terminal (/dev/tty)");
    kill(g, SIGUSR1);
    int st;
    if (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 0) fail("C: G failed");
    _exit(0);
  }
  close(ready[1]);
  char r;
  if (read(ready[0], &r, 1) != 1) fail("child not ready");
  printf("pty: indexes %u %u %u\n", ia, ib, ic);
  printf("pty: READY\n");

  wait_usr1();
  unsigned n;
  if (ioctl(ma, TIOCGPTN, &n) != 0 || n != ia) fail("index A");
  if (ioctl(mb, TIOCGPTN, &n) != 0 || n != ib) fail("index B");
  if (ioctl(mc, TIOCGPTN, &n) != 0 || n != ic) fail("index C");
  struct termios now;
  if (tcgetattr(sa, &now) != 0) fail("tcgetattr after");
  if (now.c_iflag != t.c_iflag || now.c_oflag != t.c_oflag || now.c_cflag != t.c_cflag ||
      now.c_lflag != t.c_lflag || memcmp(now.c_cc, t.c_cc, sizeof t.c_cc) != 0 || cfgetispeed(&now) != B9600 ||
      cfgetospeed(&now) != B9600)
    fail("termios A");
  struct winsize wnow;
  if (ioctl(sa, TIOCGWINSZ, &wnow) != 0 || wnow.ws_row != 33 || wnow.ws_col != 101 || wnow.ws_xpixel != 5 ||
      wnow.ws_ypixel != 7)
    fail("window size A");
  int v = 0;
  if (ioctl(sa, TIOCGEXCL, &v) != 0 || v != 1) fail("exclusive A");
  if (ioctl(mb, TIOCGPKT, &v) != 0 || v != 1) fail("packet mode B");
  if (ioctl(mb, TIOCGPTLCK, &v) != 0 || v != 1) fail("lock B");
  if (ioctl(ma, TIOCGPTLCK, &v) != 0 || v != 0) fail("lock A");
  expect(sa, "to-slave", "data master->slave A");
  expect(ma, "to-master", "data slave->master A");
  expect(mc, "line1\r\npart", "echo on master C");
  expect_empty(mc, "no second echo on master C");
  expect(sc, "line1\n", "whole line on slave C");
  expect_empty(sc, "partial line C not complete");
  if (write(mc, "ial\n", 4) != 4) fail("write C after");
  expect(sc, "partial\n", "partial line C completed");
  kill(c, SIGUSR1);
  int st;
  if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) fail("session child C");
  printf("pty: OK\n");
  return 0;
}
