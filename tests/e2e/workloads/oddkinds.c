// Workload: one odd kind of file or mapping, chosen by argv[1], held while
// the container is dumped:
//   opath_symlink  fd 5: O_PATH | O_NOFOLLOW of a symbolic link
//   opath_fifo     fd 5: O_PATH of a FIFO (no reader or writer: not an end)
//   opath_dev      fd 5: O_PATH of /dev/null
//   pidfd          fd 5: a pidfd of its child (a task of the container)
//   pidfd_zombie   fd 5: a pidfd of its child that has exited, not reaped
//   nsfs           fd 5: /proc/self/ns/net (the container's own namespace)
//   deleted_cwd    its working directory was removed
//   deleted_fifo   fd 5: a FIFO opened O_RDWR with "fifo data" queued, unlinked
//   lease          fd 5: a read lease (F_SETLEASE) on a file of /tmp
//   clone_files    a child process sharing its fd table (CLONE_FILES)
//   fanotify       fd 5: a fanotify group
//   aio            an aio ring (io_setup) mapped
// Prints "oddkinds: READY" and waits for SIGUSR1; then checks what it can of
// its object ("oddkinds: OK", exit 0; "oddkinds: FAIL <what>", exit 1).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void fail(const char* what) {
  printf("oddkinds: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

static void at5(int fd, const char* what) {
  if (fd < 0) fail(what);
  if (fd != 5 && (dup2(fd, 5) != 5 || close(fd) != 0)) fail(what);
}

static int wait_usr1(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  int sig;
  return sigwait(&set, &sig);
}

static char stack[64 * 1024];
static int sleeper(void* arg) {
  (void)arg;
  for (;;) pause();
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc != 2) fail("usage");
  const char* mode = argv[1];
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  pid_t child = -1;
  if (!strcmp(mode, "opath_symlink")) {
    if (symlink("/etc/hostname", "/tmp/link") != 0) fail("symlink");
    at5(open("/tmp/link", O_PATH | O_NOFOLLOW), "open link");
  } else if (!strcmp(mode, "opath_fifo")) {
    if (mkfifo("/tmp/fifo", 0600) != 0) fail("mkfifo");
    at5(open("/tmp/fifo", O_PATH), "open fifo");
  } else if (!strcmp(mode, "opath_dev")) {
    at5(open("/dev/null", O_PATH), "open /dev/null");
  } else if (!strcmp(mode, "pidfd")) {
    child = fork();
    if (child == 0) {
      for (;;) pause();
    }
    at5((int)syscall(SYS_pidfd_open, child, 0), "pidfd_open");
  } else if (!strcmp(mode, "pidfd_zombie")) {
    child = fork();
    if (child == 0) _exit(3);
    at5((int)syscall(SYS_pidfd_open, child, 0), "pidfd_open");
    siginfo_t si;
    if (waitid(P_PID, child, &si, WEXITED | WNOWAIT) != 0) fail("waitid");
  } else if (!strcmp(mode, "nsfs")) {
    at5(open("/proc/self/ns/net", O_RDONLY), "open ns");
  } else if (!strcmp(mode, "deleted_cwd")) {
    if (mkdir("/tmp/gone", 0700) != 0 || chdir("/tmp/gone") != 0 || rmdir("/tmp/gone") != 0) fail("cwd");
  } else if (!strcmp(mode, "deleted_fifo")) {
    if (mkfifo("/tmp/dfifo", 0600) != 0) fail("mkfifo");
    at5(open("/tmp/dfifo", O_RDWR), "open fifo");
    if (write(5, "fifo data", 9) != 9 || unlink("/tmp/dfifo") != 0) fail("fifo");
  } else if (!strcmp(mode, "lease")) {
    int fd = open("/tmp/leased", O_RDWR | O_CREAT, 0644);
    if (fd < 0) fail("create");
    close(fd);
    at5(open("/tmp/leased", O_RDONLY), "open leased");
    if (fcntl(5, F_SETLEASE, F_RDLCK) != 0) fail("F_SETLEASE");
  } else if (!strcmp(mode, "clone_files")) {
    child = clone(sleeper, stack + sizeof stack, CLONE_FILES | SIGCHLD, NULL);
    if (child < 0) fail("clone");
  } else if (!strcmp(mode, "fanotify")) {
    at5(fanotify_init(FAN_CLASS_NOTIF, O_RDONLY), "fanotify_init");
  } else if (!strcmp(mode, "aio")) {
    aio_context_t ctx = 0;
    if (syscall(SYS_io_setup, 8, &ctx) != 0) fail("io_setup");
  } else {
    fail("unknown mode");
  }
  printf("oddkinds: READY %s\n", mode);
  wait_usr1();
  if (!strcmp(mode, "deleted_fifo")) {
    char buf[16] = {0};
    if (read(5, buf, sizeof buf) != 9 || memcmp(buf, "fifo data", 9)) fail("fifo data");
  }
  if (!strcmp(mode, "pidfd")) {
    struct pollfd p = {5, POLLIN, 0};
    if (poll(&p, 1, 0) != 0) fail("pidfd: child already gone");
    kill(child, SIGKILL);
    if (poll(&p, 1, 5000) != 1) fail("pidfd: no exit seen through the pidfd");
    if (waitpid(child, NULL, 0) != child) fail("waitpid");
  }
  printf("oddkinds: OK\n");
  return 0;
}
