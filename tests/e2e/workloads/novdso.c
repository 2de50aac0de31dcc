// Workload: a program that unmapped its vdso ([vvar], [vvar_vclock],
// [vdso]). Fills a pattern, unmaps the vdso family, prints "novdso: READY",
// waits for SIGUSR1, then checks its pattern and that no vdso area came back:
// "novdso: OK" (exit 0) or "novdso: FAIL <what>" (exit 1). It never calls
// the vdso's functions (clock_gettime, time, ...) once it is gone.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void fail(const char* what) {
  printf("novdso: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

// Unmaps (or, with unmap 0, counts) the vdso family in /proc/self/maps.
static int vdso_areas(int unmap) {
  FILE* f = fopen("/proc/self/maps", "r");
  if (!f) fail("open maps");
  char line[512];
  unsigned long s[8], e[8];
  int n = 0;
  while (fgets(line, sizeof line, f) && n < 8)
    if (strstr(line, "[vdso]") || strstr(line, "[vvar]") || strstr(line, "[vvar_vclock]"))
      if (sscanf(line, "%lx-%lx", &s[n], &e[n]) == 2) n++;
  fclose(f);
  for (int i = 0; unmap && i < n; i++)
    if (munmap((void*)s[i], e[i] - s[i])) fail("munmap vdso");
  return n;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  size_t len = 64 * 4096;
  unsigned char* p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fail("mmap");
  for (size_t i = 0; i < len; i++) p[i] = (unsigned char)(i * 13 + 5);
  if (vdso_areas(1) < 1) fail("no vdso to unmap");
  if (vdso_areas(0) != 0) fail("vdso still mapped");
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  printf("novdso: READY\n");
  int sig;
  sigwait(&set, &sig);
  for (size_t i = 0; i < len; i++)
    if (p[i] != (unsigned char)(i * 13 + 5)) fail("pattern");
  if (vdso_areas(0) != 0) fail("a vdso area is mapped after restore");
  printf("novdso: OK\n");
  return 0;
}
