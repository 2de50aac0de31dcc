// Workload: an epoll event loop over a pipe, eventfds, timerfds and a
// signalfd, checkpointed while it waits, so that after restore every event
// queued before the dump is delivered exactly once and the sources keep
// firing.
//
// Before "eventloop: READY abs=NS" (NS: the CLOCK_REALTIME instant, in ns,
// of an absolute timerfd ~6 s ahead) it queues: "before" in the pipe; 5 on
// an eventfd; 1 on an EPOLLET eventfd (edge not taken); 3 on an eventfd
// watched by an inner epoll that the outer one watches; 2 on an eventfd
// whose first fd number was closed after the watch (a dup holds it); a
// fired EPOLLONESHOT watch (taken, not re-armed); a periodic 100 ms
// timerfd. Then it blocks in epoll_wait on a gate epoll watching the
// signalfd (SIGUSR1, SIGUSR2 blocked).
//
// After restore the test sends SIGUSR2 (read through the signalfd, once),
// waits past the absolute timer, and sends SIGUSR1: the workload checks
// every count, that the periodic timer kept ticking, that the absolute
// timer fired once, not early and not late, that the fired EPOLLONESHOT
// watch stayed quiet until EPOLL_CTL_MOD re-armed it, and prints
// "eventloop: OK" (exit 0) or "eventloop: FAIL what" (exit 1).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum { T_PIPE = 1, T_EFD, T_ET, T_INNER, T_MOVED, T_PERIODIC, T_ABS, T_SIG, T_ONESHOT };

static void fail(const char* what) {
  printf("eventloop: FAIL %s (errno %d)\n", what, errno);
  fflush(stdout);
  _exit(1);
}

static int64_t now_ns(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void watch(int ep, int fd, uint32_t events, uint64_t tag) {
  struct epoll_event ev = {.events = events, .data.u64 = tag};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) fail("epoll_ctl ADD");
}

static uint64_t take(int efd) {
  uint64_t v = 0;
  if (read(efd, &v, sizeof v) != sizeof v) fail("read counter");
  return v;
}

static void put(int efd, uint64_t v) {
  if (write(efd, &v, sizeof v) != sizeof v) fail("write eventfd");
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);
  sigprocmask(SIG_BLOCK, &set, NULL);

  int p[2];
  if (pipe2(p, O_NONBLOCK)) fail("pipe");
  int efd = eventfd(0, EFD_NONBLOCK);
  int et = eventfd(0, EFD_NONBLOCK);
  int oneshot = eventfd(0, EFD_NONBLOCK);
  int inner_efd = eventfd(0, EFD_NONBLOCK);
  int moved_first = eventfd(0, EFD_NONBLOCK);
  int periodic = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  int abs_tfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
  int sfd = signalfd(-1, &set, SFD_NONBLOCK);
  int ep = epoll_create1(0), inner = epoll_create1(0), gate = epoll_create1(0);
  if (efd < 0 || et < 0 || oneshot < 0 || inner_efd < 0 || moved_first < 0 || periodic < 0 || abs_tfd < 0 ||
      sfd < 0 || ep < 0 || inner < 0 || gate < 0)
    fail("create");

  watch(ep, p[0], EPOLLIN, T_PIPE);
  watch(ep, efd, EPOLLIN, T_EFD);
  watch(ep, et, EPOLLIN | EPOLLET, T_ET);
  watch(inner, inner_efd, EPOLLIN, T_INNER);
  watch(ep, inner, EPOLLIN, T_INNER);
  watch(ep, moved_first, EPOLLIN, T_MOVED);
  int moved = dup(moved_first);
  close(moved_first);  // the watch stays: its description lives on in `moved`
  watch(ep, periodic, EPOLLIN, T_PERIODIC);
  watch(ep, abs_tfd, EPOLLIN, T_ABS);
  watch(ep, sfd, EPOLLIN, T_SIG);
  watch(gate, sfd, EPOLLIN, T_SIG);

  // The EPOLLONESHOT watch fires once, alone in its own epoll_wait.
  int os_ep = epoll_create1(0);
  watch(os_ep, oneshot, EPOLLIN | EPOLLONESHOT, T_ONESHOT);
  put(oneshot, 1);
  struct epoll_event evs[16];
  if (epoll_wait(os_ep, evs, 16, 1000) != 1 || evs[0].data.u64 != T_ONESHOT) fail("oneshot before the dump");

  if (write(p[1], "before", 6) != 6) fail("write pipe");
  put(efd, 5);
  put(et, 1);
  put(inner_efd, 3);
  put(moved, 2);
  struct itimerspec per = {{0, 100000000}, {0, 100000000}};
  if (timerfd_settime(periodic, 0, &per, NULL)) fail("periodic");
  const int64_t abs_at = now_ns(CLOCK_REALTIME) + 6000000000LL;
  struct itimerspec abs = {{0, 0}, {abs_at / 1000000000LL, abs_at % 1000000000LL}};
  if (timerfd_settime(abs_tfd, TFD_TIMER_ABSTIME, &abs, NULL)) fail("abs");

  printf("eventloop: READY abs=%lld\n", (long long)abs_at);
  int n;
  do n = epoll_wait(gate, evs, 16, -1);
  while (n < 0 && errno == EINTR);
  if (n != 1) fail("gate");

  char data[64];
  size_t piped = 0;
  uint64_t efd_sum = 0, et_sum = 0, inner_sum = 0, moved_sum = 0, ticks = 0, ticks_at_usr2 = 0, abs_ticks = 0;
  int et_reports = 0, usr2 = 0, oneshot_seen = 0;
  int64_t abs_fired = 0;
  const int64_t deadline = now_ns(CLOCK_MONOTONIC) + 30000000000LL;
  for (int done = 0; !done;) {
    if (now_ns(CLOCK_MONOTONIC) > deadline) fail("no SIGUSR1 within 30 s");
    n = epoll_wait(ep, evs, 16, 1000);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("epoll_wait");
    for (int i = 0; i < n; i++) {
      switch (evs[i].data.u64) {
        case T_PIPE: {
          ssize_t r = read(p[0], data + piped, sizeof data - piped);
          if (r <= 0) fail("pipe reported readable, nothing read");
          piped += (size_t)r;
          break;
        }
        case T_EFD: efd_sum += take(efd); break;
        case T_ET:
          et_reports++;
          et_sum += take(et);
          break;
        case T_INNER: {
          struct epoll_event in[4];
          int m = epoll_wait(inner, in, 4, 0);
          if (m != 1 || in[0].data.u64 != T_INNER) fail("inner epoll reported, nothing in it");
          inner_sum += take(inner_efd);
          break;
        }
        case T_MOVED: moved_sum += take(moved); break;
        case T_PERIODIC: ticks += take(periodic); break;
        case T_ABS:
          abs_ticks += take(abs_tfd);
          abs_fired = now_ns(CLOCK_REALTIME);
          break;
        case T_SIG: {
          struct signalfd_siginfo si;
          while (read(sfd, &si, sizeof si) == sizeof si) {
            if (si.ssi_signo == SIGUSR2) {
              usr2++;
              ticks_at_usr2 = ticks;
            } else if (si.ssi_signo == SIGUSR1) {
              done = 1;
            }
          }
          break;
        }
        case T_ONESHOT: oneshot_seen++; break;
        default: fail("unknown event");
      }
    }
  }
  printf("eventloop: pipe %zu efd %llu et %llu/%d inner %llu moved %llu ticks %llu (%llu at SIGUSR2) usr2 %d "
         "abs %llu at %+lld ms\n",
         piped, (unsigned long long)efd_sum, (unsigned long long)et_sum, et_reports, (unsigned long long)inner_sum,
         (unsigned long long)moved_sum, (unsigned long long)ticks, (unsigned long long)ticks_at_usr2, usr2,
         (unsigned long long)abs_ticks, (long long)((abs_fired - abs_at) / 1000000));
  if (piped != 6 || memcmp(data, "before", 6)) fail("pipe data");
  if (efd_sum != 5) fail("eventfd count");
  if (et_sum != 1 || et_reports != 1) fail("EPOLLET eventfd");
  if (inner_sum != 3) fail("eventfd in the inner epoll");
  if (moved_sum != 2) fail("eventfd watched under a closed fd number");
  if (usr2 != 1) fail("SIGUSR2 through the signalfd");
  if (ticks < ticks_at_usr2 + 5) fail("periodic timer stopped");
  if (abs_ticks != 1) fail("absolute timer expirations");
  if (abs_fired < abs_at) fail("absolute timer early");
  if (abs_fired > abs_at + 800000000LL) fail("absolute timer late");
  if (fcntl(efd, F_GETFL) != (O_RDWR | O_NONBLOCK)) fail("eventfd flags");

  // The fired EPOLLONESHOT watch: quiet until re-armed.
  put(oneshot, 1);
  if (epoll_wait(os_ep, evs, 16, 200) != 0) fail("fired EPOLLONESHOT watch reported again");
  struct epoll_event rearm = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = T_ONESHOT};
  if (epoll_ctl(os_ep, EPOLL_CTL_MOD, oneshot, &rearm)) fail("EPOLL_CTL_MOD");
  if (epoll_wait(os_ep, evs, 16, 1000) != 1 || evs[0].data.u64 != T_ONESHOT) fail("re-armed EPOLLONESHOT watch");
  if (take(oneshot) != 2) fail("EPOLLONESHOT eventfd count");
  // The closed number is not a watch the program can name any more.
  if (epoll_ctl(ep, EPOLL_CTL_DEL, moved_first, NULL) == 0 || (errno != EBADF && errno != ENOENT))
    fail("closed fd number");
  printf("eventloop: OK\n");
  return 0;
}
