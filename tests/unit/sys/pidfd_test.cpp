// pidfd and kcmp wrappers on real forked children.
#include "sys/pidfd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "tests_child.h"

using namespace amber;
using namespace amber::sys;
using amber::test::Child;

namespace {
constexpr int kChildWriteFd = 100;  // the child's own pipe, at fixed numbers
constexpr int kChildReadFd = 101;

// Child setup: a pipe private to the child, moved to fixed fd numbers.
int make_private_pipe() {
  int p[2];
  if (::pipe(p) != 0) return 10;
  if (::dup2(p[1], kChildWriteFd) < 0 || ::dup2(p[0], kChildReadFd) < 0) return 11;
  ::close(p[0]);
  ::close(p[1]);
  return 0;
}
}  // namespace

TEST(Pidfd, GetFdIsTheChildsFileAndCarriesData) {
  // The child exits 0 only if it reads "hello" from its own pipe, which only
  // the parent's stolen copy of the write end can have written.
  // The child keeps its write end open (closing it would race with the steal).
  Child child(make_private_pipe, [] {
    char buf[16] = {};
    ssize_t n = ::read(kChildReadFd, buf, sizeof buf - 1);
    return n == 5 && std::strcmp(buf, "hello") == 0 ? 0 : 3;
  });
  ASSERT_TRUE(child.ok());
  auto pidfd = pidfd_open(child.pid());
  ASSERT_TRUE(pidfd) << pidfd.error().message;
  EXPECT_EQ(fcntl(pidfd->get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

  auto got = pidfd_getfd(pidfd->get(), kChildWriteFd);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(fcntl(got->get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  auto same = kcmp(getpid(), child.pid(), KcmpType::File, got->get(), kChildWriteFd);
  ASSERT_TRUE(same) << same.error().message;
  EXPECT_EQ(*same, 0);
  auto other = kcmp(getpid(), child.pid(), KcmpType::File, got->get(), kChildReadFd);
  ASSERT_TRUE(other) << other.error().message;
  EXPECT_TRUE(*other == 1 || *other == 2) << *other;

  ASSERT_EQ(write(got->get(), "hello", 5), 5);
  int status = child.wait();
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Pidfd, GetFdOfClosedFdIsEbadf) {
  Child child([] { return 0; });
  ASSERT_TRUE(child.ok());
  auto pidfd = pidfd_open(child.pid());
  ASSERT_TRUE(pidfd) << pidfd.error().message;
  auto got = pidfd_getfd(pidfd->get(), 555);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().sys_errno, EBADF);
  EXPECT_NE(got.error().message.find("555"), std::string::npos) << got.error().message;
}

TEST(Pidfd, SendSignalKillsAndThenReportsEsrch) {
  Child child([] { return 0; });
  ASSERT_TRUE(child.ok());
  auto pidfd = pidfd_open(child.pid());
  ASSERT_TRUE(pidfd) << pidfd.error().message;
  EXPECT_TRUE(pidfd_send_signal(pidfd->get(), 0));  // alive
  auto sent = pidfd_send_signal(pidfd->get(), SIGTERM);
  ASSERT_TRUE(sent) << sent.error().message;
  int status = child.wait();
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  // The pidfd outlives the reaped process and does not follow a reused pid.
  auto again = pidfd_send_signal(pidfd->get(), 0);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().sys_errno, ESRCH);
}

TEST(Pidfd, OpenOfVanishedPidIsEsrch) {
  pid_t pid;
  {
    Child child([] { return 0; });
    ASSERT_TRUE(child.ok());
    pid = child.pid();
  }
  auto r = pidfd_open(pid);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().sys_errno, ESRCH);
}

TEST(Kcmp, ProcessWideObjects) {
  Child child([] { return 0; });
  ASSERT_TRUE(child.ok());
  pid_t self = getpid();
  // fork copies these: a different object each.
  for (KcmpType t : {KcmpType::Vm, KcmpType::Files, KcmpType::Sighand}) {
    auto r = kcmp(self, child.pid(), t);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(*r == 1 || *r == 2) << kcmp_type_name(t) << " " << *r;
    auto reverse = kcmp(child.pid(), self, t);
    ASSERT_TRUE(reverse);
    EXPECT_EQ(*r + *reverse, 3) << "ordering must flip: " << kcmp_type_name(t);
    auto same = kcmp(self, self, t);
    ASSERT_TRUE(same);
    EXPECT_EQ(*same, 0) << kcmp_type_name(t);
  }
  // An fd inherited over fork is the same file in both.
  auto inherited = kcmp(self, child.pid(), KcmpType::File, 0, 0);
  ASSERT_TRUE(inherited) << inherited.error().message;
  EXPECT_EQ(*inherited, 0);
}

TEST(Kcmp, ErrorsKeepErrno) {
  auto bad_fd = kcmp(getpid(), getpid(), KcmpType::File, 0, 9999);
  ASSERT_FALSE(bad_fd);
  EXPECT_EQ(bad_fd.error().sys_errno, EBADF);
  EXPECT_NE(bad_fd.error().message.find("KCMP_FILE"), std::string::npos) << bad_fd.error().message;
  auto bad_pid = kcmp(getpid(), 0x3fffffff, KcmpType::Vm);
  ASSERT_FALSE(bad_pid);
  EXPECT_EQ(bad_pid.error().sys_errno, ESRCH);
}

TEST(Kcmp, EpollTargetFd) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  UniqueFd rd(p[0]), wr(p[1]);
  UniqueFd ep(epoll_create1(EPOLL_CLOEXEC));
  ASSERT_TRUE(ep);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ASSERT_EQ(epoll_ctl(ep.get(), EPOLL_CTL_ADD, rd.get(), &ev), 0);
  // The registered file, seen through a dup (a different fd number).
  UniqueFd dup_rd(fcntl(rd.get(), F_DUPFD_CLOEXEC, 0));
  auto r = kcmp_epoll_tfd(getpid(), getpid(), dup_rd.get(), ep.get(), rd.get());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, 0);
  auto other = kcmp_epoll_tfd(getpid(), getpid(), wr.get(), ep.get(), rd.get());
  ASSERT_TRUE(other) << other.error().message;
  EXPECT_NE(*other, 0);
  // wr is not registered in the epoll: ENOENT.
  auto missing = kcmp_epoll_tfd(getpid(), getpid(), rd.get(), ep.get(), wr.get());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().sys_errno, ENOENT);
}
