#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kinds/ns/uts.h"

using namespace amber;

TEST(Uts, DumpReadsTheTasksNamespaceAndRestoreSetsIt) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (unshare CLONE_NEWUTS)";
  int ready[2], done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  pid_t child = fork();
  if (child == 0) {
    if (unshare(CLONE_NEWUTS) != 0) _exit(1);
    img::Uts u;
    u.set_hostname("amber-uts-test");
    u.set_domainname("example.dom");
    if (!kinds::restore_uts(u)) _exit(2);
    char c = 1;
    (void)!write(ready[1], &c, 1);
    (void)!read(done[0], &c, 1);
    _exit(0);
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  auto u = kinds::dump_uts(child);
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->hostname(), "amber-uts-test");
  EXPECT_EQ(u->domainname(), "example.dom");
  char host[256] = {};
  gethostname(host, sizeof host);
  EXPECT_NE(std::string(host), "amber-uts-test");  // ours is untouched
  ASSERT_EQ(write(done[1], &c, 1), 1);
  int st;
  waitpid(child, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
