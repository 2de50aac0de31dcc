// Workload: unlinked files of other kinds than unlinked.c's.
// Mode "sparse": a sparse file unlinked while open (data at 0, at 1 MiB and
// at its last page, holes between, 3 MiB long), a file made with O_TMPFILE,
// and a character device node of its own (/dev/amber-null, 1:3, mode 0700,
// uid 123) opened and unlinked. Prints "unlinked_kinds: READY", waits for
// SIGUSR1, then checks: the sparse file's SEEK_DATA/SEEK_HOLE positions and
// st_blocks are those it had, and its content; the O_TMPFILE file's content
// and flags; the device node's type, rdev, mode and owner, still unlinked:
// "unlinked_kinds: OK" (exit 0) or "unlinked_kinds: FAIL <what>" (exit 1).
// Mode "dir": a directory /tmp/gone opened, then removed; prints READY and
// waits (the dump must refuse it).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define KIB 1024L
#define MIB (1024L * 1024L)

static void fail(const char* what) {
  printf("unlinked_kinds: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

static void pwrite_pattern(int fd, off_t at, size_t len, char seed) {
  char buf[8192];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)(seed + i % 31);
  for (size_t done = 0; done < len; done += sizeof buf)
    if (pwrite(fd, buf, sizeof buf, at + (off_t)done) != (ssize_t)sizeof buf) fail("pwrite");
}
static void check_pattern(int fd, off_t at, size_t len, char seed) {
  char buf[8192];
  for (size_t done = 0; done < len; done += sizeof buf) {
    if (pread(fd, buf, sizeof buf, at + (off_t)done) != (ssize_t)sizeof buf) fail("pread");
    for (size_t i = 0; i < sizeof buf; i++)
      if (buf[i] != (char)(seed + i % 31)) fail("sparse file content");
  }
}

// "data@a-b ..." of the file: what SEEK_DATA/SEEK_HOLE tell, through a
// description of its own (the fd's position is not moved).
static void layout(int of, char* out, size_t n) {
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", of);
  int fd = open(p, O_RDONLY);
  if (fd < 0) fail("reopen for SEEK_DATA");
  off_t size = lseek(fd, 0, SEEK_END), at = 0;
  size_t used = 0;
  out[0] = 0;
  while (at < size) {
    off_t d = lseek(fd, at, SEEK_DATA);
    if (d < 0) break;
    off_t h = lseek(fd, d, SEEK_HOLE);
    used += (size_t)snprintf(out + used, n - used, "data@%ld-%ld ", (long)d, (long)h);
    at = h;
  }
  close(fd);
}

static void wait_usr1(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int sig;
  sigwait(&set, &sig);
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  umask(0);
  if (argc > 1 && strcmp(argv[1], "dir") == 0) {
    if (mkdir("/tmp/gone", 0755)) fail("mkdir");
    int d = open("/tmp/gone", O_RDONLY | O_DIRECTORY);
    if (d < 0 || rmdir("/tmp/gone")) fail("open and remove the directory");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    printf("unlinked_kinds: READY fd=%d\n", d);
    wait_usr1();
    printf("unlinked_kinds: OK mode=dir\n");
    return 0;
  }
  int sp = open("/tmp/sparse.dat", O_RDWR | O_CREAT | O_TRUNC, 0640);
  if (sp < 0) fail("open sparse");
  pwrite_pattern(sp, 0, 8 * KIB, 'a');
  pwrite_pattern(sp, MIB, 16 * KIB, 'b');
  pwrite_pattern(sp, 3 * MIB - 8 * KIB, 8 * KIB, 'c');
  if (unlink("/tmp/sparse.dat") || lseek(sp, 12345, SEEK_SET) != 12345) fail("unlink sparse");
  struct stat s0;
  char lay0[512];
  if (fstat(sp, &s0)) fail("fstat sparse");
  layout(sp, lay0, sizeof lay0);

  int tmp = open("/tmp", O_TMPFILE | O_RDWR, 0600);
  if (tmp < 0 || write(tmp, "tmpfile data", 12) != 12) fail("O_TMPFILE");

  if (mknod("/dev/amber-null", S_IFCHR | 0700, makedev(1, 3))) fail("mknod");
  if (chown("/dev/amber-null", 123, 456)) fail("chown node");
  int node = open("/dev/amber-null", O_RDWR);
  if (node < 0 || unlink("/dev/amber-null")) fail("open and unlink the node");

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  printf("unlinked_kinds: READY sparse blocks=%ld %s\n", (long)s0.st_blocks, lay0);
  wait_usr1();

  struct stat s;
  char lay[512];
  if (fstat(sp, &s) || s.st_nlink != 0 || s.st_size != 3 * MIB) fail("sparse file attributes");
  layout(sp, lay, sizeof lay);
  if (strcmp(lay, lay0)) {
    printf("unlinked_kinds: sparse layout now %s, was %s\n", lay, lay0);
    fail("sparse file holes");
  }
  if (s.st_blocks != s0.st_blocks) {
    printf("unlinked_kinds: st_blocks now %ld, was %ld\n", (long)s.st_blocks, (long)s0.st_blocks);
    fail("sparse file st_blocks");
  }
  if ((s.st_mode & 07777) != 0640) fail("sparse file mode");
  if (lseek(sp, 0, SEEK_CUR) != 12345) fail("sparse file position");
  check_pattern(sp, 0, 8 * KIB, 'a');
  check_pattern(sp, MIB, 16 * KIB, 'b');
  check_pattern(sp, 3 * MIB - 8 * KIB, 8 * KIB, 'c');

  char buf[32] = {0};
  if (fstat(tmp, &s) || s.st_nlink != 0 || s.st_size != 12) fail("O_TMPFILE file attributes");
  if (pread(tmp, buf, sizeof buf, 0) != 12 || memcmp(buf, "tmpfile data", 12)) fail("O_TMPFILE file content");
  if ((fcntl(tmp, F_GETFL) & (O_ACCMODE | O_TMPFILE)) != (O_RDWR | O_TMPFILE) || write(tmp, "!", 1) != 1)
    fail("O_TMPFILE file flags");
  if (lseek(tmp, 0, SEEK_CUR) != 13) fail("O_TMPFILE file position");

  if (fstat(node, &s)) fail("fstat node");
  if (!S_ISCHR(s.st_mode) || s.st_rdev != makedev(1, 3)) fail("device node type or rdev");
  if ((s.st_mode & 07777) != 0700) {
    printf("unlinked_kinds: node mode %o\n", s.st_mode & 07777);
    fail("device node mode");
  }
  if (s.st_uid != 123 || s.st_gid != 456) fail("device node owner");
  if (s.st_nlink != 0) fail("device node linked again");
  char link[256] = {0}, p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", node);
  if (readlink(p, link, sizeof link - 1) < 0 || strcmp(link, "/dev/amber-null (deleted)")) fail("device node name");
  if ((fcntl(node, F_GETFL) & O_ACCMODE) != O_RDWR || write(node, "x", 1) != 1) fail("device node flags");
  printf("unlinked_kinds: OK mode=sparse\n");
  return 0;
}
