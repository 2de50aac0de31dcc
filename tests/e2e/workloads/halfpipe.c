// Workload: pipes with one end closed everywhere. The init holds
// - fd "r": the read end of a pipe with "leftover" queued whose write end
//   it closed (no writer anywhere),
// - fd "w": the write end of a pipe whose read end it closed (no reader),
//   with SIGPIPE ignored,
// and its fork child holds the read end of a third pipe whose write end
// only the init held and closed (the child must see EOF without data).
// Prints "halfpipe: READY". On SIGUSR1: the init reads "leftover" then end
// of file from r, gets EPIPE writing to w, waits for the child (exit 0 on
// EOF), and prints "halfpipe: OK" (exit 0) or "halfpipe: FAIL <what>"
// (exit 1). Before the dump the reads would block (no EOF) only if the
// restore left a writer open: the EOF is what is checked.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void fail(const char* what) {
  printf("halfpipe: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

// Reads with a deadline: a pipe that still has a writer never reaches EOF.
static ssize_t read_within(int fd, char* buf, size_t len, int ms) {
  struct pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, ms) != 1) fail("poll: no data and no EOF (a writer is still open?)");
  return read(fd, buf, len);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);
  int a[2], b[2], c[2];
  if (pipe(a) || pipe(b) || pipe(c)) fail("pipe");
  if (write(a[1], "leftover", 8) != 8) fail("write a");
  if (write(b[1], "unread", 6) != 6) fail("write b");
  close(a[1]);  // a: no writer
  close(b[0]);  // b: no reader
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  pid_t child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    close(c[1]);
    // Blocked in read() across the dump: EOF arrives once the init closes
    // its end after the restore.
    char buf[8];
    ssize_t n = read(c[0], buf, sizeof buf);
    _exit(n == 0 ? 0 : 3);
  }
  close(c[0]);
  printf("halfpipe: READY child=%d\n", child);
  int sig;
  sigwait(&set, &sig);
  char buf[32] = {0};
  ssize_t n = read_within(a[0], buf, sizeof buf - 1, 5000);
  if (n != 8 || memcmp(buf, "leftover", 8)) fail("data of the pipe without writer");
  n = read_within(a[0], buf, sizeof buf, 5000);
  if (n != 0) fail("no EOF after the data");
  if (write(b[1], "x", 1) != -1 || errno != EPIPE) fail("write to the pipe without reader: no EPIPE");
  close(c[1]);
  int st;
  if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st)) fail("child: no EOF");
  printf("halfpipe: OK\n");
  return 0;
}
