// Big memory for bench/memory.sh and e2e dump_memory.sh: allocates argv[1]
// MiB of anonymous memory and fills every byte with a non-zero pseudo-random
// pattern (nothing for a dump to skip); with argv[2] = Z, a second area of Z
// MiB is written with zeros (present pages a dump may leave out as holes)
// with a few non-zero pages in it. Prints "ready" and sleeps. On SIGUSR1 it
// checks everything again and prints "memory: OK" or "memory: FAIL at
// <offset>": a benchmark that restored the wrong bytes must not report a
// time.
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile sig_atomic_t check_now;
static void on_usr1(int sig) { (void)sig; check_now = 1; }

// splitmix64: every 8-byte word depends on its index only, never zero in
// practice (the top bit is forced on).
static inline uint64_t word(uint64_t i) {
  uint64_t x = i + 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return (x ^ (x >> 31)) | (1ULL << 63);
}

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) { fprintf(stderr, "usage: memory MIB [ZERO_MIB]\n"); return 2; }
  size_t bytes = (size_t)strtoull(argv[1], NULL, 10) << 20;
  size_t zbytes = argc == 3 ? (size_t)strtoull(argv[2], NULL, 10) << 20 : 0;
  uint8_t* z = NULL;
  if (zbytes) {
    z = mmap(NULL, zbytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (z == MAP_FAILED) { perror("mmap"); return 1; }
    // Written, so present, but zero; one marked page every 3 MiB.
    for (size_t i = 0; i < zbytes; i += 4096) z[i] = 1, z[i] = 0;
    for (size_t i = 0; i < zbytes; i += 3u << 20) z[i + 5] = 0x5a;
  }
  uint64_t* p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) { perror("mmap"); return 1; }
  size_t n = bytes / 8;
  for (size_t i = 0; i < n; i++) p[i] = word(i);
  signal(SIGUSR1, on_usr1);
  printf("ready\n");
  fflush(stdout);
  for (;;) {
    pause();
    if (!check_now) continue;
    check_now = 0;
    size_t bad = n;
    for (size_t i = 0; i < n; i++)
      if (p[i] != word(i)) { bad = i; break; }
    for (size_t i = 0; zbytes && i < zbytes && bad == n; i++)
      if (z[i] != ((i % (3u << 20)) == 5 ? 0x5a : 0)) bad = n + i / 8;
    if (bad == n) printf("memory: OK\n");
    else printf("memory: FAIL at %zu\n", bad * 8);
    fflush(stdout);
  }
}
