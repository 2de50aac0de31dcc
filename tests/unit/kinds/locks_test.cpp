// File locks: fdinfo "lock:" lines parsed; real locks of this process read
// back from its own fdinfo.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>

#include "kinds/files/fd_kinds.h"
#include "sys/procfs.h"

using namespace amber;

namespace {

sys::FdInfo info_with(std::vector<std::string> lines) {
  sys::FdInfo i;
  i.lines = std::move(lines);
  return i;
}

TEST(FileLocks, ParsesEveryKindAndRange) {
  auto r = kinds::files::parse_fd_locks(info_with({
      "pos:\t0",
      "lock:\t1: POSIX  ADVISORY  WRITE 42 fe:00:1234 0 9",
      "lock:\t2: POSIX  ADVISORY  READ 42 fe:00:1234 100 EOF",
      "lock:\t3: OFDLCK ADVISORY  WRITE -1 fe:00:1234 1073741825 1073741825",
      "lock:\t4: FLOCK  ADVISORY  READ 42 fe:00:1234 0 EOF",
  }));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].kind(), img::FILE_LOCK_POSIX);
  EXPECT_TRUE((*r)[0].write());
  EXPECT_EQ((*r)[0].start(), 0);
  EXPECT_EQ((*r)[0].len(), 10);
  EXPECT_FALSE((*r)[1].write());
  EXPECT_EQ((*r)[1].start(), 100);
  EXPECT_EQ((*r)[1].len(), 0);  // to EOF
  EXPECT_EQ((*r)[2].kind(), img::FILE_LOCK_OFD);
  EXPECT_EQ((*r)[2].len(), 1);
  EXPECT_EQ((*r)[3].kind(), img::FILE_LOCK_FLOCK);
}

TEST(FileLocks, LeaseIsUnsupportedAndJunkIsBadInput) {
  auto lease = kinds::files::parse_fd_locks(info_with({"lock:\t1: LEASE  ACTIVE    READ 42 fe:00:1234 0 EOF"}));
  ASSERT_FALSE(lease);
  EXPECT_EQ(lease.error().exit, Exit::Unsupported);
  auto junk = kinds::files::parse_fd_locks(info_with({"lock:\t1: POSIX  ADVISORY  WRITE 42 fe:00:1234 9 3"}));
  ASSERT_FALSE(junk);
  EXPECT_EQ(junk.error().exit, Exit::BadInput);
}

TEST(FileLocks, OwnLocksReadBackFromFdinfo) {
  char path[] = "/tmp/amber-locks-test.XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::unlink(path);
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 5;
  fl.l_len = 3;
  ASSERT_EQ(::fcntl(fd, F_SETLK, &fl), 0);
  auto info = sys::read_fdinfo(::getpid(), fd);
  ASSERT_TRUE(info);
  auto r = kinds::files::parse_fd_locks(*info);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].kind(), img::FILE_LOCK_POSIX);
  EXPECT_EQ((*r)[0].start(), 5);
  EXPECT_EQ((*r)[0].len(), 3);
  ::close(fd);
}

}  // namespace
