// Workload: pending signals with payloads and interval timers.
// The main thread and one worker block SIGUSR2 and SIGRTMIN+1..+3, then
// queue: process-wide sigqueue(SIGRTMIN+1, 101) and (SIGRTMIN+1, 102) (an
// RT signal queued twice, order kept), kill(SIGUSR2) (SI_USER), and
// sigqueue(SIGRTMIN+3, 301); thread-directed pthread_sigqueue(worker,
// SIGRTMIN+2, 201) and (main, SIGRTMIN+2, 202). Timers: ITIMER_REAL every
// 20 ms (a SIGALRM counter), ITIMER_VIRTUAL 500 s with a 3 s interval,
// ITIMER_PROF 400 s one-shot. Prints "sigstate: READY" and waits.
// SIGUSR1 (main thread): checks that the same signals are still pending
// (per thread and shared), the timers' intervals are the same and their
// remaining time close to (not above) what it was, the SIGALRM counter
// still grows; then each thread unblocks SIGUSR2 and SIGRTMIN+1..+2, and
// every signal must arrive exactly once, in the right thread, with its
// payload and si_code; SIGRTMIN+3 stays blocked and is taken with
// sigtimedwait (payload 301). Prints "sigstate: OK" (exit 0) or
// "sigstate: FAIL <what>" (exit 1).
// Mode "ptimer" (argv[1]): only creates a POSIX timer on the thread's
// CPU-time clock, prints "sigstate: READY" and pauses (amber must refuse
// to dump it: which thread's clock it is cannot be told from /proc).
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct got {
  int sig, value, code;
  pid_t tid, from;
};
static struct got seen[64];
static atomic_int nseen;
static atomic_long alarms;
static volatile sig_atomic_t usr1;
static pid_t main_tid, worker_tid;
static atomic_int worker_go, worker_done;
static struct itimerval before[3];

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

static void on_sig(int sig, siginfo_t* si, void* uc) {
  (void)uc;
  int i = atomic_fetch_add(&nseen, 1);
  if (i < 64) seen[i] = (struct got){sig, si->si_value.sival_int, si->si_code, gettid_(), si->si_pid};
}
static void on_alrm(int sig) { (void)sig; alarms++; }
static void on_usr1(int sig) { (void)sig; usr1 = 1; }

static void fail(const char* what) {
  printf("sigstate: FAIL %s\n", what);
  fflush(stdout);
  exit(1);
}

static void blocked_set(sigset_t* s) {
  sigemptyset(s);
  sigaddset(s, SIGUSR2);
  for (int i = 1; i <= 3; i++) sigaddset(s, SIGRTMIN + i);
}

static void* worker(void* arg) {
  (void)arg;
  worker_tid = gettid_();
  // Also blocks SIGUSR1 and SIGALRM: they go to the main thread.
  sigset_t s;
  blocked_set(&s);
  sigaddset(&s, SIGUSR1);
  sigaddset(&s, SIGALRM);
  pthread_sigmask(SIG_SETMASK, &s, NULL);
  while (!worker_go) usleep(1000);
  sigset_t pend;
  sigpending(&pend);  // own queue and the process's
  if (!sigismember(&pend, SIGRTMIN + 2)) worker_done = 2;
  sigset_t un;
  sigemptyset(&un);
  sigaddset(&un, SIGRTMIN + 2);
  pthread_sigmask(SIG_UNBLOCK, &un, NULL);
  if (!worker_done) worker_done = 1;
  for (;;) pause();
  return NULL;
}

static long usec(const struct timeval* t) { return t->tv_sec * 1000000L + t->tv_usec; }

static void check_timers(void) {
  static const int which[3] = {ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF};
  for (int i = 0; i < 3; i++) {
    struct itimerval now;
    getitimer(which[i], &now);
    char what[128];
    if (usec(&now.it_interval) != usec(&before[i].it_interval)) {
      snprintf(what, sizeof what, "itimer %d interval %ld, was %ld", which[i], usec(&now.it_interval),
               usec(&before[i].it_interval));
      fail(what);
    }
    if (i == 0) {
      if (usec(&now.it_value) <= 0 || usec(&now.it_value) > 20000) fail("ITIMER_REAL not armed for <= 20 ms");
      continue;
    }
    // Virtual and profiling time hardly advance in a sleeping process.
    // CPU timers read with a tick of jitter (CONFIG_HZ=250: 4 ms): even
    // right after setitimer(500 s) getitimer can say 500.004 s.
    long was = usec(&before[i].it_value), is = usec(&now.it_value);
    if (is > was + 10000 || is < was - 2000000) {
      snprintf(what, sizeof what, "itimer %d remaining %ld us, was %ld us", which[i], is, was);
      fail(what);
    }
  }
  // 200 ms, however often SIGALRM interrupts the sleep.
  long a = alarms;
  struct timespec end;
  clock_gettime(CLOCK_MONOTONIC, &end);
  end.tv_nsec += 200000000;
  if (end.tv_nsec >= 1000000000) end.tv_sec++, end.tv_nsec -= 1000000000;
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end, NULL) == EINTR) {
  }
  if (alarms < a + 3) fail("SIGALRM does not keep ticking");
}

static int count(int sig, int value, pid_t tid, int code) {
  int n = 0;
  for (int i = 0; i < nseen && i < 64; i++)
    if (seen[i].sig == sig && seen[i].value == value && (!tid || seen[i].tid == tid) && seen[i].code == code) n++;
  return n;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 1 && strcmp(argv[1], "ptimer") == 0) {
    struct sigevent ev = {0};
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGRTMIN + 4;
    signal(SIGRTMIN + 4, SIG_IGN);
    timer_t id;
    if (timer_create(CLOCK_THREAD_CPUTIME_ID, &ev, &id)) fail("timer_create");
    struct itimerspec its = {{1, 0}, {1, 0}};
    timer_settime(id, 0, &its, NULL);
    printf("sigstate: READY\n");
    for (;;) pause();
  }
  main_tid = gettid_();
  struct sigaction sa = {0};
  sa.sa_sigaction = on_sig;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigaction(SIGUSR2, &sa, NULL);
  for (int i = 1; i <= 3; i++) sigaction(SIGRTMIN + i, &sa, NULL);
  struct sigaction alrm = {0};
  alrm.sa_handler = on_alrm;
  alrm.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &alrm, NULL);
  struct sigaction u1 = {0};
  u1.sa_handler = on_usr1;
  sigaction(SIGUSR1, &u1, NULL);

  sigset_t s;
  blocked_set(&s);
  pthread_sigmask(SIG_BLOCK, &s, NULL);
  pthread_t th;
  pthread_create(&th, NULL, worker, NULL);
  while (!worker_tid) usleep(1000);
  usleep(10000);

  union sigval v;
  v.sival_int = 101;
  if (sigqueue(getpid(), SIGRTMIN + 1, v)) fail("sigqueue 101");
  v.sival_int = 102;
  if (sigqueue(getpid(), SIGRTMIN + 1, v)) fail("sigqueue 102");
  v.sival_int = 301;
  if (sigqueue(getpid(), SIGRTMIN + 3, v)) fail("sigqueue 301");
  kill(getpid(), SIGUSR2);
  v.sival_int = 201;
  if (pthread_sigqueue(th, SIGRTMIN + 2, v)) fail("pthread_sigqueue 201");
  v.sival_int = 202;
  if (pthread_sigqueue(pthread_self(), SIGRTMIN + 2, v)) fail("pthread_sigqueue 202");

  struct itimerval real = {{0, 20000}, {0, 20000}}, virt = {{3, 0}, {500, 0}}, prof = {{0, 0}, {400, 0}};
  setitimer(ITIMER_REAL, &real, NULL);
  setitimer(ITIMER_VIRTUAL, &virt, NULL);
  setitimer(ITIMER_PROF, &prof, NULL);
  getitimer(ITIMER_REAL, &before[0]);
  getitimer(ITIMER_VIRTUAL, &before[1]);
  getitimer(ITIMER_PROF, &before[2]);

  printf("sigstate: READY\n");
  sigset_t wait_mask;
  pthread_sigmask(SIG_SETMASK, NULL, &wait_mask);
  sigdelset(&wait_mask, SIGUSR1);
  while (!usr1) sigsuspend(&wait_mask);

  // Still pending, nothing delivered yet.
  if (nseen != 0) fail("a blocked signal was delivered before it was unblocked");
  sigset_t pend;
  sigpending(&pend);
  if (!sigismember(&pend, SIGUSR2) || !sigismember(&pend, SIGRTMIN + 1) || !sigismember(&pend, SIGRTMIN + 2) ||
      !sigismember(&pend, SIGRTMIN + 3))
    fail("the main thread's pending set lost a signal");
  sigset_t mask;
  pthread_sigmask(SIG_SETMASK, NULL, &mask);
  for (int i = 1; i <= 3; i++)
    if (!sigismember(&mask, SIGRTMIN + i)) fail("the main thread's mask changed");
  check_timers();

  // The worker takes its own signal, then the main thread everything else.
  worker_go = 1;
  while (!worker_done) usleep(1000);
  if (worker_done != 1) fail("the worker's own signal is not pending");
  usleep(20000);
  sigset_t un;
  sigemptyset(&un);
  sigaddset(&un, SIGUSR2);
  sigaddset(&un, SIGRTMIN + 1);
  sigaddset(&un, SIGRTMIN + 2);
  pthread_sigmask(SIG_UNBLOCK, &un, NULL);
  usleep(20000);
  if (count(SIGRTMIN + 2, 201, worker_tid, SI_QUEUE) != 1) fail("worker's SIGRTMIN+2/201 not delivered once to it");
  if (count(SIGRTMIN + 2, 202, main_tid, SI_QUEUE) != 1) fail("main's SIGRTMIN+2/202 not delivered once to it");
  if (count(SIGRTMIN + 1, 101, 0, SI_QUEUE) != 1 || count(SIGRTMIN + 1, 102, 0, SI_QUEUE) != 1)
    fail("SIGRTMIN+1 101/102 not delivered once each");
  int i101 = -1, i102 = -1;
  for (int i = 0; i < nseen; i++) {
    if (seen[i].sig == SIGRTMIN + 1 && seen[i].value == 101) i101 = i;
    if (seen[i].sig == SIGRTMIN + 1 && seen[i].value == 102) i102 = i;
  }
  if (i101 > i102) fail("SIGRTMIN+1 102 arrived before 101");
  int usr2 = 0;
  for (int i = 0; i < nseen; i++)
    if (seen[i].sig == SIGUSR2) {
      usr2++;
      if (seen[i].code != SI_USER || seen[i].from != getpid()) fail("SIGUSR2 lost its SI_USER siginfo");
    }
  if (usr2 != 1) fail("SIGUSR2 not delivered exactly once");
  if (nseen != 5) fail("more signals than were queued");
  // Still blocked, still pending: taken without a handler.
  sigset_t rt3;
  sigemptyset(&rt3);
  sigaddset(&rt3, SIGRTMIN + 3);
  siginfo_t si;
  struct timespec zero = {0, 0};
  if (sigtimedwait(&rt3, &si, &zero) != SIGRTMIN + 3 || si.si_value.sival_int != 301 || si.si_code != SI_QUEUE)
    fail("blocked SIGRTMIN+3/301 is not pending any more");
  printf("sigstate: OK\n");
  return 0;
}
