// Workload: POSIX shared memory and a named semaphore, both unlinked while
// in use (files of the container's /dev/shm mapped MAP_SHARED, then
// deleted: what python multiprocessing does).
// The init makes a semaphore (sem_open, sem_unlink) and a shm object
// (shm_open, mmap shared, shm_unlink; its fd stays open at 7), forks a child;
// each adds kRounds to the counter in the shm under the semaphore. The child
// then takes the semaphore and holds it. Prints "shmfile: READY". On SIGUSR1
// (the init forwards it to the child):
// - the init finds the semaphore taken (sem_trywait: EAGAIN), writes a
//   marker through fd 7, which the child must see in its mapping; the child
//   releases the semaphore, which the init must then get within 5 s (one
//   semaphore again, not two copies);
// - both add kRounds more; the counter must be 4 * kRounds, read through the
//   mapping and through fd 7 (one object for the mapping and the fd).
// Also: /dev/zero mapped MAP_SHARED before the fork (the child writes 7 into
// it after the restore, the init must see it), and an unlinked /dev/shm file
// mapped MAP_PRIVATE by the init (page 0 as the file has it, page 1 written
// privately: both must read back).
// "shmfile: OK" (exit 0) or "shmfile: FAIL <what>" (exit 1).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { kRounds = 1000 };

struct Shared {
  long counter;
  long marker;
  int child_holds;
  int init_added;  // the init's adds are done: the child may take the semaphore for good
};

static void fail(const char* what) {
  printf("shmfile: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

static void add(sem_t* sem, struct Shared* s) {
  for (int i = 0; i < kRounds; i++) {
    if (sem_wait(sem) != 0) fail("sem_wait");
    long v = s->counter;
    sched_yield();  // without the semaphore, increments would be lost
    s->counter = v + 1;
    if (sem_post(sem) != 0) fail("sem_post");
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  char sem_name[64], shm_name[64];
  snprintf(sem_name, sizeof sem_name, "/amber-sem-%d", getpid());
  snprintf(shm_name, sizeof shm_name, "/amber-shm-%d", getpid());
  sem_t* sem = sem_open(sem_name, O_CREAT | O_EXCL, 0600, 1);
  if (sem == SEM_FAILED) fail("sem_open");
  if (sem_unlink(sem_name) != 0) fail("sem_unlink");
  int fd = shm_open(shm_name, O_CREAT | O_EXCL | O_RDWR, 0640);
  if (fd < 0 || ftruncate(fd, 4096) != 0) fail("shm_open");
  if (dup2(fd, 7) != 7) fail("dup2");
  close(fd);
  struct Shared* s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 7, 0);
  if (s == MAP_FAILED) fail("mmap");
  if (shm_unlink(shm_name) != 0) fail("shm_unlink");
  int zfd = open("/dev/zero", O_RDWR);
  int* zero = zfd < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, zfd, 0);
  if (zero == MAP_FAILED) fail("map /dev/zero shared");
  close(zfd);
  char priv_name[64];
  snprintf(priv_name, sizeof priv_name, "/dev/shm/amber-priv-%d", getpid());
  int pfd = open(priv_name, O_CREAT | O_EXCL | O_RDWR, 0600);
  if (pfd < 0 || ftruncate(pfd, 8192) != 0 || pwrite(pfd, "base", 4, 0) != 4) fail("private file");
  char* priv = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, pfd, 0);
  if (priv == MAP_FAILED) fail("map private");
  close(pfd);
  if (unlink(priv_name) != 0) fail("unlink private file");
  memcpy(priv + 4096, "mine", 4);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  pid_t child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    add(sem, s);
    // Taken for good only once the init's adds are done, or they would wait
    // for it for ever (the init never printed READY about one run in four).
    while (!__atomic_load_n(&s->init_added, __ATOMIC_SEQ_CST)) usleep(1000);
    if (sem_wait(sem) != 0) fail("child: take");
    s->child_holds = 1;
    int sig;
    sigwait(&set, &sig);
    // The init's marker, written through its fd after the restore.
    for (int i = 0; i < 500 && s->marker != 42; i++) usleep(10000);
    if (s->marker != 42) fail("child: the init's write through the fd is not in this mapping");
    if (sem_post(sem) != 0) fail("child: release");
    add(sem, s);
    *zero = 7;
    _exit(0);
  }
  add(sem, s);
  __atomic_store_n(&s->init_added, 1, __ATOMIC_SEQ_CST);
  while (!__atomic_load_n(&s->child_holds, __ATOMIC_SEQ_CST)) usleep(10000);
  printf("shmfile: READY child=%d\n", child);
  int sig;
  sigwait(&set, &sig);
  if (sem_trywait(sem) == 0 || errno != EAGAIN) fail("the semaphore the child holds is free");
  long marker = 42;
  if (pwrite(7, &marker, sizeof marker, offsetof(struct Shared, marker)) != sizeof marker) fail("pwrite marker");
  kill(child, SIGUSR1);
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 5;
  if (sem_timedwait(sem, &until) != 0) fail("the child's release never reached the init's semaphore");
  if (sem_post(sem) != 0) fail("sem_post");
  add(sem, s);
  int st;
  if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st)) fail("child");
  if (*zero != 7) fail("the child's write to the shared /dev/zero mapping is not in the init's");
  if (memcmp(priv, "base", 4) || memcmp(priv + 4096, "mine", 4)) fail("private mapping of the unlinked file");
  long via_fd = 0;
  if (pread(7, &via_fd, sizeof via_fd, 0) != sizeof via_fd) fail("pread");
  if (s->counter != 4 * kRounds || via_fd != s->counter) {
    printf("shmfile: counter %ld, through the fd %ld, want %d\n", s->counter, via_fd, 4 * kRounds);
    fail("counter");
  }
  printf("shmfile: OK\n");
  return 0;
}
