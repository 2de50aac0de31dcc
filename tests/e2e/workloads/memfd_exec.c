// Workload: executing a memfd. It copies its own (static) executable into a
// memfd_create'd fd and checks a forked child can execveat(fd, "",
// AT_EMPTY_PATH) it; a second, read-only description of the memfd is kept
// too. Prints "memfd_exec: READY", waits for SIGUSR1, then execs it again in
// a child (it must not fail with ETXTBSY: amber must not leave a counted
// writer of the memfd behind) and writes to the memfd:
// "memfd_exec: OK" (exit 0) or "memfd_exec: FAIL <what>" (exit 1).
// Run as "memfd_exec child", it prints where it runs from and exits 7.
// Mode "self": it re-execs itself from the memfd first ("selfrun FD": its
// executable and code are the memfd's), fills a pattern in .data, prints
// READY; after restore it checks the pattern, that /proc/self/exe is still
// the memfd and denies writers (ETXTBSY, as after execve), and execs the
// memfd again in a child.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
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

static unsigned char data_pattern[3 * 4096] = {1};

static int copy_self(void) {
  int fd = memfd_create("payload", 0);
  int self = open("/proc/self/exe", O_RDONLY);
  if (fd < 0 || self < 0) fail("memfd_create or open self");
  char buf[65536];
  ssize_t n;
  while ((n = read(self, buf, sizeof buf)) > 0)
    if (write(fd, buf, (size_t)n) != n) fail("copy into the memfd");
  close(self);
  return fd;
}

static int self_run(int fd) {
  char exe[256] = {0};
  if (readlink("/proc/self/exe", exe, sizeof exe - 1) < 0 || strcmp(exe, "/memfd:payload (deleted)"))
    fail("not running from the memfd");
  for (size_t i = 0; i < sizeof data_pattern; i++) data_pattern[i] = (unsigned char)(i * 3 + 1);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  printf("memfd_exec: READY fd=%d self\n", fd);
  int sig;
  sigwait(&set, &sig);
  for (size_t i = 0; i < sizeof data_pattern; i++)
    if (data_pattern[i] != (unsigned char)(i * 3 + 1)) fail("pattern in .data");
  memset(exe, 0, sizeof exe);
  if (readlink("/proc/self/exe", exe, sizeof exe - 1) < 0 || strcmp(exe, "/memfd:payload (deleted)")) {
    printf("memfd_exec: exe is %s\n", exe);
    fail("executable after restore");
  }
  if (open("/proc/self/exe", O_RDWR) >= 0 || errno != ETXTBSY) fail("the executable accepts a writer");
  int st = run_from(fd);
  if (st != 7) {
    printf("memfd_exec: child status %d after restore\n", st);
    fail("exec the memfd after restore");
  }
  printf("memfd_exec: OK self\n");
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 2 && strcmp(argv[1], "selfrun") == 0) return self_run(atoi(argv[2]));
  if (argc > 1 && strcmp(argv[1], "self") == 0) {
    int fd = copy_self();
    char num[16];
    snprintf(num, sizeof num, "%d", fd);
    char* args[] = {"memfd_exec", "selfrun", num, NULL};
    execveat(fd, "", args, environ, AT_EMPTY_PATH);
    fail("execveat the memfd");
  }
  if (argc > 1 && strcmp(argv[1], "child") == 0) {
    char exe[256] = {0};
    if (readlink("/proc/self/exe", exe, sizeof exe - 1) < 0) _exit(2);
    printf("memfd_exec: child runs from %s\n", exe);
    _exit(strncmp(exe, "/memfd:payload", 14) == 0 ? 7 : 3);
  }
  int fd = copy_self();
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
