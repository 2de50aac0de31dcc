// Workload: memory shared between a process and its fork child.
//   A  shared anonymous memory (MAP_SHARED | MAP_ANONYMOUS, 3 pages, the last
//      never touched), both write into it before the dump;
//   P  private anonymous pages written before the fork (copy-on-write shared);
//   M  a memfd "amber-shmem-test" of 2 pages + 100 bytes, sealed against
//      shrinking and growing, mapped MAP_SHARED by both; its fd stays open
//      (one description, position 5, inherited by the child);
//   F  the file argv[1] mapped MAP_SHARED read-write (written before the dump);
//   D, W  private areas with MADV_DONTFORK and MADV_WIPEONFORK.
// Prints "shmem: READY child=PID". On SIGUSR1 the init writes into A and M
// and wakes the child, which must see both writes (one memory, not copies),
// checks P, writes its own answer into A and exits; the init must see it.
// Then flags, names, seals and F (mapping == file) are checked:
// "shmem: OK" (exit 0) or "shmem: FAIL <what>" (exit 1).
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

#define PG 4096
#define MEMFD_SIZE (2 * PG + 100)

static void fail(const char* what) {
  printf("shmem: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

static void* map(size_t len, int prot, int flags, int fd) {
  void* p = mmap(NULL, len, prot, flags, fd, 0);
  if (p == MAP_FAILED) fail("mmap");
  return p;
}

// The VmFlags line of the area starting at `addr` in /proc/self/smaps.
static int has_vmflag(void* addr, const char* flag) {
  FILE* f = fopen("/proc/self/smaps", "r");
  if (!f) fail("open smaps");
  char line[512], want[32];
  snprintf(want, sizeof want, "%lx-", (unsigned long)addr);
  int in = 0, found = 0;
  while (fgets(line, sizeof line, f)) {
    if (strchr(line, '-') && strncmp(line, want, strlen(want)) == 0) in = 1;
    else if (in && strncmp(line, "VmFlags:", 8) == 0) {
      char needle[8];
      snprintf(needle, sizeof needle, " %s", flag);
      found = strstr(line + 8, needle) != NULL;
      break;
    }
  }
  fclose(f);
  return found;
}

static int maps_line_has(void* addr, const char* text) {
  FILE* f = fopen("/proc/self/maps", "r");
  if (!f) fail("open maps");
  char line[512], want[32];
  snprintf(want, sizeof want, "%lx-", (unsigned long)addr);
  int ok = 0;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, want, strlen(want)) == 0) ok = strstr(line, text) != NULL;
  fclose(f);
  return ok;
}

static void fill(char* p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) p[i] = (char)(seed + i * 7);
}
static int check(const char* p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != (char)(seed + i * 7)) return 0;
  return 1;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) fail("usage: shmem FILE");
  char* A = map(3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
  char* P = map(4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
  fill(P, 4 * PG, 11);
  strcpy(A, "before-fork");

  int mfd = memfd_create("amber-shmem-test", MFD_ALLOW_SEALING);
  if (mfd < 0) fail("memfd_create");
  if (ftruncate(mfd, MEMFD_SIZE)) fail("ftruncate memfd");
  char* M = map(3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, mfd);
  fill(M, MEMFD_SIZE, 23);
  if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW)) fail("F_ADD_SEALS");
  if (lseek(mfd, 5, SEEK_SET) != 5) fail("lseek memfd");

  int ffd = open(argv[1], O_RDWR);
  if (ffd < 0) fail("open file");
  char* F = map(PG, PROT_READ | PROT_WRITE, MAP_SHARED, ffd);
  close(ffd);
  memcpy(F, "written through the mapping", 27);

  char* D = map(PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
  char* W = map(PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  pid_t child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    strcpy(A + PG, "child-before-dump");
    int sig;
    sigwait(&set, &sig);
    if (strcmp(A + 2 * PG - 64, "parent-after-restore")) fail("child: A does not show the parent's write");
    if (strcmp(M + PG, "parent-in-memfd")) fail("child: M does not show the parent's write");
    if (!check(P, 4 * PG, 11)) fail("child: private COW pages changed");
    if (!check(M, PG, 23)) fail("child: memfd content");
    if (lseek(mfd, 0, SEEK_CUR) != 7) fail("child: the memfd position is not shared with the parent");
    strcpy(A + 64, "child-after-restore");
    _exit(0);
  }
  // Advised after the fork: DONTFORK/WIPEONFORK would change the child.
  if (madvise(D, PG, MADV_DONTFORK)) fail("MADV_DONTFORK");
  if (madvise(W, PG, MADV_WIPEONFORK)) fail("MADV_WIPEONFORK");
  strcpy(W, "wipe-me-on-fork");
  usleep(100000);  // the child wrote
  printf("shmem: READY child=%d\n", child);
  int sig;
  sigwait(&set, &sig);

  if (strcmp(A, "before-fork") || strcmp(A + PG, "child-before-dump")) fail("A content from before the dump");
  strcpy(A + 2 * PG - 64, "parent-after-restore");
  strcpy(M + PG, "parent-in-memfd");
  if (lseek(mfd, 0, SEEK_CUR) != 5) fail("memfd position");
  if (lseek(mfd, 7, SEEK_SET) != 7) fail("lseek memfd to 7");
  // The fd and the mapping are one memfd again.
  if (pwrite(mfd, "via-fd", 6, 2 * PG + 10) != 6 || memcmp(M + 2 * PG + 10, "via-fd", 6)) fail("memfd fd and mapping");
  if (fcntl(mfd, F_GET_SEALS) != (F_SEAL_SHRINK | F_SEAL_GROW)) fail("memfd seals through its fd");
  if (ftruncate(mfd, PG) == 0 || errno != EPERM) fail("a sealed memfd could shrink");
  kill(child, SIGUSR1);
  int st;
  if (waitpid(child, &st, 0) != child) fail("waitpid");
  if (!WIFEXITED(st) || WEXITSTATUS(st)) fail("the child failed");
  if (strcmp(A + 64, "child-after-restore")) fail("A does not show the child's write");
  if (!check(P, 4 * PG, 11)) fail("private pages");
  for (int i = 0; i < PG; i++)
    if (A[2 * PG + i]) fail("A's untouched page is not zero");

  if (!maps_line_has(A, "/dev/zero (deleted)")) fail("A is not shared anonymous memory in maps");
  if (!maps_line_has(M, "/memfd:amber-shmem-test (deleted)")) fail("M's name in maps");
  if (!check(M, PG, 23) || !check(M + 2 * PG + 16, 84, 23 + (2 * PG + 16) * 7)) fail("memfd content");
  for (int i = 100; i < PG; i++)
    if (M[2 * PG + i]) fail("memfd tail past its size is not zero");
  char path[64];
  snprintf(path, sizeof path, "/proc/self/map_files/%lx-%lx", (unsigned long)M, (unsigned long)M + 3 * PG);
  int m2 = open(path, O_RDONLY);
  if (m2 < 0) fail("open memfd through map_files");
  if (fcntl(m2, F_GET_SEALS) != (F_SEAL_SHRINK | F_SEAL_GROW)) fail("memfd seals");
  if (lseek(m2, 0, SEEK_END) != MEMFD_SIZE) fail("memfd size");
  close(m2);

  if (!has_vmflag(D, "dc")) fail("MADV_DONTFORK lost");
  if (!has_vmflag(W, "wf")) fail("MADV_WIPEONFORK lost");
  if (strcmp(W, "wipe-me-on-fork")) fail("WIPEONFORK area content");

  char buf[32] = {0};
  ffd = open(argv[1], O_RDONLY);
  if (ffd < 0 || pread(ffd, buf, 27, 0) != 27) fail("read file");
  if (memcmp(buf, F, 27) || memcmp(buf, "written through the mapping", 27)) fail("file and its shared mapping differ");
  if (!maps_line_has(F, "rw-s")) fail("F is not a shared writable mapping");
  printf("shmem: OK\n");
  return 0;
}
