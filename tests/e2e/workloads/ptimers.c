// Workload: POSIX timers of every kind amber restores.
//   A: CLOCK_MONOTONIC, periodic 20 ms, SIGEV_SIGNAL SIGRTMIN, sigev_value a
//      pointer to its counter (the handler counts through it);
//   B: CLOCK_MONOTONIC, periodic 30 ms, SIGEV_THREAD_ID SIGRTMIN+1 aimed at
//      a second thread (the handler checks it runs there);
//   C: CLOCK_REALTIME, TIMER_ABSTIME at a whole second DELAY seconds from
//      the start (argv[1], default 8), one shot, SIGUSR2: records when it fired;
//   D: CLOCK_BOOTTIME, SIGEV_NONE, 1000 s;  E: the process's CPU-time clock,
//      SIGEV_NONE, 100 s (CPU time: its time left is kept, not its instant).
//   F: CLOCK_MONOTONIC, one shot, SIGRTMIN+2 blocked everywhere: its signal
//      is pending at the dump and must come back with its siginfo (SI_TIMER,
//      si_timerid F, sigev_value 4242).
// Prints "ptimers: READY ids=A,B,C,D,E target=SEC". On SIGUSR1: A and B
// tick again (B in its thread), each with its own id in si_timerid, C fires
// at its wall-clock second (not early, at most 300 ms late), D has as much
// time left as the elapsed wall-clock time says, E as before:
// "ptimers: OK" (exit 0) or "ptimers: FAIL <what>" (exit 1).
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static atomic_long ticks_a, ticks_b, bad;
static atomic_int id_a = -1, id_b = -1;
static volatile pid_t worker_tid;
static struct timespec c_fired;
static atomic_int c_done;
static timer_t ta, tb, tc, td, te, tf;

static void fail(const char* what) {
  printf("ptimers: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

static int64_t ns(struct timespec t) { return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec; }
static int64_t now(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return ns(t);
}

static void on_a(int sig, siginfo_t* si, void* uc) {
  (void)sig, (void)uc;
  if (si->si_code != SI_TIMER || si->si_value.sival_ptr != (void*)&ticks_a) bad++;
  atomic_store(&id_a, si->si_timerid);
  atomic_fetch_add((atomic_long*)si->si_value.sival_ptr, 1 + si->si_overrun);
}
static void on_b(int sig, siginfo_t* si, void* uc) {
  (void)sig, (void)uc;
  if (si->si_code != SI_TIMER || syscall(SYS_gettid) != worker_tid) bad++;
  atomic_store(&id_b, si->si_timerid);
  ticks_b += 1 + si->si_overrun;
}
static void on_c(int sig) {
  (void)sig;
  clock_gettime(CLOCK_REALTIME, &c_fired);
  c_done = 1;
}

static void* worker(void* arg) {
  (void)arg;
  worker_tid = (pid_t)syscall(SYS_gettid);
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGRTMIN + 1);
  pthread_sigmask(SIG_UNBLOCK, &s, NULL);
  for (;;) pause();
  return NULL;
}

static void arm(timer_t t, int flags, time_t sec, long nsec, time_t isec, long insec) {
  struct itimerspec its = {{isec, insec}, {sec, nsec}};
  if (timer_settime(t, flags, &its, NULL)) fail("timer_settime");
}

static int64_t left(timer_t t) {
  struct itimerspec its;
  if (timer_gettime(t, &its)) fail("timer_gettime (is the id the same?)");
  return ns(its.it_value);
}

// Waits up to `sec` seconds for *counter to grow by `by`.
static int grows(atomic_long* counter, long by, int sec) {
  long from = *counter;
  for (int i = 0; i < sec * 100; i++) {
    if (*counter >= from + by) return 1;
    usleep(10000);
  }
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const int delay = argc > 1 ? atoi(argv[1]) : 8;
  struct sigaction sa = {0};
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sa.sa_sigaction = on_a;
  sigaction(SIGRTMIN, &sa, NULL);
  sa.sa_sigaction = on_b;
  sigaction(SIGRTMIN + 1, &sa, NULL);
  struct sigaction sc = {0};
  sc.sa_handler = on_c;
  sc.sa_flags = SA_RESTART;
  sigaction(SIGUSR2, &sc, NULL);
  // Only the worker takes SIGRTMIN+1; SIGUSR1 is waited for.
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGRTMIN + 1);
  sigaddset(&block, SIGUSR1);
  sigaddset(&block, SIGRTMIN + 2);
  sigprocmask(SIG_BLOCK, &block, NULL);
  sigdelset(&block, SIGRTMIN + 2);
  pthread_t th;
  if (pthread_create(&th, NULL, worker, NULL)) fail("pthread_create");
  while (!worker_tid) usleep(1000);

  struct sigevent ev = {0};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGRTMIN;
  ev.sigev_value.sival_ptr = &ticks_a;
  if (timer_create(CLOCK_MONOTONIC, &ev, &ta)) fail("timer_create A");
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_THREAD_ID;
  ev.sigev_signo = SIGRTMIN + 1;
  ev._sigev_un._tid = worker_tid;
  if (timer_create(CLOCK_MONOTONIC, &ev, &tb)) fail("timer_create B");
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR2;
  if (timer_create(CLOCK_REALTIME, &ev, &tc)) fail("timer_create C");
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_NONE;
  if (timer_create(CLOCK_BOOTTIME, &ev, &td)) fail("timer_create D");
  if (timer_create(CLOCK_PROCESS_CPUTIME_ID, &ev, &te)) fail("timer_create E");
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGRTMIN + 2;
  ev.sigev_value.sival_int = 4242;
  if (timer_create(CLOCK_MONOTONIC, &ev, &tf)) fail("timer_create F");
  arm(tf, 0, 0, 10000000, 0, 0);
  arm(ta, 0, 0, 20000000, 0, 20000000);
  arm(tb, 0, 0, 30000000, 0, 30000000);
  const time_t target = time(NULL) + delay;
  arm(tc, TIMER_ABSTIME, target, 0, 0, 0);
  arm(td, 0, 1000, 0, 0, 0);
  arm(te, 0, 100, 0, 0, 0);
  if (!grows(&ticks_a, 3, 5) || !grows(&ticks_b, 3, 5)) fail("no ticks before the dump");
  const int ida = id_a, idb = id_b;
  sigset_t pend;
  for (int i = 0; i < 100; i++) {
    sigpending(&pend);
    if (sigismember(&pend, SIGRTMIN + 2)) break;
    usleep(10000);
  }
  if (!sigismember(&pend, SIGRTMIN + 2)) fail("F's signal is not pending");
  printf("ptimers: READY ids=%d,%d,%d,%d,%d target=%ld\n", (int)(intptr_t)ta, (int)(intptr_t)tb,
         (int)(intptr_t)tc, (int)(intptr_t)td, (int)(intptr_t)te, (long)target);
  const int64_t boot0 = now(CLOCK_BOOTTIME), left_d0 = left(td), left_e0 = left(te);
  int sig;
  sigwait(&block, &sig);  // SIGUSR1 (a SIGRTMIN+1 pending for the process would be odd: B aims at the worker)
  if (sig != SIGUSR1) fail("sigwait: not SIGUSR1");
  if (c_done && ns(c_fired) < (int64_t)target * 1000000000) fail("C fired early");
  sigset_t f;
  sigemptyset(&f);
  sigaddset(&f, SIGRTMIN + 2);
  siginfo_t si;
  struct timespec zero = {0, 0};
  if (sigtimedwait(&f, &si, &zero) != SIGRTMIN + 2) fail("F's pending signal lost");
  if (si.si_code != SI_TIMER || si.si_timerid != (int)(intptr_t)tf || si.si_value.sival_int != 4242) {
    printf("ptimers: F's siginfo code %d timerid %d value %d\n", si.si_code, si.si_timerid, si.si_value.sival_int);
    fail("F's siginfo");
  }
  if (sigtimedwait(&f, &si, &zero) >= 0) fail("F's signal twice");
  if (!grows(&ticks_a, 5, 5)) fail("A does not tick after the restore");
  if (!grows(&ticks_b, 5, 5)) fail("B does not tick after the restore");
  if (id_a != ida || id_b != idb) {
    printf("ptimers: si_timerid %d,%d, before %d,%d\n", id_a, id_b, ida, idb);
    fail("timer ids in siginfo");
  }
  const int64_t elapsed = now(CLOCK_BOOTTIME) - boot0, left_d = left(td), left_e = left(te);
  // D keeps its instant: time left = before - elapsed (100 ms of slack).
  if (llabs(left_d - (left_d0 - elapsed)) > 100000000) {
    printf("ptimers: D left %lld ns, want %lld\n", (long long)left_d, (long long)(left_d0 - elapsed));
    fail("D's time left");
  }
  // E counts CPU time: a little used, nothing more.
  if (left_e > left_e0 || left_e < left_e0 - 1000000000LL) fail("E's time left");
  for (int i = 0; i < 100 * (delay + 5) && !c_done; i++) usleep(10000);
  if (!c_done) fail("C never fired");
  const int64_t late = ns(c_fired) - (int64_t)target * 1000000000;
  if (late < 0 || late > 300000000) {
    printf("ptimers: C fired %lld ns after its time\n", (long long)late);
    fail("C's wall-clock time");
  }
  if (bad) fail("a timer signal with the wrong siginfo or thread");
  printf("ptimers: OK late=%lld us\n", (long long)(late / 1000));
  return 0;
}
