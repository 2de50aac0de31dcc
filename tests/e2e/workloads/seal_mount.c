// Workload for the seal check's class 8 (a container mount in a peer group
// with an outside mount): run outside, it grafts a clone of a host mount
// into the mount namespace of a container task, keeping the peer group.
//   graft NSPID SRC DST   clones the mount at SRC (open_tree OPEN_TREE_CLONE:
//                         a clone of a shared mount is its peer), joins the
//                         mount namespace of NSPID and attaches it at DST
//                         (move_mount); exits 0 when it is there.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif

static void die(const char* what) {
  fprintf(stderr, "seal_mount: %s: %s\n", what, strerror(errno));
  exit(1);
}

int main(int argc, char** argv) {
  if (argc != 5 || strcmp(argv[1], "graft")) {
    fprintf(stderr, "usage: seal_mount graft NSPID SRC DST\n");
    return 2;
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/%s/ns/mnt", argv[2]);
  int ns = open(path, O_RDONLY | O_CLOEXEC);
  if (ns < 0) die(path);
  int tree = (int)syscall(SYS_open_tree, AT_FDCWD, argv[3], OPEN_TREE_CLONE | O_CLOEXEC);
  if (tree < 0) die("open_tree");
  if (setns(ns, CLONE_NEWNS) < 0) die("setns");
  if (syscall(SYS_move_mount, tree, "", AT_FDCWD, argv[4], MOVE_MOUNT_F_EMPTY_PATH) < 0) die("move_mount");
  return 0;
}
