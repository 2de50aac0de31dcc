// Workload: locked and droppable memory. Mode "onfault": an mlock()ed area,
// a MAP_LOCKED area, an area locked with mlock2(MLOCK_ONFAULT) (half of it
// touched), a MAP_DROPPABLE area it wrote to, then mlockall(MCL_FUTURE |
// MCL_ONFAULT). Mode "future": the same areas, then mlockall(MCL_CURRENT |
// MCL_FUTURE) (everything locked and populated, lock-on-fault dropped). Prints "memlock: READY", waits
// for SIGUSR1, then checks: the patterns of the locked areas are intact, the
// droppable area is empty (zero: its pages are never dumped) and still
// droppable, and a new mapping inherits the mlockall flags ("lo", and "lf"
// in mode onfault): "memlock: OK" (exit 0) or "memlock: FAIL <what>" (exit 1).
// The scenario compares VmLck and the VmFlags of every area from outside.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 0x01
#endif

#define PAGE 4096u

static void fail(const char* what) {
  printf("memlock: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

static void fill(unsigned char* p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed + i * 7 + i / 4096);
}
static int check(const unsigned char* p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != (unsigned char)(seed + i * 7 + i / 4096)) return 0;
  return 1;
}

static void* map(size_t len, int flags) {
  void* p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fail("mmap");
  return p;
}

// The VmFlags line of the area starting at p in /proc/self/smaps.
static void vmflags(void* p, char* out, size_t n) {
  FILE* f = fopen("/proc/self/smaps", "r");
  if (!f) fail("open smaps");
  char line[512];
  int in = 0;
  out[0] = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long s, e;
    if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') < strchr(line, ' ')) {
      in = s == (unsigned long)p;
      continue;
    }
    if (in && strncmp(line, "VmFlags:", 8) == 0) {
      snprintf(out, n, "%s", line + 8);
      break;
    }
  }
  fclose(f);
}
static int has_flag(const char* flags, const char* m) {
  char pat[8];
  snprintf(pat, sizeof pat, " %s ", m);
  char buf[600];
  snprintf(buf, sizeof buf, " %s", flags);
  for (char* c = buf; *c; c++)
    if (*c == '\n') *c = ' ';
  return strstr(buf, pat) != NULL;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const int onfault = argc > 1 && strcmp(argv[1], "onfault") == 0;
  unsigned char* locked = map(8 * PAGE, MAP_PRIVATE);
  fill(locked, 8 * PAGE, 1);
  if (mlock(locked, 8 * PAGE)) fail("mlock");
  unsigned char* maplocked = map(4 * PAGE, MAP_PRIVATE | MAP_LOCKED);
  fill(maplocked, 4 * PAGE, 2);
  unsigned char* lazy = map(16 * PAGE, MAP_PRIVATE);
  if (syscall(SYS_mlock2, lazy, 16 * PAGE, MLOCK_ONFAULT)) fail("mlock2");
  fill(lazy, 8 * PAGE, 3);
  unsigned char* drop = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_DROPPABLE | MAP_ANONYMOUS, -1, 0);
  if (drop == MAP_FAILED) fail("mmap MAP_DROPPABLE");
  memset(drop, 0x5a, 4 * PAGE);
  if (mlockall(onfault ? MCL_FUTURE | MCL_ONFAULT : MCL_CURRENT | MCL_FUTURE)) fail("mlockall");
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  printf("memlock: READY locked=%p maplocked=%p lazy=%p drop=%p\n", (void*)locked, (void*)maplocked, (void*)lazy,
         (void*)drop);
  int sig;
  sigwait(&set, &sig);

  if (!check(locked, 8 * PAGE, 1)) fail("mlock()ed area content");
  if (!check(maplocked, 4 * PAGE, 2)) fail("MAP_LOCKED area content");
  if (!check(lazy, 8 * PAGE, 3)) fail("MLOCK_ONFAULT area content");
  for (size_t i = 8 * PAGE; i < 16 * PAGE; i++)
    if (lazy[i]) fail("MLOCK_ONFAULT area: untouched half not zero");
  char f[512];
  vmflags(drop, f, sizeof f);
  if (!has_flag(f, "dp")) fail("droppable area lost VM_DROPPABLE");
  for (size_t i = 0; i < 4 * PAGE; i++)
    if (drop[i]) fail("droppable area not empty after restore");
  // mlockall(MCL_CURRENT) without MCL_ONFAULT locked it in full.
  vmflags(lazy, f, sizeof f);
  if (!has_flag(f, "lo") || has_flag(f, "lf") != onfault) fail("MLOCK_ONFAULT area flags");
  unsigned char* fresh = map(2 * PAGE, MAP_PRIVATE);
  vmflags(fresh, f, sizeof f);
  if (!has_flag(f, "lo")) fail("a new area is not locked: mlockall(MCL_FUTURE) lost");
  if (has_flag(f, "lf") != onfault) fail("a new area's lock-on-fault flag differs");
  printf("memlock: OK mode=%s\n", onfault ? "onfault" : "future");
  return 0;
}
