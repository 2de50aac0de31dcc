// Container workload for the seal check benchmark: N processes (this init
// and N-1 children) that look like a small multi-process server (a
// postgres-like master and workers) and then sleep:
//  - a MAP_SHARED anonymous region every process maps (so the seal check
//    must look for outside mappings of it: it reads every outside process's
//    /proc/PID/maps — the expensive path);
//  - a pipe and a unix socketpair the init created before forking (shared
//    descriptions, all inside);
//  - each child opens its own /dev/null and a pipe of its own.
// Prints "READY N" on stdout (the container's log) once every child exists.
// Static, so it runs in any container; children die with the init (the
// whole cgroup is killed by amber kill anyway).
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void child(void) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  prctl(PR_SET_NAME, "bench-worker");
  int p[2];
  if (pipe(p) < 0) _exit(1);
  if (open("/dev/null", O_RDONLY) < 0) _exit(1);
  for (;;) pause();
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 100;
  if (n < 1) n = 1;
  void* shared = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) return 1;
  ((char*)shared)[0] = 1;
  int p[2], sp[2];
  if (pipe(p) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0) return 1;
  for (int i = 1; i < n; ++i) {
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) child();
  }
  printf("READY %d\n", n);
  fflush(stdout);
  // The init: reap nothing (children never exit), just sleep.
  for (;;) pause();
}
