// POSIX message queue fds (kinds/files/mqueue.cpp): dumped from a child in
// an ipc namespace of its own with the queue's name and flags, refused when
// the queue was removed with mq_unlink, and opened again by name in a task
// of a namespace that has the queue.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <mqueue.h>
#include <sched.h>
#include <unistd.h>

#include "kinds/files/fd_kinds.h"
#include "kinds/files/fdtable.h"
#include "base/files.h"
#include "kinds_test_util.h"

using namespace amber;
using amber::kinds_test::Forked;

namespace {

constexpr int kQueueFd = 50;

// A child in a new ipc namespace holding queue /unit_mqfd at kQueueFd
// (O_WRONLY | O_NONBLOCK), removed again when `unlink`.
int make_queue(bool unlink) {
  if (::unshare(CLONE_NEWIPC) != 0) return 2;
  mqd_t q = mq_open("/unit_mqfd", O_CREAT | O_WRONLY | O_NONBLOCK, 0600, nullptr);
  if (q < 0 || ::dup2(q, kQueueFd) != kQueueFd) return 3;
  ::close(q);
  if (unlink && mq_unlink("/unit_mqfd") != 0) return 4;
  return 0;
}

// The child closes its ready pipe right after reporting: wait until it has,
// or the dump may meet the fd as it goes.
void wait_ready_closed(pid_t pid) {
  for (int i = 0; i < 2000; i++) {
    bool pipe = false;
    for (int fd = 0; fd < 64 && !pipe; fd++) {
      auto l = read_link(fmt::format("/proc/{}/fd/{}", pid, fd));
      pipe = l && l->starts_with("pipe:");
    }
    if (!pipe) return;
    ::usleep(1000);
  }
}

const img::Fd* find_fd(const img::Files& f, int n) {
  for (const img::Fd& fd : f.fds())
    if (fd.fd() == n) return &fd;
  return nullptr;
}

}  // namespace

TEST(MqFd, DumpedByNameWithItsFlagsAndOpenedAgain) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (unshare CLONE_NEWIPC)";
  Forked holder([](int&) { return make_queue(false); });
  ASSERT_TRUE(holder.ok());
  wait_ready_closed(holder.pid());
  kinds::FdDumpContext ctx{holder.pid(), 7, "/", "", nullptr};
  auto files = kinds::dump_fds(ctx);
  ASSERT_TRUE(files) << files.error().message;
  const img::Fd* fd = find_fd(*files, kQueueFd);
  ASSERT_NE(fd, nullptr);
  EXPECT_EQ(fd->kind(), img::FD_MQUEUE);
  EXPECT_EQ(fd->mq_name(), "unit_mqfd");
  EXPECT_EQ(fd->flags() & (O_ACCMODE | O_NONBLOCK), static_cast<uint32_t>(O_WRONLY | O_NONBLOCK));

  // Opened again by name in a task whose ipc namespace has the queue.
  img::Fd want = *fd;
  Forked opener(
      [&want](int&) {
        if (::unshare(CLONE_NEWIPC) != 0) return 2;
        mqd_t q = mq_open("/unit_mqfd", O_CREAT | O_RDWR, 0600, nullptr);
        if (q < 0) return 3;
        ::close(q);
        auto r = kinds::files::open_mqueue(want, kinds::files::OpenContext{});
        if (!r || ::dup2(r->get(), kQueueFd) != kQueueFd) return 4;
        return 0;
      });
  ASSERT_TRUE(opener.ok());
  wait_ready_closed(opener.pid());
  kinds::FdDumpContext ctx2{opener.pid(), 8, "/", "", nullptr};
  auto again = kinds::dump_fds(ctx2);
  ASSERT_TRUE(again) << again.error().message;
  const img::Fd* fd2 = find_fd(*again, kQueueFd);
  ASSERT_NE(fd2, nullptr);
  EXPECT_EQ(fd2->kind(), img::FD_MQUEUE);
  EXPECT_EQ(fd2->mq_name(), "unit_mqfd");
  EXPECT_EQ(fd2->flags(), fd->flags());
  auto st = kinds::verify_fds(opener.pid(), 8, *again);
  EXPECT_TRUE(st) << st.error().message;

  // A name that is not a queue of the namespace: the open fails.
  want.set_mq_name("no_such_queue");
  Forked missing([&want](int&) {
    if (::unshare(CLONE_NEWIPC) != 0) return 2;
    return kinds::files::open_mqueue(want, kinds::files::OpenContext{}) ? 3 : 0;
  });
  EXPECT_TRUE(missing.ok());
}

TEST(MqFd, QueueRemovedWhileOpenIsRefusedByName) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (unshare CLONE_NEWIPC)";
  Forked holder([](int&) { return make_queue(true); });
  ASSERT_TRUE(holder.ok());
  wait_ready_closed(holder.pid());
  kinds::FdDumpContext ctx{holder.pid(), 7, "/", "", nullptr};
  auto files = kinds::dump_fds(ctx);
  ASSERT_FALSE(files);
  EXPECT_EQ(files.error().exit, Exit::Unsupported);
  EXPECT_NE(files.error().message.find("/unit_mqfd (deleted): removed with mq_unlink while open"), std::string::npos)
      << files.error().message;
}
