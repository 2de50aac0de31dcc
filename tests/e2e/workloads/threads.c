// Workload: 8 worker threads besides the main one, each with its own name,
// signal mask, alternate signal stack and a counter it keeps incrementing
// (a 1 ms nanosleep per step). Prints "threads: READY tids=..." when all run.
// SIGUSR2: the main thread notes every counter. SIGUSR1: it checks that
// every counter went on from (at least) the noted value and still grows,
// that each thread still has its tid, mask, name and altstack, then stops
// the workers and joins them — pthread_join waits for the kernel to clear
// each thread's tid at exit (its clear-tid address) — and prints
// "threads: OK" (exit 0) or "threads: FAIL <what>" (exit 1).
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define N 8

struct worker {
  pthread_t th;
  int index;
  pid_t tid;
  atomic_ulong counter;
  atomic_int bad;  // first inconsistency it saw in itself, 0 if none
  char altstack[16384];
};
static struct worker workers[N];
static atomic_int stop;

static int worker_signal(int i) { return SIGRTMIN + 2 + i; }

static void* run(void* arg) {
  struct worker* w = arg;
  char name[16];
  snprintf(name, sizeof name, "worker-%d", w->index);
  pthread_setname_np(pthread_self(), name);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, worker_signal(w->index));
  sigaddset(&mask, SIGUSR1);
  sigaddset(&mask, SIGUSR2);
  pthread_sigmask(SIG_SETMASK, &mask, NULL);
  stack_t ss = {.ss_sp = w->altstack, .ss_size = sizeof w->altstack, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) w->bad = 1;
  w->tid = (pid_t)syscall(SYS_gettid);
  struct timespec ms = {0, 1000000};
  while (!stop) {
    w->counter++;
    nanosleep(&ms, NULL);
    if ((pid_t)syscall(SYS_gettid) != w->tid && !w->bad) w->bad = 2;
    sigset_t cur;
    pthread_sigmask(SIG_SETMASK, NULL, &cur);
    if (!sigismember(&cur, worker_signal(w->index)) || sigismember(&cur, worker_signal((w->index + 1) % N)))
      if (!w->bad) w->bad = 3;
    stack_t now;
    if (sigaltstack(NULL, &now) != 0 || now.ss_sp != w->altstack || now.ss_size != sizeof w->altstack)
      if (!w->bad) w->bad = 4;
    char got[16];
    pthread_getname_np(pthread_self(), got, sizeof got);
    if (strcmp(got, name) && !w->bad) w->bad = 5;
  }
  return NULL;
}

static void fail(const char* what) {
  printf("threads: FAIL %s\n", what);
  fflush(stdout);
  _exit(1);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  for (int i = 0; i < N; i++) {
    workers[i].index = i;
    if (pthread_create(&workers[i].th, NULL, run, &workers[i])) fail("pthread_create");
  }
  for (int i = 0; i < N; i++)
    while (!workers[i].tid || workers[i].counter < 5) usleep(1000);
  printf("threads: READY tids=");
  for (int i = 0; i < N; i++) printf("%s%d", i ? "," : "", workers[i].tid);
  printf("\n");
  unsigned long mark[N] = {0};
  for (;;) {
    int sig;
    if (sigwait(&set, &sig)) fail("sigwait");
    if (sig == SIGUSR2) {
      for (int i = 0; i < N; i++) mark[i] = workers[i].counter;
      printf("threads: MARK\n");
      continue;
    }
    break;
  }
  unsigned long a[N], b[N];
  for (int i = 0; i < N; i++) a[i] = workers[i].counter;
  usleep(300000);
  for (int i = 0; i < N; i++) b[i] = workers[i].counter;
  for (int i = 0; i < N; i++) {
    if (workers[i].bad) {
      printf("threads: FAIL worker %d saw problem %d\n", i, workers[i].bad);
      return 1;
    }
    if (a[i] < mark[i]) {
      printf("threads: FAIL worker %d counter went back from %lu to %lu\n", i, mark[i], a[i]);
      return 1;
    }
    if (b[i] <= a[i]) {
      printf("threads: FAIL worker %d counter stuck at %lu\n", i, a[i]);
      return 1;
    }
  }
  stop = 1;
  for (int i = 0; i < N; i++)
    if (pthread_join(workers[i].th, NULL)) fail("pthread_join");
  printf("threads: OK counters");
  for (int i = 0; i < N; i++) printf(" %lu", b[i]);
  printf("\n");
  return 0;
}
