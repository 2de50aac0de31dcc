// Workload for dump/restore of one task's memory and blocking state.
// Builds a known pattern in the heap, the stack, .bss, a read-only area, a
// PROT_NONE area and a private file mapping it wrote to; installs a SIGUSR1
// handler; prints READY; then blocks in the syscall named by argv[1]
// (nanosleep, futex, read). On SIGUSR1 it verifies every pattern and prints
// "memstate: OK" (exit 0) or "memstate: FAIL <what>" (exit 1).
// Mode wait4: it forks a child that sleeps until SIGUSR1 makes it exit 42,
// and blocks in wait4 on it; when wait4 returns the child's real status (no
// EINTR, no stray errno) it verifies everything the same way.
// A return from the blocking call that is not caused by SIGUSR1 (EINTR with no
// signal, an errno >= 512, a short sleep) is a failure: restore must resume the
// syscall as if nothing had happened.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define HEAP_BYTES (8u << 20)
#define PAGE 4096u

static volatile sig_atomic_t got_usr1;
static volatile uint32_t futex_word;
static int wake_pipe[2];
static uint64_t bss_area[8192];  // 64 KiB in .bss

static uint64_t mix(uint64_t x) {
  x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL; x ^= x >> 33;
  return x;
}
static void fill(void* p, size_t n, uint64_t seed) {
  uint64_t* w = p;
  for (size_t i = 0; i < n / 8; i++) w[i] = mix(seed + i);
}
static int check(const void* p, size_t n, uint64_t seed) {
  const uint64_t* w = p;
  for (size_t i = 0; i < n / 8; i++)
    if (w[i] != mix(seed + i)) return 0;
  return 1;
}
static void child_exit(int sig) {
  (void)sig;
  _exit(42);
}
static void fail(const char* what) {
  printf("memstate: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

static void on_usr1(int sig) {
  (void)sig;
  got_usr1 = 1;
  futex_word = 1;
  syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
  char c = 'x';
  if (wake_pipe[1] > 0) (void)!write(wake_pipe[1], &c, 1);
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "nanosleep";
  const char* file = argc > 2 ? argv[2] : "/tmp/memstate.data";
  setvbuf(stdout, NULL, _IOLBF, 0);

  uint64_t stack_area[1024];  // 8 KiB on the stack
  fill(stack_area, sizeof stack_area, 1);
  fill(bss_area, sizeof bss_area, 2);
  char* heap = malloc(HEAP_BYTES);
  if (!heap) fail("malloc");
  fill(heap, HEAP_BYTES, 3);
  // A big area left mostly untouched: holes must stay holes (and zero).
  char* sparse = mmap(NULL, 64u << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (sparse == MAP_FAILED) fail("mmap sparse");
  fill(sparse + (17u << 20), PAGE, 4);
  char* ro = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ro == MAP_FAILED) fail("mmap ro");
  fill(ro, 4 * PAGE, 5);
  if (mprotect(ro, 4 * PAGE, PROT_READ)) fail("mprotect ro");
  char* none = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (none == MAP_FAILED) fail("mmap none");
  fill(none, 2 * PAGE, 6);
  if (mprotect(none, 2 * PAGE, PROT_NONE)) fail("mprotect none");

  // A private file mapping: the file holds pattern 7; we overwrite page 1 with
  // pattern 8 (copy-on-write, the file itself keeps pattern 7).
  int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) fail("open data file");
  char* buf = malloc(4 * PAGE);
  fill(buf, 4 * PAGE, 7);
  if (write(fd, buf, 4 * PAGE) != (ssize_t)(4 * PAGE)) fail("write data file");
  char* fmap = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (fmap == MAP_FAILED) fail("mmap file");
  fill(fmap + PAGE, PAGE, 8);
  if (lseek(fd, 1234, SEEK_SET) != 1234) fail("lseek");

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGUSR2);
  sa.sa_flags = strcmp(mode, "nanosleep") ? SA_RESTART : 0;
  if (sigaction(SIGUSR1, &sa, NULL)) fail("sigaction");
  sigset_t blk;
  sigemptyset(&blk);
  sigaddset(&blk, SIGUSR2);
  sigprocmask(SIG_BLOCK, &blk, NULL);
  if (pipe(wake_pipe)) fail("pipe");

  pid_t child = 0;
  if (!strcmp(mode, "wait4")) {
    child = fork();
    if (child < 0) fail("fork");
    if (child == 0) {
      struct sigaction ca;
      memset(&ca, 0, sizeof ca);
      ca.sa_handler = child_exit;
      sigaction(SIGUSR1, &ca, NULL);
      for (;;) pause();
    }
  }
  printf("memstate: READY pid=%d mode=%s child=%d\n", getpid(), mode, child);

  if (!strcmp(mode, "nanosleep")) {
    struct timespec req = {100000, 0}, t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!got_usr1) {
      int r = nanosleep(&req, &req);
      int e = errno;
      if (r == 0) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        fail("nanosleep returned early without a signal");
      }
      if (e != EINTR) { errno = e; fail("nanosleep: unexpected errno"); }
      if (!got_usr1) fail("nanosleep: EINTR without SIGUSR1");
    }
  } else if (!strcmp(mode, "futex")) {
    while (futex_word == 0) {
      long r = syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
      if (r < 0 && errno != EAGAIN && errno != EINTR) fail("futex: unexpected errno");
      if (r < 0 && errno == EINTR && !got_usr1) fail("futex: EINTR without SIGUSR1");
    }
  } else if (!strcmp(mode, "read")) {
    char c;
    ssize_t n;
    while ((n = read(wake_pipe[0], &c, 1)) < 0 && errno == EINTR && got_usr1) {}
    if (n != 1) fail("read: unexpected result");
    if (!got_usr1) fail("read: woke without SIGUSR1");
  } else if (!strcmp(mode, "wait4")) {
    int status = 0;
    pid_t r = wait4(child, &status, 0, NULL);
    if (r != child) fail("wait4: unexpected result");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 42) {
      printf("memstate: FAIL wait4 status %#x\n", status);
      _exit(1);
    }
  } else {
    fail("unknown mode");
  }

  // Verify everything.
  if (!check(stack_area, sizeof stack_area, 1)) fail("stack pattern");
  if (!check(bss_area, sizeof bss_area, 2)) fail("bss pattern");
  if (!check(heap, HEAP_BYTES, 3)) fail("heap pattern");
  if (!check(sparse + (17u << 20), PAGE, 4)) fail("sparse touched page");
  for (size_t i = 0; i < (64u << 20); i += PAGE)
    if (i != (17u << 20) && sparse[i] != 0) fail("sparse hole not zero");
  if (!check(ro, 4 * PAGE, 5)) fail("read-only pattern");
  if (mprotect(none, 2 * PAGE, PROT_READ)) fail("mprotect none back");
  if (!check(none, 2 * PAGE, 6)) fail("PROT_NONE pattern");
  if (!check(fmap, PAGE, 7)) fail("file map page 0");
  if (!check(fmap + PAGE, PAGE, 8)) fail("file map page 1 (written)");
  {
    char* expect = malloc(4 * PAGE);
    fill(expect, 4 * PAGE, 7);
    if (memcmp(fmap + 2 * PAGE, expect + 2 * PAGE, 2 * PAGE)) fail("file map pages 2-3");
    char* ondisk = malloc(4 * PAGE);
    if (pread(fd, ondisk, 4 * PAGE, 0) != (ssize_t)(4 * PAGE) || memcmp(ondisk, expect, 4 * PAGE))
      fail("data file content");
  }
  if (lseek(fd, 0, SEEK_CUR) != 1234) fail("file position");
  struct sigaction old;
  if (sigaction(SIGUSR1, NULL, &old) || old.sa_handler != on_usr1 || !sigismember(&old.sa_mask, SIGUSR2))
    fail("signal handler");
  sigset_t cur;
  sigprocmask(SIG_BLOCK, NULL, &cur);
  if (!sigismember(&cur, SIGUSR2) || sigismember(&cur, SIGUSR1)) fail("signal mask");
  printf("memstate: OK mode=%s\n", mode);
  return 0;
}
