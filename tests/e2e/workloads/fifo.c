// Workload: named pipes (FIFOs) with unread data, ends in two processes.
// /tmp/f1: the init reads (O_RDONLY | O_NONBLOCK), its fork child writes
// (O_WRONLY) "queued" before the dump; /tmp/f2: the init alone holds it
// O_RDWR with "self" queued. Prints "fifo: READY". On SIGUSR1 the init must
// read "queued", wake the child, which writes "more", read that too, read
// "self" from f2, and find its flags kept: "fifo: OK" (exit 0) or
// "fifo: FAIL <what>" (exit 1).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void fail(const char* what) {
  printf("fifo: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

static void expect(int fd, const char* want) {
  char buf[64] = {0};
  struct pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, 5000) != 1) fail("poll");
  ssize_t n = read(fd, buf, sizeof buf - 1);
  if (n != (ssize_t)strlen(want) || memcmp(buf, want, (size_t)n)) {
    printf("fifo: got '%s' want '%s'\n", buf, want);
    fail("FIFO data");
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (mkfifo("/tmp/f1", 0600) || mkfifo("/tmp/f2", 0644)) fail("mkfifo");
  int r = open("/tmp/f1", O_RDONLY | O_NONBLOCK);
  int self = open("/tmp/f2", O_RDWR);
  if (r < 0 || self < 0) fail("open");
  if (write(self, "self", 4) != 4) fail("write f2");
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  pid_t child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    close(r);
    close(self);
    int w = open("/tmp/f1", O_WRONLY);
    if (w < 0 || write(w, "queued", 6) != 6) fail("child: write");
    int sig;
    sigwait(&set, &sig);
    if (fcntl(w, F_GETFL) & O_NONBLOCK) fail("child: flags");
    if (write(w, "more", 4) != 4) fail("child: write more");
    _exit(0);
  }
  usleep(200000);
  printf("fifo: READY child=%d\n", child);
  int sig;
  sigwait(&set, &sig);
  if (!(fcntl(r, F_GETFL) & O_NONBLOCK) || (fcntl(r, F_GETFL) & O_ACCMODE) != O_RDONLY) fail("read end flags");
  if ((fcntl(self, F_GETFL) & O_ACCMODE) != O_RDWR) fail("f2 flags");
  expect(r, "queued");
  kill(child, SIGUSR1);
  expect(r, "more");
  expect(self, "self");
  int st;
  if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st)) fail("child");
  printf("fifo: OK\n");
  return 0;
}
