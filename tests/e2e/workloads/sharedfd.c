// Workload: the init and its fork child share one open file description (the
// same position), and the container log as stdout; a second fd of the child
// is close-on-exec, a third is not. Prints "sharedfd: READY". On SIGUSR1 the
// init writes "P" (moving the shared position), checks with kcmp that both
// fds are still one description (and stdout too), and wakes the child, which
// must see the position the init left, writes "C" and checks its fd flags.
// Then the file must read "helloPC" and the position be 7: "sharedfd: OK"
// (exit 0) or "sharedfd: FAIL <what>" (exit 1).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define FILE_PATH "/tmp/sharedfd.txt"

static void fail(const char* what) {
  printf("sharedfd: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

static int same_description(pid_t a, pid_t b, int fd) {
  return syscall(SYS_kcmp, a, b, KCMP_FILE, fd, fd) == 0;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int fd = open(FILE_PATH, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) fail("open");
  if (write(fd, "hello", 5) != 5) fail("write");
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  pid_t child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    if (dup2(fd, 7) != 7 || fcntl(7, F_SETFD, FD_CLOEXEC)) fail("child: dup2");
    if (dup2(fd, 8) != 8) fail("child: dup2");
    int sig;
    sigwait(&set, &sig);
    if (lseek(fd, 0, SEEK_CUR) != 6) fail("child: shared position not moved by the parent");
    if (write(7, "C", 1) != 1) fail("child: write");
    if (fcntl(7, F_GETFD) != FD_CLOEXEC || fcntl(8, F_GETFD) != 0 || fcntl(fd, F_GETFD) != 0)
      fail("child: close-on-exec flags");
    _exit(0);
  }
  usleep(100000);  // the child's dups are made
  printf("sharedfd: READY child=%d\n", child);
  int sig;
  sigwait(&set, &sig);
  if (write(fd, "P", 1) != 1) fail("write P");
  if (!same_description(getpid(), child, fd)) fail("the file is no longer one description");
  if (!same_description(getpid(), child, 1)) fail("stdout (the log) is no longer one description");
  kill(child, SIGUSR1);
  int st;
  if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st) != 0) fail("child failed");
  char buf[16] = {0};
  if (pread(fd, buf, sizeof buf - 1, 0) != 7 || strcmp(buf, "helloPC")) fail("file content");
  if (lseek(fd, 0, SEEK_CUR) != 7) fail("final position");
  printf("sharedfd: OK\n");
  return 0;
}
