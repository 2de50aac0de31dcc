// Workload: a process tree of 20 processes in 3 sessions and 5 process
// groups, with 2 zombies, an orphan subtree whose session leader is dead
// (reparented to the init) and a task in another group than its parent's.
//   1 init (session 1, group 1)
//   ├─ G1 (group G1) ─ G1a ─ G1a1 (group 1)          G1b
//   ├─ S2 (session S2) ─ S2a ─ S2a1      S2b
//   │                 └─ P2 (group P2) ─ P2a  P2b
//   ├─ D (session S3, group S3: S3 exited) ─ Da Db Dc
//   ├─ Z1 (zombie, exit 7)  Z2 (zombie, SIGTERM)
//   └─ I1  I2
// Prints "tree: READY" when all is set up. On SIGUSR1 the init checks every
// group and session it made (getpgid/getsid), reaps the zombies with
// waitpid and checks their statuses, then prints "tree: OK" (exit 0) or
// "tree: FAIL <what>" (exit 1).
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int ready_pipe[2];

struct expect {
  pid_t pid, pgid, sid;
};
static struct expect expected[32];
static int n_expected;

static void fail(const char* what) {
  printf("tree: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

static void ready(void) {
  char c = 'r';
  if (write(ready_pipe[1], &c, 1) != 1) _exit(3);
}

// Tells the init it is ready, drops the pipe and sleeps until killed.
static void park(void) {
  ready();
  close(ready_pipe[0]);
  close(ready_pipe[1]);
  for (;;) pause();
}

static pid_t spawn(void (*fn)(void)) {
  pid_t p = fork();
  if (p < 0) fail("fork");
  if (p == 0) {
    fn();
    _exit(0);
  }
  return p;
}

static void leaf(void) { park(); }
static void join_group_1(void) {
  if (setpgid(0, 1) != 0) _exit(4);
  park();
}
static void g1a(void) {
  spawn(join_group_1);
  park();
}
static void g1(void) {
  if (setpgid(0, 0) != 0) _exit(4);
  spawn(g1a);
  spawn(leaf);
  park();
}
static void s2a(void) {
  spawn(leaf);
  park();
}
static void p2(void) {
  if (setpgid(0, 0) != 0) _exit(4);
  spawn(leaf);
  spawn(leaf);
  park();
}
static void s2(void) {
  if (setsid() < 0) _exit(4);
  spawn(s2a);
  spawn(leaf);
  spawn(p2);
  park();
}
static void d(void) {
  spawn(leaf);
  spawn(leaf);
  spawn(leaf);
  park();
}
// The session leader of S3: starts D's subtree, then exits (reaped by the
// init), leaving D an orphan in a session without its leader.
static void s3(void) {
  if (setsid() < 0) _exit(4);
  if (fork() == 0) {
    // D reports once it is an orphan: after S3 is gone.
    while (getppid() != 1) usleep(1000);
    d();
    _exit(0);
  }
  _exit(0);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (getpid() != 1) fail("not the container's init");
  if (pipe(ready_pipe)) fail("pipe");
  spawn(g1);
  spawn(s2);
  pid_t s3p = spawn(s3);
  int st;
  if (waitpid(s3p, &st, 0) != s3p) fail("reap S3");
  pid_t z1 = fork();
  if (z1 == 0) _exit(7);
  pid_t z2 = fork();
  if (z2 == 0) {
    signal(SIGTERM, SIG_DFL);
    raise(SIGTERM);
    _exit(99);
  }
  spawn(leaf);
  spawn(leaf);
  close(ready_pipe[1]);
  // 17 live processes besides the init report.
  for (int n = 0; n < 17;) {
    char c;
    ssize_t r = read(ready_pipe[0], &c, 1);
    if (r == 1) n++;
    else if (r == 0) fail("a process died while setting up");
    else if (errno != EINTR) fail("read ready pipe");
  }
  close(ready_pipe[0]);
  // Zombies: exited, never reaped until the check.
  pid_t zombies[2] = {z1, z2};
  for (int k = 0; k < 2; k++) {
    pid_t z = zombies[k];
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", z);
    for (int i = 0; i < 1000; i++) {
      FILE* f = fopen(path, "r");
      if (!f) fail("stat of a zombie");
      size_t n = fread(buf, 1, sizeof buf - 1, f);
      fclose(f);
      buf[n] = 0;
      char* e = strrchr(buf, ')');
      if (e && e[2] == 'Z') break;
      usleep(1000);
    }
  }
  // Every process's group and session, as made.
  for (pid_t p = 2; p < 64; p++) {
    pid_t g = getpgid(p), s = getsid(p);
    if (g < 0 || s < 0) continue;
    expected[n_expected++] = (struct expect){p, g, s};
  }
  printf("tree: READY pid=%d processes=%d\n", getpid(), n_expected + 1);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int sig;
  if (sigwait(&set, &sig) != 0) fail("sigwait");
  for (int i = 0; i < n_expected; i++) {
    struct expect* e = &expected[i];
    if (getpgid(e->pid) != e->pgid || getsid(e->pid) != e->sid) {
      printf("tree: FAIL process %d: group %d session %d, expected %d %d\n", e->pid, getpgid(e->pid),
             getsid(e->pid), e->pgid, e->sid);
      _exit(1);
    }
  }
  if (getpgid(0) != 1 || getsid(0) != 1) fail("init's own group or session");
  if (waitpid(z1, &st, WNOHANG) != z1 || !WIFEXITED(st) || WEXITSTATUS(st) != 7) fail("zombie 1: status");
  if (waitpid(z2, &st, WNOHANG) != z2 || !WIFSIGNALED(st) || WTERMSIG(st) != SIGTERM) fail("zombie 2: status");
  printf("tree: OK %d processes\n", n_expected + 1);
  return 0;
}
