// Workload: per-task attributes amber must restore (kinds/task_attrs.h,
// kinds/files/owner.h) and a SIGTRAP handler amber's traps must not touch.
//
// Tree (pids inside the container): init (this) forks
//   A  "ta-reaper": PR_SET_CHILD_SUBREAPER, owner of a pipe's SIGIO (F_SETOWN
//      from init), forks
//      B "ta-middle": forks C, then waits in pause() until killed;
//        C "ta-orphan": PR_SET_PDEATHSIG SIGUSR2, waits for it (30 s);
//   D  "ta-stopped": with a second thread, stops itself with SIGSTOP, exits 0
//      once continued.
// init itself: loginuid 1234 (when the kernel has audit), oom_score_adj 500,
// THP disabled, membarrier PRIVATE_EXPEDITED and _RSEQ registered (not
// _SYNC_CORE), a SIGTRAP handler, a pipe with O_ASYNC, F_SETSIG SIGRTMIN+4
// and itself as F_SETOWN_EX owner, two more pipes owned by its process
// group and by its thread ta-idle (F_OWNER_PGRP, F_OWNER_TID); main thread SCHED_BATCH nice 7, CPU 0,
// io priority best-effort 2, timer slack 123456 ns, parent-death signal
// SIGWINCH; worker "ta-rr": SCHED_RR 5 with SCHED_RESET_ON_FORK, nice -3,
// CPU 1 (when there is one), io priority real-time 3, parent-death signal
// SIGURG; worker "ta-idle": SCHED_IDLE, nice 12, timer slack 777000 ns,
// io priority idle, SIGTRAP blocked. Prints "taskattrs: READY".
//
// SIGUSR1 (after the restore; the script has sent SIGCONT to D): every
// thread checks its own attributes, init writes to both pipes (SIGRTMIN+4
// with si_fd must reach init, SIGIO must reach A), kills B: C must get
// SIGUSR2 and find A as its parent, A reaps C and checks its status and the
// SIGIO; D must exit 0; last, init raises SIGTRAP (its handler must run).
// Prints "taskattrs: bad: <what>" for each failed check, then
// "taskattrs: OK" (exit 0) or "taskattrs: FAIL <first>" (exit 1).
//
// Modes (argv[1]): "trapign" only ignores SIGTRAP, "deadline" puts a thread
// in SCHED_DEADLINE; both print READY and pause (amber must refuse them).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define IOPRIO_VALUE(cls, lvl) (((cls) << 13) | (lvl))
#define IOPRIO_CLASS_RT 1
#define IOPRIO_CLASS_BE 2
#define IOPRIO_CLASS_IDLE 3

struct sched_attr_ {
  uint32_t size, policy;
  uint64_t flags;
  int32_t nice;
  uint32_t priority;
  uint64_t runtime, deadline, period;
};

static char failure[256];
static atomic_int check_now;
static atomic_int checked;
static volatile sig_atomic_t usr1, traps, rtsig_fd = -1, rtsig_code;
static int pipe_own[2], pipe_a[2], pipe_grp[2], pipe_tid[2];
static atomic_int idle_tid;
static int ncpu;

// Every failed check is printed at once (a later one may kill us), the
// first is the verdict.
static void failf(const char* what) {
  printf("taskattrs: bad: %s\n", what);
  if (!failure[0]) snprintf(failure, sizeof failure, "%s", what);
}
static void die(const char* what) {
  printf("taskattrs: FAIL %s (%s)\n", what, strerror(errno));
  fflush(stdout);
  exit(1);
}
static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }
static long mb(int cmd) { return syscall(SYS_membarrier, cmd, 0, 0) == 0 ? 0 : -errno; }

static void set_sched(int policy, int prio, int reset, int nice) {
  struct sched_attr_ a = {.size = sizeof a, .policy = (uint32_t)policy, .priority = (uint32_t)prio, .nice = nice};
  if (reset) a.flags = 1;  // SCHED_FLAG_RESET_ON_FORK
  if (syscall(SYS_sched_setattr, 0, &a, 0) != 0) die("sched_setattr");
  if (setpriority(PRIO_PROCESS, (id_t)gettid_(), nice) != 0) die("setpriority");
}
static void set_cpu(int cpu) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  if (sched_setaffinity(0, sizeof s, &s) != 0) die("sched_setaffinity");
}

// This thread's attributes as they must be after the restore.
struct want {
  const char* name;
  int policy, prio, reset, nice, cpu, ioprio, pdeath;
  long slack;  // -1: not checked
  int trap_blocked;
};
static void check_self(const struct want* w) {
  char m[128];
  struct sched_attr_ a = {0};
  if (syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) != 0) {
    snprintf(m, sizeof m, "%s: sched_getattr", w->name);
    failf(m);
    return;
  }
  if ((int)a.policy != w->policy || (int)a.priority != w->prio || (int)(a.flags & 1) != w->reset) {
    snprintf(m, sizeof m, "%s: policy %u prio %u flags %llx", w->name, a.policy, a.priority,
             (unsigned long long)a.flags);
    failf(m);
  }
  errno = 0;
  int nice = getpriority(PRIO_PROCESS, (id_t)gettid_());
  if (nice != w->nice) {
    snprintf(m, sizeof m, "%s: nice %d, want %d", w->name, nice, w->nice);
    failf(m);
  }
  cpu_set_t s;
  CPU_ZERO(&s);
  sched_getaffinity(0, sizeof s, &s);
  if (CPU_COUNT(&s) != 1 || !CPU_ISSET(w->cpu, &s)) {
    snprintf(m, sizeof m, "%s: affinity has %d cpus", w->name, CPU_COUNT(&s));
    failf(m);
  }
  long io = syscall(SYS_ioprio_get, 1, 0);
  if (io != w->ioprio) {
    snprintf(m, sizeof m, "%s: ioprio %#lx, want %#x", w->name, io, w->ioprio);
    failf(m);
  }
  int pd = -1;
  prctl(PR_GET_PDEATHSIG, &pd);
  if (pd != w->pdeath) {
    snprintf(m, sizeof m, "%s: pdeathsig %d, want %d", w->name, pd, w->pdeath);
    failf(m);
  }
  long slack = prctl(PR_GET_TIMERSLACK);
  if (w->slack >= 0 && slack != w->slack) {
    snprintf(m, sizeof m, "%s: timer slack %ld, want %ld", w->name, slack, w->slack);
    failf(m);
  }
  sigset_t cur;
  pthread_sigmask(SIG_SETMASK, NULL, &cur);
  if (sigismember(&cur, SIGTRAP) != w->trap_blocked) {
    snprintf(m, sizeof m, "%s: SIGTRAP blocked %d", w->name, sigismember(&cur, SIGTRAP));
    failf(m);
  }
}

static struct want w_main = {"main", SCHED_BATCH, 0, 0, 7, 0, IOPRIO_VALUE(IOPRIO_CLASS_BE, 2), SIGWINCH, 123456, 0};
static struct want w_rr = {"ta-rr", SCHED_RR, 5, 1, -3, 1, IOPRIO_VALUE(IOPRIO_CLASS_RT, 3), SIGURG, 0, 0};
static struct want w_idle = {"ta-idle", SCHED_IDLE, 0, 0, 12, 0, IOPRIO_VALUE(IOPRIO_CLASS_IDLE, 0), 0, 777000, 1};
static atomic_int ready_threads;

static void* worker(void* arg) {
  struct want* w = arg;
  prctl(PR_SET_NAME, w->name);
  if (w == &w_idle) {
    idle_tid = gettid_();
    sigset_t t;
    sigemptyset(&t);
    sigaddset(&t, SIGTRAP);
    pthread_sigmask(SIG_BLOCK, &t, NULL);
    if (prctl(PR_SET_TIMERSLACK, 777000) != 0) die("PR_SET_TIMERSLACK");
  }
  if (w->pdeath && prctl(PR_SET_PDEATHSIG, w->pdeath) != 0) die("PR_SET_PDEATHSIG");
  set_cpu(w->cpu);
  if (syscall(SYS_ioprio_set, 1, 0, w->ioprio) != 0) die("ioprio_set");
  set_sched(w->policy, w->prio, w->reset, w->nice);
  ready_threads++;
  while (!check_now) usleep(10000);
  check_self(w);
  checked++;
  for (;;) pause();
  return NULL;
}

static void on_usr1(int s) { (void)s; usr1 = 1; }
static atomic_int idle_started;
static void* idle_thread(void* arg) {
  (void)arg;
  prctl(PR_SET_NAME, "ta-stopped-2");
  idle_started = 1;
  for (;;) pause();
  return NULL;
}
static void on_trap(int s, siginfo_t* si, void* uc) { (void)s; (void)si; (void)uc; traps++; }
static void on_rt(int s, siginfo_t* si, void* uc) {
  (void)s;
  (void)uc;
  rtsig_fd = si->si_fd;
  rtsig_code = si->si_code;
}

// --- the subreaper subtree -------------------------------------------------
static volatile sig_atomic_t a_sigio, c_pdeath;
static void on_sigio(int s) { (void)s; a_sigio++; }
static void on_usr2(int s) { (void)s; c_pdeath = 1; }

static void run_c(pid_t reaper) {
  prctl(PR_SET_NAME, "ta-orphan");
  struct sigaction sa = {.sa_handler = on_usr2};
  sigaction(SIGUSR2, &sa, NULL);
  if (prctl(PR_SET_PDEATHSIG, SIGUSR2) != 0) _exit(10);
  for (int i = 0; i < 3000 && !c_pdeath; i++) usleep(10000);
  if (!c_pdeath) _exit(3);               // no parent-death signal
  if (getppid() != reaper) _exit(4);      // not reparented to the subreaper
  _exit(0);
}

static void run_a(void) {
  prctl(PR_SET_NAME, "ta-reaper");
  struct sigaction sa = {.sa_handler = on_sigio, .sa_flags = SA_RESTART};
  sigaction(SIGIO, &sa, NULL);
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) _exit(10);
  const pid_t me = getpid();
  pid_t b = fork();
  if (b == 0) {
    prctl(PR_SET_NAME, "ta-middle");
    pid_t c = fork();
    if (c == 0) run_c(me);
    for (;;) pause();
  }
  // B ends when init kills it; then C (the orphan) must come to us.
  int st, rc = 0;
  if (waitpid(b, &st, 0) != b) _exit(11);
  pid_t c = waitpid(-1, &st, 0);
  if (c < 0) rc = 12;  // ECHILD: the orphan went elsewhere
  else if (!WIFEXITED(st)) rc = 13;
  else if (WEXITSTATUS(st) != 0) rc = 20 + WEXITSTATUS(st);
  for (int i = 0; i < 300 && !a_sigio; i++) usleep(10000);
  if (!rc && !a_sigio) rc = 14;  // no SIGIO for the pipe it owns
  _exit(rc);
}

static void setup_async(int fd, int type, pid_t owner, int sig) {
  struct f_owner_ex o = {type, owner};
  if (fcntl(fd, F_SETOWN_EX, &o) != 0) die("F_SETOWN_EX");
  if (sig && fcntl(fd, F_SETSIG, sig) != 0) die("F_SETSIG");
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC) != 0) die("F_SETFL O_ASYNC");
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char* mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "trapign")) {
    signal(SIGTRAP, SIG_IGN);
    printf("taskattrs: READY\n");
    for (;;) pause();
  }
  if (!strcmp(mode, "deadline")) {
    struct sched_attr_ a = {.size = sizeof a, .policy = 6, .runtime = 1000000, .deadline = 100000000,
                            .period = 100000000};
    if (syscall(SYS_sched_setattr, 0, &a, 0) != 0) die("SCHED_DEADLINE");
    printf("taskattrs: READY\n");
    for (;;) pause();
  }
  ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (ncpu < 2) w_rr.cpu = 0;
  int audit = access("/proc/self/loginuid", F_OK) == 0;
  if (audit) {
    int f = open("/proc/self/loginuid", O_WRONLY);
    if (f < 0 || write(f, "1234", 4) != 4) die("write loginuid");
    close(f);
  }
  int f = open("/proc/self/oom_score_adj", O_WRONLY);
  if (f < 0 || write(f, "500", 3) != 3) die("write oom_score_adj");
  close(f);
  if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0) die("PR_SET_THP_DISABLE");
  if (mb(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) || mb(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ))
    die("membarrier register");
  struct sigaction sa = {.sa_sigaction = on_trap, .sa_flags = SA_SIGINFO};
  sigaction(SIGTRAP, &sa, NULL);
  struct sigaction sr = {.sa_sigaction = on_rt, .sa_flags = SA_SIGINFO | SA_RESTART};
  sigaction(SIGRTMIN + 4, &sr, NULL);
  struct sigaction su = {.sa_handler = on_usr1};
  sigaction(SIGUSR1, &su, NULL);

  pid_t a = fork();
  if (a == 0) run_a();
  pid_t d = fork();
  if (d == 0) {
    prctl(PR_SET_NAME, "ta-stopped");
    pthread_t dt;  // a second thread: the whole group must be stopped
    pthread_create(&dt, NULL, idle_thread, NULL);
    while (!idle_started) usleep(1000);
    raise(SIGSTOP);
    _exit(0);
  }
  if (pipe(pipe_own) != 0 || pipe(pipe_a) != 0) die("pipe");
  setup_async(pipe_own[0], F_OWNER_PID, getpid(), SIGRTMIN + 4);
  setup_async(pipe_a[0], F_OWNER_PID, a, 0);

  if (prctl(PR_SET_PDEATHSIG, SIGWINCH) != 0) die("PR_SET_PDEATHSIG");
  if (prctl(PR_SET_TIMERSLACK, 123456) != 0) die("PR_SET_TIMERSLACK");
  pthread_t t1, t2;
  pthread_create(&t1, NULL, worker, &w_rr);
  pthread_create(&t2, NULL, worker, &w_idle);
  set_cpu(0);
  if (syscall(SYS_ioprio_set, 1, 0, w_main.ioprio) != 0) die("ioprio_set");
  set_sched(SCHED_BATCH, 0, 0, 7);
  while (ready_threads < 2) usleep(1000);
  // Owners only checked (no signal sent): a process group and a thread.
  if (pipe(pipe_grp) != 0 || pipe(pipe_tid) != 0) die("pipe");
  struct f_owner_ex og = {F_OWNER_PGRP, getpgrp()}, ot = {F_OWNER_TID, idle_tid};
  if (fcntl(pipe_grp[0], F_SETOWN_EX, &og) != 0 || fcntl(pipe_tid[1], F_SETOWN_EX, &ot) != 0) die("F_SETOWN_EX");
  printf("taskattrs: READY\n");

  while (!usr1) pause();
  check_now = 1;
  check_self(&w_main);
  while (checked < 2) usleep(1000);
  if (audit) {
    char buf[32] = {0};
    f = open("/proc/self/loginuid", O_RDONLY);
    if (f < 0 || read(f, buf, sizeof buf - 1) <= 0 || atoi(buf) != 1234) failf("loginuid");
    if (f >= 0) close(f);
  }
  char buf[32] = {0};
  f = open("/proc/self/oom_score_adj", O_RDONLY);
  if (f < 0 || read(f, buf, sizeof buf - 1) <= 0 || atoi(buf) != 500) failf("oom_score_adj");
  close(f);
  if (prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) != 1) failf("THP disable");
  if (mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0) failf("membarrier PRIVATE_EXPEDITED not registered");
  if (mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) != 0) failf("membarrier PRIVATE_EXPEDITED_RSEQ not registered");
  if (mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE) != -EPERM) failf("membarrier SYNC_CORE registered");
  struct f_owner_ex o = {0};
  if (fcntl(pipe_own[0], F_GETOWN_EX, &o) != 0 || o.type != F_OWNER_PID || o.pid != getpid()) failf("F_GETOWN_EX");
  if (fcntl(pipe_own[0], F_GETSIG) != SIGRTMIN + 4) failf("F_GETSIG");
  if (!(fcntl(pipe_own[0], F_GETFL) & O_ASYNC)) failf("O_ASYNC lost");
  if (fcntl(pipe_a[0], F_GETOWN_EX, &o) != 0 || o.pid != a) failf("F_GETOWN_EX of A's pipe");
  if (fcntl(pipe_grp[0], F_GETOWN_EX, &o) != 0 || o.type != F_OWNER_PGRP || o.pid != getpgrp())
    failf("F_GETOWN_EX process group");
  if (fcntl(pipe_tid[1], F_GETOWN_EX, &o) != 0 || o.type != F_OWNER_TID || o.pid != idle_tid)
    failf("F_GETOWN_EX thread");
  if (write(pipe_own[1], "x", 1) != 1 || write(pipe_a[1], "y", 1) != 1) failf("write pipes");
  for (int i = 0; i < 300 && rtsig_fd < 0; i++) usleep(10000);
  if (rtsig_fd != pipe_own[0] || rtsig_code != POLL_IN) failf("no SIGRTMIN+4 with si_fd for the pipe (F_SETSIG)");
  // B: A's child; its death sends C the parent-death signal and makes C an
  // orphan. Its pid: the only child of A, found in /proc.
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task/%d/children", a, a);
  FILE* cf = fopen(path, "r");
  int b = 0;
  if (!cf || fscanf(cf, "%d", &b) != 1) failf("find B");
  if (cf) fclose(cf);
  if (b > 0) kill(b, SIGKILL);
  int st;
  if (waitpid(a, &st, 0) != a || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    char m[96];
    snprintf(m, sizeof m, "subreaper/pdeathsig/SIGIO subtree: status %#x", st);
    failf(m);
  }
  if (waitpid(d, &st, 0) != d || !WIFEXITED(st) || WEXITSTATUS(st) != 0) failf("stopped task D");
  raise(SIGTRAP);  // dies here if the handler is gone
  if (traps != 1) failf("SIGTRAP handler");
  if (failure[0]) {
    printf("taskattrs: FAIL %s\n", failure);
    return 1;
  }
  printf("taskattrs: OK\n");
  return 0;
}
