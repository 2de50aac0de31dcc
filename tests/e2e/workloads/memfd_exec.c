// Workload: executing a memfd. It copies its own (static) executable into a
// memfd_create'd fd and checks a forked child can execveat(fd, "",
// AT_EMPTY_PATH) it; a second, read-only description of the memfd is kept
// too. Prints "memfd_exec: READY", waits for SIGUSR1, then execs it again in
// a child (it must not fail with ETXTBSY: amber must not leave a counted
// writer of the memfd behind) and writes to the memfd:
// "memfd_exec: OK" (exit 0) or "memfd_exec: FAIL <what>" (exit 1).
// Run as "memfd_exec child", it prints where it runs from and exits 7.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

static void fail(const char* what) {
  printf("memfd_exec: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

// Forks a child that execs the memfd; its exit status, or 100 + errno.
static int run_from(int fd) {
  pid_t c = fork();
  if (c < 0) fail("fork");
  if (c == 0) {
    char* argv[] = {"memfd_exec", "child", NULL};
    execveat(fd, "", argv, environ, AT_EMPTY_PATH);
    _exit(100 + errno);
  }
  int st;
  if (waitpid(c, &st, 0) != c || !WIFEXITED(st)) fail("wait for the child");
  return WEXITSTATUS(st);
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 1 && strcmp(argv[1], "child") == 0) {
    char exe[256] = {0};
    if (readlink("/proc/self/exe", exe, sizeof exe - 1) < 0) _exit(2);
    printf("memfd_exec: child runs from %s\n", exe);
    _exit(strncmp(exe, "/memfd:payload", 14) == 0 ? 7 : 3);
  }
  int fd = memfd_create("payload", 0);
  int self = open("/proc/self/exe", O_RDONLY);
  if (fd < 0 || self < 0) fail("memfd_create or open self");
  char buf[65536];
  ssize_t n;
  while ((n = read(self, buf, sizeof buf)) > 0)
    if (write(fd, buf, (size_t)n) != n) fail("copy into the memfd");
  close(self);
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  int ro = open(p, O_RDONLY);
  if (ro < 0) fail("read-only reopen");
  int st = run_from(fd);
  if (st != 7) {
    printf("memfd_exec: child status %d before the dump\n", st);
    fail("exec the memfd before the dump");
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  printf("memfd_exec: READY fd=%d\n", fd);
  int sig;
  sigwait(&set, &sig);

  if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDWR) fail("memfd flags");
  st = run_from(fd);
  if (st != 7) {
    printf("memfd_exec: child status %d after restore (ETXTBSY is %d)\n", st, 100 + ETXTBSY);
    fail("exec the memfd after restore");
  }
  st = run_from(ro);
  if (st != 7) fail("exec the memfd through the read-only description");
  off_t end = lseek(fd, 0, SEEK_END);
  if (end <= 0 || write(fd, "x", 1) != 1) fail("write the memfd");
  printf("memfd_exec: OK\n");
  return 0;
}
