// Workload for the seal check's class 6 (SysV shm attached from outside).
// Every mode writes "ready ..." to READY once it is in place, then waits
// until it is killed.
//   create KEY READY [rmid]   (inside)  shmget(KEY, 64 KiB) (KEY 0: IPC_PRIVATE),
//                             attaches it, writes "ready SHMID"; with rmid
//                             marks it for removal (IPC_RMID) while attached
//   attach NSPID SHMID READY back|stay
//                             (outside) joins the ipc namespace of NSPID,
//                             attaches SHMID, then returns to its own ipc
//                             namespace (back) or stays in NSPID's (stay)
//   own KEY READY             (outside) a segment of its own ipc namespace,
//                             attached, "ready SHMID"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <unistd.h>

static void die(const char* what) {
  fprintf(stderr, "seal_shm: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void say(const char* file, const char* text) {
  int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) die("open READY");
  if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) die("write READY");
  close(fd);
}

static int create(const char* keytext) {
  key_t key = (key_t)strtol(keytext, NULL, 0);
  int id = shmget(key ? key : IPC_PRIVATE, 64 << 10, IPC_CREAT | 0600);
  if (id < 0) die("shmget");
  char* p = shmat(id, NULL, 0);
  if (p == (void*)-1) die("shmat");
  memset(p, 0x5a, 64 << 10);
  return id;
}

int main(int argc, char** argv) {
  char line[64];
  if (argc >= 4 && !strcmp(argv[1], "create")) {
    int id = create(argv[2]);
    if (argc > 4 && !strcmp(argv[4], "rmid") && shmctl(id, IPC_RMID, NULL) < 0) die("IPC_RMID");
    snprintf(line, sizeof line, "ready %d\n", id);
    say(argv[3], line);
    for (;;) pause();
  }
  if (argc == 4 && !strcmp(argv[1], "own")) {
    int id = create(argv[2]);
    snprintf(line, sizeof line, "ready %d\n", id);
    say(argv[3], line);
    for (;;) pause();
  }
  if (argc == 6 && !strcmp(argv[1], "attach")) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/ns/ipc", argv[2]);
    int theirs = open(path, O_RDONLY | O_CLOEXEC);
    if (theirs < 0) die(path);
    int mine = open("/proc/self/ns/ipc", O_RDONLY | O_CLOEXEC);
    if (mine < 0) die("/proc/self/ns/ipc");
    if (setns(theirs, CLONE_NEWIPC) < 0) die("setns (theirs)");
    char* p = shmat(atoi(argv[3]), NULL, 0);
    if (p == (void*)-1) die("shmat");
    if (p[0] != 0x5a) {
      fprintf(stderr, "seal_shm: attached segment does not hold the container's pattern\n");
      return 1;
    }
    if (!strcmp(argv[5], "back") && setns(mine, CLONE_NEWIPC) < 0) die("setns (back)");
    close(theirs);
    close(mine);
    say(argv[4], "ready\n");
    for (;;) pause();
  }
  fprintf(stderr,
          "usage: seal_shm create KEY READY [rmid] | attach NSPID SHMID READY back|stay | own KEY READY\n");
  return 2;
}
