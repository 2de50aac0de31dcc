// One report of every blocker: the collector keeps Unsupported errors only,
// and the fd walker with a collector names every unsupported fd of a real
// process, each with its task once, instead of stopping at the first.
#include "kinds/blockers.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include "base/unique_fd.h"
#include "kinds/files/fdtable.h"

using namespace amber;

TEST(Blockers, KeepsUnsupportedOnly) {
  kinds::Blockers b;
  EXPECT_FALSE(b.keep(Status{}));
  EXPECT_FALSE(b.keep(failf("read /proc/1/maps: No such file")));
  EXPECT_FALSE(b.keep(bad_input("bad")));
  EXPECT_TRUE(b.empty());
  EXPECT_TRUE(b.status());
  EXPECT_TRUE(b.keep(unsupported("task 1: fd 3: a thing: not supported yet")));
  ASSERT_EQ(b.lines().size(), 1u);
  auto one = b.status();
  ASSERT_FALSE(one);
  EXPECT_EQ(one.error().exit, Exit::Unsupported);
  EXPECT_EQ(one.error().message, "task 1: fd 3: a thing: not supported yet");  // one line for one
  b.add("task 2: mapping x (y): not supported yet");
  auto two = b.status();
  ASSERT_FALSE(two);
  EXPECT_EQ(two.error().exit, Exit::Unsupported);
  EXPECT_EQ(two.error().message,
            "2 objects amber cannot dump yet:\n  task 1: fd 3: a thing: not supported yet\n"
            "  task 2: mapping x (y): not supported yet");
}

TEST(Blockers, FdWalkerNamesEveryUnsupportedFd) {
  // Two netlink sockets: a kind no table entry takes today.
  int sv[2] = {::socket(AF_NETLINK, SOCK_RAW, 0), ::socket(AF_NETLINK, SOCK_RAW, 0)};
  ASSERT_GE(sv[0], 0);
  ASSERT_GE(sv[1], 0);
  // A child holding them (the walker's own /proc reads would come and go
  // in this process's table): an fd kind no table entry takes today.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    for (;;) ::pause();
  }
  UniqueFd a(sv[0]), b(sv[1]);
  kinds::FdDumpContext ctx{child, 7, "/", "", nullptr};
  // Without a collector: the first one stops the walk.
  auto first = kinds::probe_fds(ctx);
  kinds::Blockers blockers;
  auto all = kinds::probe_fds(ctx, &blockers);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().exit, Exit::Unsupported) << first.error().message;
  ASSERT_TRUE(all) << all.error().message;
  std::string text;
  for (const auto& l : blockers.lines()) text += l + "\n";
  EXPECT_NE(text.find(fmt::format("task 7: fd {}: socket:", a.get())), std::string::npos) << text;
  EXPECT_NE(text.find(fmt::format("task 7: fd {}: socket:", b.get())), std::string::npos) << text;
  EXPECT_EQ(text.find("task 7: task 7"), std::string::npos) << text;
  // The walk went on: every fd has its entry, the refused ones unsupported.
  for (const auto& f : all->files.fds()) {
    if (f.fd() == a.get() || f.fd() == b.get()) {
      EXPECT_EQ(f.kind(), img::FD_UNSUPPORTED);
    }
  }
}
