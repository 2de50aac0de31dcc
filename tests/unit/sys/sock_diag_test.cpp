// unix_diag through the sock_diag wrapper: a socket file's device as stat
// gives it.
#include "sys/sock_diag.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "base/unique_fd.h"
#include "sys/procfs.h"

using namespace amber;

// Measured here: a tmpfs with minor 286 is st_dev 0x10001e, UNIX_DIAG_VFS
// says 0x11e; /dev/vda (254:0) is 0xfe00 and 0xfe00000.
TEST(SockDiag, KernelDeviceNumbersAreStatsOnes) {
  EXPECT_EQ(sys::dev_of_kernel(0x11e), makedev(0, 286));
  EXPECT_EQ(sys::dev_of_kernel(0x11e), 0x10001eu);
  EXPECT_EQ(sys::dev_of_kernel(0xfe00000), makedev(254, 0));
  EXPECT_EQ(sys::dev_of_kernel(0x2a), makedev(0, 42));
}

TEST(SockDiag, BoundSocketFileHasItsStatDevice) {
  char tmpl[] = "/tmp/amber-diag-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/s";
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_GE(s.get(), 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  auto all = sys::unix_sockets(-1);
  ::unlink(path.c_str());
  ::rmdir(tmpl);
  ASSERT_TRUE(all) << all.error().message;
  bool found = false;
  for (const sys::UnixSockDiag& d : *all) {
    if (d.vfs_ino != st.st_ino || d.name != path) continue;
    found = true;
    EXPECT_EQ(d.vfs_dev, st.st_dev) << std::hex << "diag " << d.vfs_dev << " stat " << st.st_dev;
  }
  EXPECT_TRUE(found) << path << " not in the dump of unix sockets";
}
