// Workload: namespace and process-tree state that amber refuses by name
// (dump_ipcns.sh, dump_tree_refusals.sh). One mode per run:
//   msgq KEY N       makes SysV message queue KEY with N messages, exits
//   mq NAME          makes POSIX message queue NAME with one message, exits
//   session          (as the container's init) a tree whose sessions the
//                    restore cannot recreate: init - A (setsid) - B - C - D,
//                    then C and B call setsid(): D stays in A's session
//                    under C, which was born in B's
//   proc-dead        (as the init) keeps /proc/X/mountinfo open of a child X
//                    that has exited and been reaped
//   cwd-dead         (as the init) has its cwd in /proc/X of a child X that
//                    has exited and been reaped
//   cwd-sibling      (as the init) forks X, then Y whose cwd is /proc/X
//   proc-own         (as the init) keeps /proc/self/mountinfo open and a
//                    child keeps /proc/1/status (its parent's) open; on
//                    SIGUSR1 both read theirs and print "nsmisc: OK"
// The long-running modes print "nsmisc: READY" once set up.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char* what) {
  printf("nsmisc: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

static void ready(void) {
  printf("nsmisc: READY\n");
  fflush(stdout);
}

static void park(void) {
  for (;;) pause();
}

static int msgq(long key, int n) {
  int id = msgget((key_t)key, IPC_CREAT | 0600);
  if (id < 0) die("msgget");
  struct {
    long type;
    char text[16];
  } m = {1, "hello"};
  for (int i = 0; i < n; ++i)
    if (msgsnd(id, &m, sizeof m.text, 0) != 0) die("msgsnd");
  return 0;
}

static int mq(const char* name) {
  mqd_t q = mq_open(name, O_CREAT | O_RDWR, 0600, NULL);
  if (q == (mqd_t)-1) die("mq_open");
  if (mq_send(q, "hello", 5, 0) != 0) die("mq_send");
  return 0;
}

// Each process signals the one above it when its part is done.
static int session(void) {
  int p[2];
  if (pipe(p) != 0) die("pipe");
  pid_t a = fork();
  if (a < 0) die("fork A");
  if (a == 0) {
    if (setsid() < 0) die("setsid A");
    int q[2];
    if (pipe(q) != 0) die("pipe");
    pid_t b = fork();
    if (b < 0) die("fork B");
    if (b == 0) {
      int r[2];
      if (pipe(r) != 0) die("pipe");
      pid_t c = fork();
      if (c < 0) die("fork C");
      if (c == 0) {
        int s[2];
        if (pipe(s) != 0) die("pipe");
        pid_t d = fork();
        if (d < 0) die("fork D");
        if (d == 0) {
          if (write(s[1], "d", 1) != 1) die("write");
          park();
        }
        char x;
        if (read(s[0], &x, 1) != 1) die("read D");
        if (setsid() < 0) die("setsid C");
        if (write(r[1], "c", 1) != 1) die("write");
        park();
      }
      char x;
      if (read(r[0], &x, 1) != 1) die("read C");
      if (setsid() < 0) die("setsid B");
      if (write(q[1], "b", 1) != 1) die("write");
      park();
    }
    char x;
    if (read(q[0], &x, 1) != 1) die("read B");
    if (write(p[1], "a", 1) != 1) die("write");
    park();
  }
  char x;
  if (read(p[0], &x, 1) != 1) die("read A");
  ready();
  park();
  return 0;
}

static int proc_dead(void) {
  pid_t c = fork();
  if (c < 0) die("fork");
  if (c == 0) park();
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/mountinfo", c);
  int fd = open(path, O_RDONLY);
  if (fd < 0) die("open /proc/CHILD/mountinfo");
  if (kill(c, SIGKILL) != 0 || waitpid(c, NULL, 0) != c) die("end the child");
  ready();
  park();
  return 0;
}

static int cwd_dead(void) {
  pid_t c = fork();
  if (c < 0) die("fork");
  if (c == 0) park();
  char path[64];
  snprintf(path, sizeof path, "/proc/%d", c);
  if (chdir(path) != 0) die("chdir /proc/CHILD");
  if (kill(c, SIGKILL) != 0 || waitpid(c, NULL, 0) != c) die("end the child");
  ready();
  park();
  return 0;
}

static int cwd_sibling(void) {
  pid_t x = fork();
  if (x < 0) die("fork");
  if (x == 0) park();
  pid_t y = fork();
  if (y < 0) die("fork");
  if (y == 0) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", x);
    if (chdir(path) != 0) die("chdir /proc/SIBLING");
    ready();
    park();
  }
  park();
  return 0;
}

static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig) {
  (void)sig;
  got_usr1 = 1;
}

static int check_fd(int fd, const char* want) {
  char buf[256];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  buf[n] = 0;
  return strstr(buf, want) != NULL;
}

static int proc_own(void) {
  signal(SIGUSR1, on_usr1);
  int own = open("/proc/self/mountinfo", O_RDONLY);
  if (own < 0) die("open /proc/self/mountinfo");
  pid_t c = fork();
  if (c < 0) die("fork");
  if (c == 0) {
    int fd = open("/proc/1/status", O_RDONLY);
    if (fd < 0) die("open /proc/1/status");
    while (!got_usr1) pause();
    _exit(check_fd(fd, "Name:\tnsmisc") ? 0 : 1);
  }
  ready();
  while (!got_usr1) pause();
  kill(c, SIGUSR1);
  int st = 0;
  if (waitpid(c, &st, 0) != c) die("waitpid");
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) die("the child's /proc/1/status");
  if (!check_fd(own, " / ")) die("/proc/self/mountinfo");
  printf("nsmisc: OK\n");
  fflush(stdout);
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 4 && strcmp(argv[1], "msgq") == 0) return msgq(strtol(argv[2], NULL, 0), atoi(argv[3]));
  if (argc >= 3 && strcmp(argv[1], "mq") == 0) return mq(argv[2]);
  if (argc >= 2 && strcmp(argv[1], "session") == 0) return session();
  if (argc >= 2 && strcmp(argv[1], "proc-dead") == 0) return proc_dead();
  if (argc >= 2 && strcmp(argv[1], "cwd-dead") == 0) return cwd_dead();
  if (argc >= 2 && strcmp(argv[1], "cwd-sibling") == 0) return cwd_sibling();
  if (argc >= 2 && strcmp(argv[1], "proc-own") == 0) return proc_own();
  fprintf(stderr, "usage: nsmisc msgq KEY N | mq NAME | session | proc-dead | cwd-dead | cwd-sibling | proc-own\n");
  return 2;
}
