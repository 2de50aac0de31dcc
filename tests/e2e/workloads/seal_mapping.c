// Workload for the seal check's class 7 (a shared mapping also mapped, or a
// memfd also held, outside). Every mode writes "ready ..." to READY once it
// is in place, then waits until it is killed.
//   file PATH READY           (inside)  creates PATH (e.g. on the container's
//                             own /tmp tmpfs) and maps it MAP_SHARED
//   anon READY                (inside)  MAP_SHARED|MAP_ANONYMOUS memory:
//                             "ready START-END" (its /proc/PID/map_files name)
//   memfd NAME READY          (inside or outside) memfd_create(NAME) mapped
//                             MAP_SHARED, fd kept: "ready FD"
//   map PATH READY shared|private
//                             (outside) opens PATH (a file, or /proc/PID/fd/N
//                             of a memfd), maps it, closes the fd
//   hold PATH READY           (outside) opens PATH and keeps the fd, no mapping
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SIZE (64 << 10)

static void die(const char* what) {
  fprintf(stderr, "seal_mapping: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void say(const char* file, const char* text) {
  int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) die("open READY");
  if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) die("write READY");
  close(fd);
}

static char* map(int fd, int flags) {
  char* p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, flags, fd, 0);
  if (p == MAP_FAILED) die("mmap");
  return p;
}

int main(int argc, char** argv) {
  char line[64];
  if (argc == 4 && !strcmp(argv[1], "file")) {
    int fd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) die(argv[2]);
    if (ftruncate(fd, SIZE) < 0) die("ftruncate");
    memset(map(fd, MAP_SHARED), 0x5a, SIZE);
    close(fd);
    say(argv[3], "ready\n");
    for (;;) pause();
  }
  if (argc == 3 && !strcmp(argv[1], "anon")) {
    char* p = map(-1, MAP_SHARED | MAP_ANONYMOUS);
    memset(p, 0x5a, SIZE);
    snprintf(line, sizeof line, "ready %lx-%lx\n", (unsigned long)p, (unsigned long)(p + SIZE));
    say(argv[2], line);
    for (;;) pause();
  }
  if (argc == 4 && !strcmp(argv[1], "memfd")) {
    int fd = memfd_create(argv[2], 0);
    if (fd < 0) die("memfd_create");
    if (ftruncate(fd, SIZE) < 0) die("ftruncate");
    memset(map(fd, MAP_SHARED), 0x5a, SIZE);
    snprintf(line, sizeof line, "ready %d\n", fd);
    say(argv[3], line);
    for (;;) pause();
  }
  if (argc == 5 && !strcmp(argv[1], "map")) {
    int fd = open(argv[2], O_RDWR | O_CLOEXEC);
    if (fd < 0) die(argv[2]);
    char* p = map(fd, !strcmp(argv[4], "shared") ? MAP_SHARED : MAP_PRIVATE);
    if (p[0] != 0x5a) {
      fprintf(stderr, "seal_mapping: %s does not hold the container's pattern\n", argv[2]);
      return 1;
    }
    close(fd);
    say(argv[3], "ready\n");
    for (;;) pause();
  }
  if (argc == 4 && !strcmp(argv[1], "hold")) {
    int fd = open(argv[2], O_RDWR | O_CLOEXEC);
    if (fd < 0) die(argv[2]);
    snprintf(line, sizeof line, "ready %d\n", fd);
    say(argv[3], line);
    for (;;) pause();
  }
  fprintf(stderr,
          "usage: seal_mapping file PATH READY | anon READY | memfd NAME READY | map PATH READY shared|private | hold PATH READY\n");
  return 2;
}
