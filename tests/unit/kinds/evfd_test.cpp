// eventfd, timerfd, signalfd and epoll fds: fdinfo parsing, and a whole
// table of them dumped from one child and rebuilt in another (the restore
// verification passing on it, and failing on an image that differs).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "base/files.h"
#include "kinds/files/fd_kinds.h"
#include "kinds/files/fdtable.h"
#include "kinds_test_util.h"
#include "sys/procfs.h"

using namespace amber;
using amber::kinds_test::Forked;

namespace {

constexpr int kReady = 100;

sys::FdInfo fdinfo(std::string_view text) {
  auto r = sys::parse_fdinfo(text);
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : sys::FdInfo{};
}

constexpr std::string_view kHead = "pos:\t0\nflags:\t02004002\nmnt_id:\t17\nino:\t1038\n";

TEST(EvfdParse, EventfdCountIsHex) {
  auto s = kinds::files::parse_eventfd(
      fdinfo(std::string(kHead) + "eventfd-count:               ff\neventfd-id: 3\neventfd-semaphore: 1\n"));
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->count(), 255u);
  EXPECT_TRUE(s->semaphore());
  auto missing = kinds::files::parse_eventfd(fdinfo(std::string(kHead) + "eventfd-count: 1\n"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().exit, Exit::BadInput);
  EXPECT_FALSE(kinds::files::parse_eventfd(fdinfo(std::string(kHead) + "eventfd-count: zz\neventfd-semaphore: 0\n")));
}

TEST(EvfdParse, Timerfd) {
  auto s = kinds::files::parse_timerfd(fdinfo(std::string(kHead) +
                                              "clockid: 0\nticks: 4\nsettime flags: 03\n"
                                              "it_value: (99, 88892487)\nit_interval: (1, 500)\n"));
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->clockid(), 0);
  EXPECT_EQ(s->ticks(), 4u);
  EXPECT_EQ(s->settime_flags(), 3u);
  EXPECT_EQ(s->value_ns(), 99'088'892'487);
  EXPECT_EQ(s->interval_ns(), 1'000'000'500);
  EXPECT_FALSE(kinds::files::parse_timerfd(fdinfo(std::string(kHead) +
                                                  "clockid: 0\nticks: 0\nsettime flags: 00\n"
                                                  "it_value: (1, 2000000000)\nit_interval: (0, 0)\n")))
      << "nanoseconds out of range";
  EXPECT_FALSE(kinds::files::parse_timerfd(fdinfo(std::string(kHead) +
                                                  "clockid: 0\nticks: 0\nsettime flags: 04\n"
                                                  "it_value: (0, 0)\nit_interval: (0, 0)\n")))
      << "unknown settime flag";
}

TEST(EvfdParse, Signalfd) {
  auto s = kinds::files::parse_signalfd(fdinfo(std::string(kHead) + "sigmask:\t0000000000004200\n"));
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->mask(), 0x4200u);
}

TEST(EvfdParse, EpollWatches) {
  auto w = kinds::files::parse_epoll(
      fdinfo(std::string(kHead) +
             "tfd:        9 events: 40000000 data:               2a  pos:0 ino:6d83c2 sdev:f\n"
             "tfd:        3 events: 80000019 data:       1234567890  pos:7 ino:40e sdev:10\n"));
  ASSERT_TRUE(w) << w.error().message;
  ASSERT_EQ(w->size(), 2u);
  EXPECT_EQ((*w)[0].tfd, 9);
  EXPECT_EQ((*w)[0].events, 0x40000000u);
  EXPECT_EQ((*w)[0].data, 0x2au);
  EXPECT_EQ((*w)[0].ino, 0x6d83c2u);
  EXPECT_EQ((*w)[1].data, 0x1234567890u);
  EXPECT_EQ((*w)[1].pos, 7);
  EXPECT_EQ((*w)[1].sdev, 0x10u);
  EXPECT_FALSE(kinds::files::parse_epoll(fdinfo(std::string(kHead) + "tfd: 9 events: 19 data: 1\n")));
}

// In the child: only the ready fd, at kReady.
int only_ready(int& ready) {
  if (ready != kReady) {
    if (::dup3(ready, kReady, O_CLOEXEC) < 0) return 10;
    ready = kReady;
  }
  if (::syscall(SYS_close_range, 0, kReady - 1, 0) != 0 || ::syscall(SYS_close_range, kReady + 1, ~0u, 0) != 0)
    return 11;
  return 0;
}

bool at(int fd, int want) {
  if (fd < 0) return false;
  if (fd == want) return true;
  const bool ok = ::dup2(fd, want) == want;
  ::close(fd);
  return ok;
}

bool watch(int ep, int fd, uint32_t events, uint64_t data) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = data;
  return ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0;
}

int64_t realtime_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

// 3 eventfd (7, semaphore, non-blocking), 4 periodic monotonic timerfd
// (an expiry unread), 5 absolute CLOCK_REALTIME timerfd, 6 signalfd
// (SIGUSR1, SIGUSR2), 7/8 pipe with "x" queued, 9 epoll, 10 epoll watching
// 9, 12 a dup of an eventfd whose first number (11) was closed after 9
// watched it.
int build(int& ready, int64_t abs_ns) {
  if (int rc = only_ready(ready)) return rc;
  if (!at(::eventfd(7, EFD_SEMAPHORE | EFD_NONBLOCK), 3)) return 20;
  if (!at(::timerfd_create(CLOCK_MONOTONIC, 0), 4)) return 21;
  itimerspec per{{0, 300'000'000}, {0, 1'000'000}};
  if (::timerfd_settime(4, 0, &per, nullptr) != 0) return 22;
  ::usleep(50'000);  // expired once, unread
  if (!at(::timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC), 5)) return 23;
  itimerspec abs{{0, 0}, {static_cast<time_t>(abs_ns / 1'000'000'000), static_cast<long>(abs_ns % 1'000'000'000)}};
  if (::timerfd_settime(5, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &abs, nullptr) != 0) return 24;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);
  if (!at(::signalfd(-1, &set, 0), 6)) return 25;
  int p[2];
  if (::pipe(p) != 0 || !at(p[0], 7) || !at(p[1], 8) || ::write(8, "x", 1) != 1) return 26;
  if (!at(::epoll_create1(0), 9) || !at(::epoll_create1(EPOLL_CLOEXEC), 10)) return 27;
  if (!watch(9, 3, EPOLLIN | EPOLLET, 0x3333) || !watch(9, 4, EPOLLIN, 4) || !watch(9, 6, EPOLLIN, 6)) return 28;
  // Fired EPOLLONESHOT on the pipe's read end (still readable).
  if (!watch(9, 7, EPOLLIN | EPOLLONESHOT, 0x77)) return 29;
  epoll_event got[8];
  if (::epoll_wait(9, got, 8, 0) < 1) return 30;
  if (!at(::eventfd(0, 0), 11) || !watch(9, 11, EPOLLOUT, 0x1111) || ::dup2(11, 12) != 12 || ::close(11) != 0)
    return 31;
  if (!watch(10, 9, EPOLLIN, 0x99)) return 32;
  return 0;
}

kinds::FdDumpContext ctx_of(pid_t pid) {
  kinds::FdDumpContext ctx;
  ctx.pid = pid;
  ctx.vpid = 1;
  ctx.root = read_link(fmt::format("/proc/{}/root", pid)).value_or("/");
  return ctx;
}

const img::Fd* find(const img::Files& files, int n) {
  for (const auto& f : files.fds())
    if (f.fd() == n) return &f;
  return nullptr;
}

std::string field(pid_t pid, int fd, std::string_view key) {
  auto info = sys::read_fdinfo(pid, fd);
  if (!info) return "?";
  for (const auto& [k, v] : info->fields)
    if (k == key) return v;
  return "";
}

}  // namespace

TEST(EvfdKinds, TableRoundTrip) {
  const int64_t abs_ns = realtime_ns() + 3600LL * 1'000'000'000;
  Forked a([&](int& ready) { return build(ready, abs_ns); });
  ASSERT_TRUE(a.ok()) << "setup exit status " << a.wait();
  ASSERT_TRUE(kinds_test::wait_until([&] { return !path_exists(fmt::format("/proc/{}/fd/{}", a.pid(), kReady)); }));
  auto dumped = kinds::dump_fds(ctx_of(a.pid()));
  ASSERT_TRUE(dumped) << dumped.error().message;
  const img::Files& image = *dumped;

  ASSERT_TRUE(find(image, 3) && find(image, 4) && find(image, 5) && find(image, 6) && find(image, 9) &&
              find(image, 10) && find(image, 12));
  EXPECT_EQ(find(image, 3)->kind(), img::FD_EVENTFD);
  EXPECT_EQ(find(image, 3)->eventfd().count(), 7u);
  EXPECT_TRUE(find(image, 3)->eventfd().semaphore());
  const img::TimerfdState& per = find(image, 4)->timerfd();
  EXPECT_EQ(per.clockid(), CLOCK_MONOTONIC);
  EXPECT_EQ(per.ticks(), 1u) << "the expiry not read";
  EXPECT_EQ(per.interval_ns(), 300'000'000);
  EXPECT_GT(per.value_ns(), 0) << "the next period, not the expired one";
  const img::TimerfdState& abs = find(image, 5)->timerfd();
  EXPECT_EQ(abs.settime_flags(), static_cast<uint32_t>(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET));
  EXPECT_GE(abs.value_ns(), abs_ns) << "never earlier than the real expiry";
  EXPECT_LT(abs.value_ns(), abs_ns + 50'000'000);
  EXPECT_EQ(find(image, 6)->signalfd().mask(), (1u << (SIGUSR1 - 1)) | (1u << (SIGUSR2 - 1)));
  const img::EpollState& ep = find(image, 9)->epoll();
  ASSERT_EQ(ep.targets_size(), 5);
  int oneshot = 0, moved = 0;
  for (const auto& t : ep.targets()) {
    if (t.tfd() == 7) {
      ++oneshot;
      EXPECT_EQ(t.events(), static_cast<uint32_t>(EPOLLONESHOT)) << "fired: no event bits left";
      EXPECT_TRUE(t.fire_to_disable());
    }
    if (t.tfd() == 11) {
      ++moved;
      EXPECT_EQ(t.source_fd(), 12) << "fd 11 was closed, 12 holds its description";
    } else {
      EXPECT_EQ(t.source_fd(), t.tfd());
    }
  }
  EXPECT_EQ(oneshot, 1);
  EXPECT_EQ(moved, 1);
  ASSERT_EQ(find(image, 10)->epoll().targets_size(), 1);

  std::string err;
  const std::string err_file = fmt::format("/tmp/amber-evfd-{}.err", ::getpid());
  Forked b([&](int& ready) {
    kinds::FdRestoreContext rc;
    rc.vpid = 1;
    return kinds_test::restore_fds_keeping(image, rc, ready, err_file);
  });
  ASSERT_TRUE(b.ok()) << read_file(err_file).value_or("");
  ::unlink(err_file.c_str());
  ASSERT_TRUE(kinds_test::wait_until([&] {
    auto fds = sys::list_fds(b.pid());
    return fds && fds->size() == static_cast<size_t>(image.fds_size());
  }));
  auto verified = kinds::verify_fds(b.pid(), 1, image);
  EXPECT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(field(b.pid(), 3, "eventfd-count"), field(a.pid(), 3, "eventfd-count"));
  EXPECT_EQ(field(b.pid(), 6, "sigmask"), field(a.pid(), 6, "sigmask"));
  EXPECT_EQ(field(b.pid(), 5, "settime flags"), "03");
  EXPECT_FALSE(path_exists(fmt::format("/proc/{}/fd/11", b.pid()))) << "fd 11 stays closed";

  // The verification catches what differs.
  img::Files other = image;
  for (auto& f : *other.mutable_fds()) {
    if (f.fd() == 3) f.mutable_eventfd()->set_count(8);
  }
  auto bad = kinds::verify_fds(b.pid(), 1, other);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("eventfd count 7"), std::string::npos) << bad.error().message;
  other = image;
  for (auto& f : *other.mutable_fds())
    if (f.fd() == 9) f.mutable_epoll()->mutable_targets(0)->set_data(0xdead);
  bad = kinds::verify_fds(b.pid(), 1, other);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("epoll watches"), std::string::npos) << bad.error().message;
}

TEST(EvfdKinds, WatchOfADescriptionNoFdHoldsIsRefused) {
  // The watched eventfd lives on in another process only: the child forks
  // after the watch, then closes its own fd.
  Forked a([&](int& ready) {
    if (int rc = only_ready(ready)) return rc;
    if (!at(::epoll_create1(0), 3) || !at(::eventfd(0, 0), 4) || !watch(3, 4, EPOLLIN, 1)) return 20;
    int p[2];
    if (::pipe(p) != 0) return 21;
    pid_t keeper = ::fork();
    if (keeper == 0) {
      ::close(3);
      ::close(p[1]);
      char c;
      (void)::read(p[0], &c, 1);  // until the test ends
      ::_exit(0);
    }
    ::close(p[0]);
    ::close(4);
    return at(p[1], 5) ? 0 : 22;
  });
  ASSERT_TRUE(a.ok()) << "setup exit status " << a.wait();
  ASSERT_TRUE(kinds_test::wait_until([&] { return !path_exists(fmt::format("/proc/{}/fd/{}", a.pid(), kReady)); }));
  auto dumped = kinds::dump_fds(ctx_of(a.pid()));
  ASSERT_FALSE(dumped);
  EXPECT_EQ(dumped.error().exit, Exit::Unsupported);
  EXPECT_NE(dumped.error().message.find("task 1: fd 3: anon_inode:[eventpoll] (watches fd 4, closed"),
            std::string::npos)
      << dumped.error().message;
}
