// Workload: an inotify instance watching a file and a directory (on the
// container's tmpfs). Watch descriptors are not 1, 2: earlier watches were added and removed,
// so the restore must move the kernel's wd cursor. Prints
// "inotify: READY wds=F,D". On SIGUSR1: the flags are kept (blocking,
// close-on-exec), no event is queued, a write to the file and a create in
// the directory are reported with the same wds, a new watch gets a wd
// above them: "inotify: OK" (exit 0) or "inotify: FAIL <what>" (exit 1).
//
// Argument "unread": an event is left unread before READY (the dump must
// refuse); on SIGUSR1 it must still be there, then the checks above run.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static void fail(const char* what) {
  printf("inotify: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

// The next event: must be for `wd` with `mask` set (and `name` if given).
static void expect(int in, int wd, unsigned mask, const char* name) {
  char buf[4096] __attribute__((aligned(8)));
  struct pollfd p = {in, POLLIN, 0};
  if (poll(&p, 1, 5000) != 1) fail("poll: no event");
  ssize_t n = read(in, buf, sizeof buf);
  if (n < (ssize_t)sizeof(struct inotify_event)) fail("read event");
  struct inotify_event* e = (struct inotify_event*)buf;
  if (e->wd != wd || !(e->mask & mask) || (name && (e->len == 0 || strcmp(e->name, name)))) {
    printf("inotify: event wd %d mask %#x name '%s', want wd %d mask %#x name '%s'\n", e->wd, e->mask,
           e->len ? e->name : "", wd, mask, name ? name : "");
    fail("event");
  }
}

static void append(const char* path, const char* text) {
  int f = open(path, O_WRONLY | O_APPEND);
  if (f < 0 || write(f, text, strlen(text)) != (ssize_t)strlen(text)) fail("append");
  close(f);
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const int unread = argc > 1 && !strcmp(argv[1], "unread");
  if (mkdir("/tmp/idir", 0755) && errno != EEXIST) fail("mkdir");
  int f = open("/tmp/ifile", O_CREAT | O_WRONLY, 0644);
  if (f < 0) fail("create file");
  close(f);
  int in = inotify_init1(IN_CLOEXEC);
  if (in < 0) fail("inotify_init1");
  // Burn wds 1..3: the real ones come later and are not 1, 2.
  for (int i = 0; i < 3; i++) {
    int w = inotify_add_watch(in, "/tmp", IN_ATTRIB);
    if (w < 0 || inotify_rm_watch(in, w)) fail("placeholder");
    expect(in, w, IN_IGNORED, NULL);
  }
  int wf = inotify_add_watch(in, "/tmp/ifile", IN_MODIFY | IN_EXCL_UNLINK);
  // A gap between the two: wd 5 added then removed.
  int gap = inotify_add_watch(in, "/", IN_ATTRIB);
  if (gap < 0 || inotify_rm_watch(in, gap)) fail("gap");
  expect(in, gap, IN_IGNORED, NULL);
  int wd = inotify_add_watch(in, "/tmp/idir", IN_CREATE | IN_DELETE | IN_ONLYDIR);
  if (wf < 0 || wd < 0) fail("inotify_add_watch");
  if (unread) append("/tmp/ifile", "x");
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  printf("inotify: READY wds=%d,%d\n", wf, wd);
  int sig;
  sigwait(&set, &sig);
  if (fcntl(in, F_GETFL) & O_NONBLOCK) fail("O_NONBLOCK appeared");
  if (!(fcntl(in, F_GETFD) & FD_CLOEXEC)) fail("close-on-exec lost");
  if (unread) expect(in, wf, IN_MODIFY, NULL);
  int queued = -1;
  if (ioctl(in, FIONREAD, &queued) || queued != 0) {
    printf("inotify: %d bytes queued\n", queued);
    fail("unexpected events");
  }
  append("/tmp/ifile", "after");
  expect(in, wf, IN_MODIFY, NULL);
  int c = open("/tmp/idir/new", O_CREAT | O_WRONLY, 0644);
  if (c < 0) fail("create in dir");
  close(c);
  expect(in, wd, IN_CREATE, "new");
  unlink("/tmp/idir/new");
  expect(in, wd, IN_DELETE, "new");
  int more = inotify_add_watch(in, "/tmp", IN_ATTRIB);
  if (more <= wd) {
    printf("inotify: new watch got wd %d\n", more);
    fail("new wd");
  }
  printf("inotify: OK wds=%d,%d\n", wf, wd);
  return 0;
}
