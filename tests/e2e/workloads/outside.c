// An outside task for the seal-check scenarios: it takes hold of something
// a container uses, says "ready" on stdout, and keeps holding it until
// killed.
//   outside getfd PID FD...   copies fds of PID with pidfd_getfd (the same
//                             open file descriptions, like SCM_RIGHTS)
//   outside trace PID         PTRACE_SEIZEs PID (a tracer outside)
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

static int die(const char* what) {
  fprintf(stderr, "outside: %s: %s\n", what, strerror(errno));
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: outside getfd PID FD... | outside trace PID\n");
    return 2;
  }
  pid_t pid = (pid_t)atoi(argv[2]);
  if (!strcmp(argv[1], "getfd")) {
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) return die("pidfd_open");
    for (int i = 3; i < argc; i++) {
      int fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(argv[i]), 0);
      if (fd < 0) return die("pidfd_getfd");
      printf("fd %d\n", fd);
    }
    close(pidfd);
  } else if (!strcmp(argv[1], "trace")) {
    if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0) return die("PTRACE_SEIZE");
  } else {
    fprintf(stderr, "outside: unknown mode %s\n", argv[1]);
    return 2;
  }
  printf("ready\n");
  fflush(stdout);
  for (;;) pause();
}
