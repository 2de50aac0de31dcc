// Workload: SysV semaphores held with SEM_UNDO across dump -> kill ->
// restore (dump_semundo.sh). Runs as the container's init.
//
// Set key 0x6363, 3 semaphores, values 1, 5, 0 at the start:
//   - child A (single-threaded) holds semaphore 0 with SEM_UNDO (-1: its
//     semadj +1) and raises semaphore 1 by 20000 with SEM_UNDO (semadj
//     -20000);
//   - child B (two threads) raises semaphore 2 by 7 with SEM_UNDO from its
//     second thread (one list for both threads: semadj -7);
//   - the init itself has a second thread and no adjustment.
// Then the values are 0, 20005, 7; prints "semundo: READY" and waits for
// SIGUSR1. Children A and B wait on pipes from the init (blocked in read).
// On SIGUSR1 (after restore): the values must still be 0, 20005, 7 and
// semaphore 0 taken (IPC_NOWAIT -> EAGAIN); the init closes A's pipe, A
// exits and the kernel applies its adjustments: 1, 5, 7, and the init can
// take semaphore 0 (then gives it back); B's second thread ends (thread
// exit applies nothing: 1, 5, 7 seen by B), then B exits: 1, 5, 0.
// Prints "semundo: OK", exits 0; "semundo: FAIL ..." otherwise.
// With "shared": a child made by clone(CLONE_SYSVSEM) without CLONE_THREAD
// shares the init's undo list (refused by the dump); prints READY, waits.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

union semun {
  int val;
  unsigned short* array;
};

static int semid;

static void die(const char* what) {
  printf("semundo: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

static volatile sig_atomic_t go;
static void on_usr1(int s) {
  (void)s;
  go = 1;
}

static void values(unsigned short v[3]) {
  if (semctl(semid, 0, GETALL, (union semun){.array = v}) != 0) die("GETALL");
}

static void expect(int a, int b, int c, const char* when) {
  unsigned short v[3];
  values(v);
  if (v[0] != a || v[1] != b || v[2] != c) {
    printf("semundo: FAIL values %s: %d %d %d, want %d %d %d\n", when, v[0], v[1], v[2], a, b, c);
    fflush(stdout);
    _exit(1);
  }
}

static void semop1(int num, int op, int flags) {
  struct sembuf s = {(unsigned short)num, (short)op, (short)flags};
  while (semop(semid, &s, 1) != 0)
    if (errno != EINTR) die("semop");
}

// Blocks until the init closes its end (EOF), retrying reads a stop cut.
static void wait_eof(int fd) {
  char c;
  for (;;) {
    ssize_t n = read(fd, &c, 1);
    if (n == 0) return;
    if (n < 0 && errno != EINTR) die("read");
  }
}

static void* idle_thread(void* arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

static int b_pipe;
static void* b_thread(void* arg) {
  (void)arg;
  semop1(2, 7, SEM_UNDO);
  wait_eof(b_pipe);
  return NULL;
}

static int shared(void) {
  semid = semget(0x6464, 1, IPC_CREAT | 0600);
  if (semid < 0) die("semget");
  semop1(0, 1, SEM_UNDO);
  long c = syscall(SYS_clone, CLONE_SYSVSEM | SIGCHLD, 0, 0, 0, 0);
  if (c < 0) die("clone(CLONE_SYSVSEM)");
  if (c == 0)
    for (;;) pause();
  printf("semundo: READY\n");
  fflush(stdout);
  while (!go) pause();
  return 0;
}

int main(int argc, char** argv) {
  signal(SIGUSR1, on_usr1);
  if (argc > 1 && strcmp(argv[1], "shared") == 0) return shared();
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  semid = semget(0x6363, 3, IPC_CREAT | IPC_EXCL | 0600);
  if (semid < 0) die("semget");
  unsigned short init_v[3] = {1, 5, 0};
  if (semctl(semid, 0, SETALL, (union semun){.array = init_v}) != 0) die("SETALL");

  int pa[2], pb[2], ready[2];
  if (pipe(pa) || pipe(pb) || pipe(ready)) die("pipe");
  pid_t a = fork();
  if (a < 0) die("fork A");
  if (a == 0) {
    close(pa[1]);
    close(pb[1]);
    close(ready[0]);
    semop1(0, -1, SEM_UNDO);
    semop1(1, 20000, SEM_UNDO);
    if (write(ready[1], "a", 1) != 1) die("ready A");
    wait_eof(pa[0]);
    _exit(0);
  }
  pid_t b = fork();
  if (b < 0) die("fork B");
  if (b == 0) {
    close(pa[1]);
    close(pb[1]);
    close(ready[0]);
    b_pipe = pb[0];
    pthread_t th;
    if (pthread_create(&th, NULL, b_thread, NULL) != 0) die("pthread_create B");
    // The thread's adjustment is the process's: its end applies nothing.
    for (;;) {
      unsigned short v[3];
      values(v);
      if (v[2] == 7) break;
      usleep(1000);
    }
    if (write(ready[1], "b", 1) != 1) die("ready B");
    if (pthread_join(th, NULL) != 0) die("pthread_join");
    unsigned short v[3];
    values(v);
    if (v[2] != 7) {
      printf("semundo: FAIL B's thread exit changed semaphore 2 to %d\n", v[2]);
      fflush(stdout);
      _exit(1);
    }
    _exit(0);
  }
  close(pa[0]);
  close(pb[0]);
  close(ready[1]);
  char c;
  for (int i = 0; i < 2; i++)
    if (read(ready[0], &c, 1) != 1) die("children ready");
  // The init's own second thread: a list shared by two threads, empty.
  pthread_sigmask(SIG_BLOCK, &usr1, NULL);
  pthread_t idle;
  if (pthread_create(&idle, NULL, idle_thread, NULL) != 0) die("pthread_create");
  pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
  expect(0, 20005, 7, "before the dump");
  printf("semundo: READY\n");
  fflush(stdout);
  sigset_t none;
  sigemptyset(&none);
  while (!go) sigsuspend(&none);

  expect(0, 20005, 7, "after the restore");
  struct sembuf take = {0, -1, IPC_NOWAIT};
  if (semop(semid, &take, 1) == 0 || errno != EAGAIN) die("semaphore 0 is not held any more");
  close(pa[1]);
  int st;
  if (waitpid(a, &st, 0) != a || !WIFEXITED(st) || WEXITSTATUS(st) != 0) die("child A");
  expect(1, 5, 7, "after A exited (its SEM_UNDO adjustments applied)");
  semop1(0, -1, 0);  // released: taken at once
  semop1(0, 1, 0);
  close(pb[1]);
  if (waitpid(b, &st, 0) != b || !WIFEXITED(st) || WEXITSTATUS(st) != 0) die("child B");
  expect(1, 5, 0, "after B exited");
  if (semctl(semid, 0, IPC_RMID) != 0) die("IPC_RMID");
  printf("semundo: OK\n");
  fflush(stdout);
  return 0;
}
