// Workload: file locks of every kind the restore takes again, on a file in
// the container's /tmp. Through one description (fd a): a POSIX write lock
// on bytes 0-9 and a POSIX read lock from byte 100 to EOF; through another
// (fd b): an OFD write lock on bytes 20-29; through a third (fd c), on a
// second file: flock(LOCK_EX); on a third file it also maps MAP_SHARED (fd
// d): a POSIX write lock on bytes 0-99 (restored after the mappings, whose
// restore opens and closes the file). Prints "locks: READY" and waits for SIGUSR1;
// then a forked child (its own lock owner, its own descriptions) checks
// that each lock still excludes it and that the bytes between are free:
// "locks: OK" (exit 0) or "locks: FAIL <what>" (exit 1).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void fail(const char* what) {
  printf("locks: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

static int range(int fd, int cmd, short type, off_t start, off_t len) {
  struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
  return fcntl(fd, cmd, &fl);
}

// From a child: taking `type` on the range must fail with EAGAIN (held) or
// succeed (free).
static void expect(int fd, int cmd, short type, off_t start, off_t len, int held, const char* what) {
  int rc = range(fd, cmd, type, start, len);
  if (held && !(rc < 0 && (errno == EAGAIN || errno == EACCES))) fail(what);
  if (!held && rc != 0) fail(what);
  if (!held) range(fd, cmd, F_UNLCK, start, len);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int a = open("/tmp/locked", O_RDWR | O_CREAT | O_TRUNC, 0600);
  int b = open("/tmp/locked", O_RDWR);
  int c = open("/tmp/flocked", O_RDWR | O_CREAT | O_TRUNC, 0600);
  int d = open("/tmp/mapped", O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (a < 0 || b < 0 || c < 0 || d < 0) fail("open");
  if (ftruncate(d, 4096)) fail("ftruncate");
  char* map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, d, 0);
  if (map == MAP_FAILED) fail("mmap");
  strcpy(map, "mapped");
  if (range(a, F_SETLK, F_WRLCK, 0, 10) || range(a, F_SETLK, F_RDLCK, 100, 0)) fail("POSIX locks");
  if (range(b, F_OFD_SETLK, F_WRLCK, 20, 10)) fail("OFD lock");
  if (flock(c, LOCK_EX | LOCK_NB)) fail("flock");
  if (range(d, F_SETLK, F_WRLCK, 0, 100)) fail("POSIX lock on the mapped file");

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  printf("locks: READY\n");
  int sig;
  sigwait(&set, &sig);

  pid_t child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    int x = open("/tmp/locked", O_RDWR), y = open("/tmp/flocked", O_RDWR), z = open("/tmp/mapped", O_RDWR);
    if (x < 0 || y < 0 || z < 0) fail("open in the child");
    expect(z, F_SETLK, F_RDLCK, 50, 1, 1, "POSIX write lock 0-99 on the mapped file is gone");
    expect(z, F_SETLK, F_WRLCK, 100, 10, 0, "bytes 100-109 of the mapped file are locked");
    if (strcmp(map, "mapped") != 0) fail("the mapping lost its content");
    expect(x, F_SETLK, F_RDLCK, 5, 1, 1, "POSIX write lock 0-9 is gone");
    expect(x, F_SETLK, F_WRLCK, 150, 1, 1, "POSIX read lock 100-EOF is gone");
    expect(x, F_SETLK, F_RDLCK, 150, 1, 0, "POSIX read lock 100-EOF became a write lock");
    expect(x, F_SETLK, F_WRLCK, 25, 1, 1, "OFD write lock 20-29 is gone");
    expect(x, F_OFD_SETLK, F_WRLCK, 25, 1, 1, "OFD write lock 20-29 is gone (OFD)");
    expect(x, F_SETLK, F_WRLCK, 10, 10, 0, "bytes 10-19 are locked");
    expect(x, F_SETLK, F_WRLCK, 30, 70, 0, "bytes 30-99 are locked");
    if (!(flock(y, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK)) fail("flock is gone");
    _exit(0);
  }
  int st;
  if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st) != 0) _exit(1);
  printf("locks: OK\n");
  return 0;
}
