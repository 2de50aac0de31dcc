// Workload: a parent that fills MIB MiB of private anonymous memory and then
// forks NCHILD children, which share its pages copy-on-write (a forked
// server: python, postgres). After the fork every child writes 4 pages of
// its own and drops one (MADV_DONTNEED: zeros for it alone); the parent
// writes 4 pages of its own (the children keep the old contents) and drops
// one (the children keep it). Prints "cow: READY" when all children are set
// up. On SIGUSR1 the parent passes it on; every process checks every page
// of the area, the children exit 0 or 1, and the parent prints "cow: OK" or
// "cow: FAIL <what>". The first child forks a grandchild (after its own
// writes), which writes 4 pages of its own: it shares the first child's
// pages, and through them the parent's.
//   cow [MIB [NCHILD]]
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
static unsigned char* area;
static size_t npages;
static volatile sig_atomic_t go;
static void on_usr1(int s) { (void)s; go = 1; }

// Page i as writer w (0: the parent before the fork) left it.
static void fill(size_t i, unsigned w) {
  unsigned char* p = area + i * PAGE;
  memset(p, (int)((i * 7 + w * 13 + 1) & 0xff), PAGE);
  uint64_t tag = ((uint64_t)w << 48) | i;
  memcpy(p, &tag, sizeof tag);
}
static int page_is(size_t i, unsigned w) {
  const unsigned char* p = area + i * PAGE;
  uint64_t tag = ((uint64_t)w << 48) | i, got;
  memcpy(&got, p, sizeof got);
  if (got != tag) return 0;
  unsigned char b = (unsigned char)((i * 7 + w * 13 + 1) & 0xff);
  for (size_t k = sizeof tag; k < PAGE; k++)
    if (p[k] != b) return 0;
  return 1;
}
static int page_zero(size_t i) {
  for (size_t k = 0; k < PAGE; k++)
    if (area[i * PAGE + k]) return 0;
  return 1;
}

// The pages a child writes and drops, and the parent's.
static size_t child_page(unsigned c, unsigned k) { return 64 + c * 64 + k; }
static size_t child_drop(unsigned c) { return 64 + c * 64 + 8; }
static size_t parent_page(unsigned k) { return npages / 2 + k; }
static size_t parent_drop(void) { return npages / 2 + 8; }
static size_t grandchild_page(unsigned k) { return npages / 4 + k; }
#define GRANDCHILD 50

// Every page as process `who` (0: parent, c+1: child c) should see it;
// returns the first wrong page or -1.
static long check(unsigned who, unsigned nchild) {
  for (size_t i = 0; i < npages; i++) {
    int ok = -1;
    if (who == GRANDCHILD) {
      if (i >= grandchild_page(0) && i < grandchild_page(4)) ok = page_is(i, GRANDCHILD);
      else if (i == child_drop(0)) ok = page_zero(i);
      else if (i >= child_page(0, 0) && i < child_page(0, 4)) ok = page_is(i, 1);
    } else if (who == 0) {
      if (i == parent_drop()) ok = page_zero(i);
      else if (i >= parent_page(0) && i < parent_page(4)) ok = page_is(i, 100);
    } else {
      unsigned c = who - 1;
      if (i == child_drop(c)) ok = page_zero(i);
      else if (i >= child_page(c, 0) && i < child_page(c, 4)) ok = page_is(i, who);
    }
    if (ok < 0) ok = page_is(i, 0);
    if (!ok) return (long)i;
  }
  (void)nchild;
  return -1;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
  unsigned nchild = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 4;
  npages = mib << 8;
  if (npages / 4 < 64 + 64 * nchild + 64 || nchild < 1 || nchild > 64) {
    printf("cow: FAIL bad arguments\n");
    return 2;
  }
  signal(SIGUSR1, on_usr1);
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigprocmask(SIG_BLOCK, &block, &old);
  area = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (area == MAP_FAILED) return 3;
  // Small pages: a huge page shared by parent and child is one PFN too, but
  // the test reads sharing per 4 KiB page.
  madvise(area, npages * PAGE, MADV_NOHUGEPAGE);
  for (size_t i = 0; i < npages; i++) fill(i, 0);
  int ready[2];
  if (pipe(ready)) return 3;
  pid_t kids[64];
  for (unsigned c = 0; c < nchild; c++) {
    pid_t p = fork();
    if (p < 0) return 3;
    if (p == 0) {
      for (unsigned k = 0; k < 4; k++) fill(child_page(c, k), c + 1);
      madvise(area + child_drop(c) * PAGE, PAGE, MADV_DONTNEED);
      pid_t grandchild = 0;
      if (c == 0) {
        grandchild = fork();
        if (grandchild < 0) _exit(3);
        if (grandchild == 0) {
          for (unsigned k = 0; k < 4; k++) fill(grandchild_page(k), GRANDCHILD);
          if (write(ready[1], "r", 1) != 1) _exit(3);
          while (!go) sigsuspend(&old);
          long bad = check(GRANDCHILD, nchild);
          if (bad >= 0) printf("cow: FAIL grandchild page %ld\n", bad);
          _exit(bad >= 0);
        }
      }
      if (write(ready[1], "r", 1) != 1) _exit(3);
      while (!go) sigsuspend(&old);
      long bad = check(c + 1, nchild);
      if (bad >= 0) printf("cow: FAIL child %u page %ld\n", c, bad);
      if (grandchild) {
        int st;
        kill(grandchild, SIGUSR1);
        if (waitpid(grandchild, &st, 0) != grandchild || !WIFEXITED(st) || WEXITSTATUS(st) != 0) bad = 1;
      }
      _exit(bad >= 0);
    }
    kids[c] = p;
  }
  for (unsigned c = 0; c < nchild + 1; c++) {
    char b;
    if (read(ready[0], &b, 1) != 1) return 3;
  }
  for (unsigned k = 0; k < 4; k++) fill(parent_page(k), 100);
  madvise(area + parent_drop() * PAGE, PAGE, MADV_DONTNEED);
  printf("cow: READY\n");
  while (!go) sigsuspend(&old);
  int failed = 0;
  for (unsigned c = 0; c < nchild; c++) kill(kids[c], SIGUSR1);
  long bad = check(0, nchild);
  if (bad >= 0) {
    printf("cow: FAIL parent page %ld\n", bad);
    failed = 1;
  }
  for (unsigned c = 0; c < nchild; c++) {
    int st;
    if (waitpid(kids[c], &st, 0) != kids[c] || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      printf("cow: FAIL child %u ended with status %#x\n", c, st);
      failed = 1;
    }
  }
  if (!failed) printf("cow: OK\n");
  return failed;
}
