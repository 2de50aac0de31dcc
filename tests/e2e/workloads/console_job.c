// A foreground job of an interactive shell on the container's console
// (amber run --tty): sets a termios and a window size of its own, records
// them with its process group, session and controlling terminal, says
// READY and blocks reading a line from the terminal. The dump happens
// while it waits (with part of a line typed and unread); after the restore
// the rest of the line is typed through amber attach: the job checks that
// every recorded bit is what the terminal says now, then prints
// "console: OK line=<the line>" or "console: FAIL <what>", exit 0 or 1.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

static int failed;
#define CHECK(cond, ...)                  \
  do {                                    \
    if (!(cond)) {                        \
      printf("console: FAIL " __VA_ARGS__); \
      printf("\n");                       \
      failed = 1;                         \
    }                                     \
  } while (0)

// tty_nr of /proc/self/stat (field 7): the controlling terminal.
static long ctty_nr(void) {
  char buf[1024];
  int fd = open("/proc/self/stat", O_RDONLY);
  ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
  if (fd >= 0) close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  char* p = strrchr(buf, ')');
  char state;
  int ppid, pgrp, session, tty_nr;
  if (!p || sscanf(p + 2, "%c %d %d %d %d", &state, &ppid, &pgrp, &session, &tty_nr) != 5) return -1;
  return tty_nr;
}

int main(void) {
  struct termios t;
  if (tcgetattr(0, &t) != 0) {
    printf("console: FAIL tcgetattr: %m\n");
    return 1;
  }
  // Unlike any default: erase ^H, no ECHOCTL, a 19200 speed, VMIN 3.
  t.c_cc[VERASE] = 0x08;
  t.c_lflag &= ~(tcflag_t)ECHOCTL;
  t.c_cc[VMIN] = 3;
  cfsetispeed(&t, B19200);
  cfsetospeed(&t, B19200);
  if (tcsetattr(0, TCSANOW, &t) != 0) {
    printf("console: FAIL tcsetattr: %m\n");
    return 1;
  }
  struct winsize ws = {.ws_row = 33, .ws_col = 77, .ws_xpixel = 5, .ws_ypixel = 9};
  if (ioctl(0, TIOCSWINSZ, &ws) != 0) {
    printf("console: FAIL TIOCSWINSZ: %m\n");
    return 1;
  }
  struct termios before;
  tcgetattr(0, &before);
  const pid_t pgrp = getpgrp(), sid = getsid(0);
  const pid_t fg = tcgetpgrp(0), tsid = tcgetsid(0);
  int devtty = open("/dev/tty", O_RDWR);
  printf("console: pgrp %d fg %d sid %d tsid %d devtty %d\n", pgrp, fg, sid, tsid, devtty >= 0);
  CHECK(pgrp == fg, "not the foreground job before the dump (pgrp %d, foreground %d)", pgrp, fg);
  CHECK(pgrp != sid, "not a job of its own (pgrp %d = session)", pgrp);
  printf("console: READY\n");
  fflush(stdout);

  char line[256];
  if (!fgets(line, sizeof line, stdin)) {
    printf("console: FAIL read: %m\n");
    return 1;
  }
  line[strcspn(line, "\r\n")] = 0;
  struct termios after;
  CHECK(tcgetattr(0, &after) == 0, "tcgetattr after: %m");
  CHECK(after.c_iflag == before.c_iflag && after.c_oflag == before.c_oflag && after.c_cflag == before.c_cflag &&
            after.c_lflag == before.c_lflag,
        "termios flags %x %x %x %x, were %x %x %x %x", after.c_iflag, after.c_oflag, after.c_cflag, after.c_lflag,
        before.c_iflag, before.c_oflag, before.c_cflag, before.c_lflag);
  CHECK(memcmp(after.c_cc, before.c_cc, sizeof before.c_cc) == 0, "control characters differ");
  CHECK(cfgetispeed(&after) == B19200 && cfgetospeed(&after) == B19200, "speeds differ");
  struct winsize w2;
  CHECK(ioctl(0, TIOCGWINSZ, &w2) == 0 && w2.ws_row == 33 && w2.ws_col == 77 && w2.ws_xpixel == 5 &&
            w2.ws_ypixel == 9,
        "window size %ux%u (%u,%u)", w2.ws_row, w2.ws_col, w2.ws_xpixel, w2.ws_ypixel);
  CHECK(getpgrp() == pgrp && getsid(0) == sid, "pgrp %d sid %d, were %d %d", getpgrp(), getsid(0), pgrp, sid);
  CHECK(tcgetpgrp(0) == fg, "foreground group %d, was %d", tcgetpgrp(0), fg);
  CHECK(tcgetsid(0) == tsid, "the terminal's session %d, was %d", tcgetsid(0), tsid);
  struct stat st;
  CHECK(fstat(0, &st) == 0 && (long)st.st_rdev == ctty_nr(), "stdin is not the controlling terminal (%lx, %lx)",
        (long)st.st_rdev, ctty_nr());
  // /dev/tty opened again reaches the same terminal.
  int again = open("/dev/tty", O_RDWR);
  CHECK(again >= 0, "open /dev/tty after: %m");
  if (devtty >= 0) CHECK(write(devtty, "", 0) == 0, "the /dev/tty fd of before: %m");
  if (failed) return 1;
  printf("console: OK line=%s\n", line);
  return 0;
}
