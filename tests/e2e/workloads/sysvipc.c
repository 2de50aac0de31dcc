// Workload: SysV IPC objects of the container's own ipc namespace, checked
// after dump -> kill -> restore (dump_sysvipc.sh). Runs as the container's
// init. Modes:
//   objects   makes, then prints "sysvipc: READY <ids>":
//             - shm segment key 0x5151 (20000 bytes, a pattern) attached in
//               the init twice (read-write and read-only), both attaches
//               inherited by a fork child at the same addresses;
//             - shm segment key 0x5252 (8192 bytes) attached in both and
//               marked IPC_RMID;
//             - shm segment key 0x5353 (3 pages, content) attached nowhere;
//             - semaphore set key 0x6161 of 3 semaphores (values 3, 0, 7);
//             - message queue key 0x7171 with 100 messages of types 1..5,
//               sizes 0..199 bytes;
//             On SIGUSR1 both processes check all of it against what they
//             made (same ids, content, addresses), the init writes a new
//             word into each attached segment and the child must see it;
//             then the queue is drained in order. Prints "sysvipc: OK".
//   mqfd [notify]  holds an fd of a POSIX queue (see mqfd() below)
//   mq        a POSIX message queue with messages of several priorities
//             (see mq() below)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char* what) {
  printf("sysvipc: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

static volatile sig_atomic_t go;
static void on_usr1(int s) {
  (void)s;
  go = 1;
}

static void wait_go(void) {
  sigset_t none;
  sigemptyset(&none);
  while (!go) sigsuspend(&none);
}

enum { kSizeA = 20000, kSizeB = 8192, kSizeC = 3 * 4096, kMsgs = 100 };

static unsigned char pattern(size_t i, int seed) { return (unsigned char)((i * 131 + seed * 7) ^ (i >> 8)); }

// Bytes [from, n) of a segment mapped at p.
static int check_range(const unsigned char* p, size_t from, size_t n, int seed) {
  for (size_t i = from; i < n; i++)
    if (p[i] != pattern(i, seed)) return 0;
  return 1;
}

static int check_pattern(const unsigned char* p, size_t n, int seed) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != pattern(i, seed)) return 0;
  return 1;
}

static int in_maps(const void* at, const char* name) {
  FILE* f = fopen("/proc/self/maps", "r");
  if (!f) return 0;
  char line[512];
  int found = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long s;
    if (sscanf(line, "%lx-", &s) == 1 && s == (unsigned long)at && strstr(line, name)) found = 1;
  }
  fclose(f);
  return found;
}

struct msgbuf_ {
  long type;
  char text[256];
};

static int objects(void) {
  signal(SIGUSR1, on_usr1);
  int a = shmget(0x5151, kSizeA, IPC_CREAT | IPC_EXCL | 0640);
  int b = shmget(0x5252, kSizeB, IPC_CREAT | IPC_EXCL | 0600);
  int c = shmget(0x5353, kSizeC, IPC_CREAT | IPC_EXCL | 0604);
  if (a < 0 || b < 0 || c < 0) die("shmget");
  unsigned char* pa = shmat(a, NULL, 0);
  unsigned char* pa_ro = shmat(a, NULL, SHM_RDONLY);
  unsigned char* pb = shmat(b, NULL, 0);
  unsigned char* pc = shmat(c, NULL, 0);
  if (pa == (void*)-1 || pa_ro == (void*)-1 || pb == (void*)-1 || pc == (void*)-1) die("shmat");
  for (size_t i = 0; i < kSizeA; i++) pa[i] = pattern(i, 1);
  for (size_t i = 0; i < kSizeB; i++) pb[i] = pattern(i, 2);
  for (size_t i = 0; i < kSizeC; i++) pc[i] = pattern(i, 3);
  if (shmdt(pc) != 0) die("shmdt c");

  int s = semget(0x6161, 3, IPC_CREAT | IPC_EXCL | 0660);
  if (s < 0) die("semget");
  unsigned short vals[3] = {3, 0, 7};
  if (semctl(s, 0, SETALL, vals) != 0) die("SETALL");

  int q = msgget(0x7171, IPC_CREAT | IPC_EXCL | 0620);
  if (q < 0) die("msgget");
  struct msqid_ds qd;
  if (msgctl(q, IPC_STAT, &qd) != 0) die("msgctl stat");
  qd.msg_qbytes = 12000;  // not the default msgmnb (16384); the 100 messages take 9900
  if (msgctl(q, IPC_SET, &qd) != 0) die("msgctl set");
  struct msgbuf_ m;
  for (int i = 0; i < kMsgs; i++) {
    m.type = 1 + i % 5;
    size_t len = (size_t)(i * 2) % 200;
    for (size_t k = 0; k < len; k++) m.text[k] = (char)(i + k);
    if (msgsnd(q, &m, len, IPC_NOWAIT) != 0) die("msgsnd");
  }

  int sync_pipe[2];
  if (pipe(sync_pipe) != 0) die("pipe");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    close(sync_pipe[1]);
    char ch;
    // The parent writes new words after its checks, then tells us.
    if (read(sync_pipe[0], &ch, 1) != 1) die("child: sync");
    if (!in_maps(pa, "/SYSV00005151") || !in_maps(pb, "/SYSV00005252")) die("child: attaches moved");
    if (pa[100] != 0xA5 || pb[200] != 0x5A) die("child: segments are not shared with the parent");
    if (!check_range(pa, 1000, kSizeA, 1) || !check_range(pb, 1000, kSizeB, 2))
      die("child: content");
    printf("sysvipc: CHILD OK\n");
    fflush(stdout);
    _exit(0);
  }
  close(sync_pipe[0]);
  printf("sysvipc: READY shm=%d,%d,%d sem=%d msg=%d\n", a, b, c, s, q);
  fflush(stdout);
  // Marked for removal: kept alive by the two attaches of each process.
  if (shmctl(b, IPC_RMID, NULL) != 0) die("IPC_RMID");
  printf("sysvipc: RMID\n");
  fflush(stdout);
  wait_go();

  // Same ids, same state.
  struct shmid_ds d;
  if (shmctl(a, IPC_STAT, &d) != 0 || d.shm_segsz != kSizeA || d.shm_perm.__key != 0x5151 ||
      (d.shm_perm.mode & 0777) != 0640 || d.shm_nattch != 4)
    die("segment a state");
  if (shmctl(b, IPC_STAT, &d) != 0 || d.shm_segsz != kSizeB || !(d.shm_perm.mode & SHM_DEST) || d.shm_nattch != 2)
    die("segment b state");
  if (shmctl(c, IPC_STAT, &d) != 0 || d.shm_segsz != kSizeC || d.shm_nattch != 0) die("segment c state");
  if (shmget(0x5151, 0, 0) != a || shmget(0x5353, 0, 0) != c) die("keys");
  if (!in_maps(pa, "/SYSV00005151") || !in_maps(pa_ro, "/SYSV00005151") || !in_maps(pb, "/SYSV00005252"))
    die("attaches moved");
  if (!check_pattern(pa, kSizeA, 1) || !check_pattern(pa_ro, kSizeA, 1) || !check_pattern(pb, kSizeB, 2))
    die("attached content");
  pc = shmat(c, NULL, SHM_RDONLY);
  if (pc == (void*)-1 || !check_pattern(pc, kSizeC, 3)) die("unattached segment's content");

  unsigned short now[3];
  if (semctl(s, 0, GETALL, now) != 0 || now[0] != 3 || now[1] != 0 || now[2] != 7) die("semaphore values");
  struct semid_ds sd;
  if (semctl(s, 0, IPC_STAT, &sd) != 0 || (sd.sem_perm.mode & 0777) != 0660) die("semaphore set state");

  if (msgctl(q, IPC_STAT, &qd) != 0 || qd.msg_qnum != kMsgs || qd.msg_qbytes != 12000 ||
      (qd.msg_perm.mode & 0777) != 0620)
    die("queue state");
  for (int i = 0; i < kMsgs; i++) {
    ssize_t n = msgrcv(q, &m, sizeof m.text, 0, IPC_NOWAIT);
    size_t len = (size_t)(i * 2) % 200;
    if (n != (ssize_t)len || m.type != 1 + i % 5) die("message order, type or size");
    for (size_t k = 0; k < len; k++)
      if (m.text[k] != (char)(i + k)) die("message text");
  }

  pa[100] = 0xA5;
  pb[200] = 0x5A;
  if (write(sync_pipe[1], "x", 1) != 1) die("sync");
  int st;
  if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st) != 0) die("child failed");
  printf("sysvipc: OK\n");
  fflush(stdout);
  return 0;
}

// mq: POSIX message queue /amber_mq (10 messages of at most 64 bytes, mode
// 0640) holding 10 messages of priorities 0, 3 and 7 sent interleaved; the
// fd is closed. On SIGUSR1 the queue is opened again and read: priority
// order, FIFO within one priority.
static const unsigned kPrios[] = {3, 0, 7, 3, 7, 0, 0, 3, 7, 3};
enum { kMqMsgs = 10 };

// mqfd [notify]: keeps an fd of queue /amber_fdq open (registered with
// mq_notify for SIGUSR2 with "notify"), prints READY, waits.
static int mqfd(int notify) {
  signal(SIGUSR1, on_usr1);
  mqd_t q = mq_open("/amber_fdq", O_CREAT | O_RDWR, 0600, NULL);
  if (q == (mqd_t)-1) die("mq_open");
  struct sigevent ev = {0};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR2;
  if (notify && mq_notify(q, &ev) != 0) die("mq_notify");
  printf("sysvipc: READY\n");
  fflush(stdout);
  wait_go();
  return 0;
}

static int mq(void) {
  signal(SIGUSR1, on_usr1);
  struct mq_attr attr = {0};
  attr.mq_maxmsg = 10;  // fs.mqueue.msg_max in a fresh namespace
  attr.mq_msgsize = 64;
  mqd_t q = mq_open("/amber_mq", O_CREAT | O_EXCL | O_RDWR, 0640, &attr);
  if (q == (mqd_t)-1) die("mq_open");
  char text[64];
  for (int i = 0; i < kMqMsgs; i++) {
    int n = snprintf(text, sizeof text, "message %d prio %u", i, kPrios[i]);
    if (mq_send(q, text, (size_t)n, kPrios[i]) != 0) die("mq_send");
  }
  mq_close(q);
  printf("sysvipc: READY\n");
  fflush(stdout);
  wait_go();
  q = mq_open("/amber_mq", O_RDONLY | O_NONBLOCK);
  if (q == (mqd_t)-1) die("mq_open after restore");
  if (mq_getattr(q, &attr) != 0 || attr.mq_maxmsg != 10 || attr.mq_msgsize != 64 || attr.mq_curmsgs != kMqMsgs)
    die("mq attributes");
  static const unsigned order[] = {7, 3, 0};
  int got = 0;
  for (int p = 0; p < 3; p++)
    for (int i = 0; i < kMqMsgs; i++) {
      if (kPrios[i] != order[p]) continue;
      unsigned prio;
      char want[64], buf[64];
      int n = snprintf(want, sizeof want, "message %d prio %u", i, kPrios[i]);
      ssize_t r = mq_receive(q, buf, sizeof buf, &prio);
      if (r != n || prio != kPrios[i] || memcmp(buf, want, (size_t)n) != 0) die("mq message order or content");
      got++;
    }
  if (got != kMqMsgs || mq_receive(q, text, sizeof text, NULL) >= 0) die("mq message count");
  printf("sysvipc: OK\n");
  fflush(stdout);
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  if (!strcmp(argv[1], "objects")) return objects();
  if (!strcmp(argv[1], "mq")) return mq();
  if (!strcmp(argv[1], "mqfd")) return mqfd(argc > 2 && !strcmp(argv[2], "notify"));
  return 2;
}
