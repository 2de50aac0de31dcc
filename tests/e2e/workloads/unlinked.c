// Workload: files open but unlinked. A log (O_WRONLY | O_APPEND, mode 0640)
// written by the init and its fork child through one description, then
// unlinked; a data file (O_RDWR) unlinked with its position at 40; a
// directory and /dev/urandom kept open too. Prints "unlinked: READY". On
// SIGUSR1 both append to the log again; the log must hold everything written
// before the dump followed by the new lines, still be unlinked, and the data
// file keep its position, content and flags: "unlinked: OK" (exit 0) or
// "unlinked: FAIL <what>" (exit 1).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void fail(const char* what) {
  printf("unlinked: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

static void put(int fd, const char* s) {
  if (write(fd, s, strlen(s)) != (ssize_t)strlen(s)) fail("write");
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  umask(0);
  int log = open("/tmp/unlinked.log", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0640);
  if (log < 0) fail("open log");
  put(log, "parent before\n");
  int data = open("/tmp/unlinked.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (data < 0) fail("open data");
  char block[100];
  for (int i = 0; i < 100; i++) block[i] = (char)('a' + i % 26);
  if (write(data, block, 100) != 100 || lseek(data, 40, SEEK_SET) != 40) fail("data file");
  int dir = open("/tmp", O_RDONLY | O_DIRECTORY);
  int rnd = open("/dev/urandom", O_RDONLY);
  if (dir < 0 || rnd < 0) fail("open /tmp or /dev/urandom");

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  pid_t child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    put(log, "child before\n");
    int sig;
    sigwait(&set, &sig);
    put(log, "child after\n");
    _exit(0);
  }
  usleep(100000);
  if (unlink("/tmp/unlinked.log") || unlink("/tmp/unlinked.dat")) fail("unlink");
  // A new file under the old name, as a log rotation leaves it.
  int fresh = open("/tmp/unlinked.dat", O_WRONLY | O_CREAT, 0600);
  if (fresh < 0 || write(fresh, "new", 3) != 3) fail("fresh file");
  close(fresh);
  printf("unlinked: READY child=%d\n", child);
  int sig;
  sigwait(&set, &sig);

  kill(child, SIGUSR1);
  int st;
  if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st)) fail("child");
  put(log, "parent after\n");

  struct stat s;
  if (fstat(log, &s) || s.st_nlink != 0) fail("the log is linked again");
  if ((s.st_mode & 07777) != 0640) fail("log mode");
  char link[256] = {0};
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", log);
  if (readlink(p, link, sizeof link - 1) < 0 || strcmp(link, "/tmp/unlinked.log (deleted)")) fail("log name");
  if ((fcntl(log, F_GETFL) & (O_ACCMODE | O_APPEND)) != (O_WRONLY | O_APPEND)) fail("log flags");
  int r = open(p, O_RDONLY);
  char buf[256] = {0};
  if (r < 0 || read(r, buf, sizeof buf - 1) < 0) fail("read the log back");
  if (strcmp(buf, "parent before\nchild before\nchild after\nparent after\n")) fail("log content");

  if (lseek(data, 0, SEEK_CUR) != 40) fail("data position");
  char got[10];
  if (read(data, got, 10) != 10 || memcmp(got, block + 40, 10)) fail("data content");
  if ((fcntl(data, F_GETFL) & O_ACCMODE) != O_RDWR) fail("data flags");
  if (fstat(data, &s) || s.st_nlink != 0 || s.st_size != 100) fail("data file attributes");
  int f2 = open("/tmp/unlinked.dat", O_RDONLY);
  if (f2 < 0 || read(f2, got, 10) != 3 || memcmp(got, "new", 3)) fail("the file now under the old name");
  if (fstat(dir, &s) || !S_ISDIR(s.st_mode)) fail("directory fd");
  if (read(rnd, got, 10) != 10) fail("/dev/urandom fd");
  printf("unlinked: OK\n");
  return 0;
}
