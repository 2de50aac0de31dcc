// Confined path resolution (sys/resolve.h) on a real directory tree with
// symlinks that point out of it.
#include "sys/resolve.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/files.h"

using namespace amber;
using namespace amber::sys;

namespace {

// DIR/root is the tree; DIR/outside a directory beside it that symlinks of
// the tree point at.
struct Trees {
  std::string dir = [] {
    char t[] = "/tmp/amber-resolve-XXXXXX";
    EXPECT_NE(::mkdtemp(t), nullptr);
    return std::string(t);
  }();
  std::string root = dir + "/root", outside = dir + "/outside";
  UniqueFd root_fd;
  Trees() {
    EXPECT_TRUE(make_dirs(root + "/sub"));
    EXPECT_TRUE(make_dirs(root + "/tmp"));
    EXPECT_TRUE(make_dirs(outside));
    EXPECT_TRUE(write_new_file(outside + "/secret", "host"));
    EXPECT_EQ(::symlink(outside.c_str(), (root + "/tmp/evil").c_str()), 0);  // absolute, out
    EXPECT_EQ(::symlink("../../outside", (root + "/sub/up").c_str()), 0);    // relative, out
    EXPECT_EQ(::symlink("sub", (root + "/in").c_str()), 0);                  // stays inside
    root_fd = UniqueFd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    EXPECT_TRUE(root_fd);
  }
  ~Trees() { (void)remove_tree(dir); }
};

ino_t inode_of(int fd) {
  struct stat st {};
  EXPECT_EQ(::fstat(fd, &st), 0);
  return st.st_ino;
}

}  // namespace

TEST(Resolve, InRootKeepsAbsoluteSymlinksAndDotDotInside) {
  Trees t;
  // "/tmp/evil" names the outside directory: in the root it is ROOT + that
  // path, which does not exist.
  auto r = open_at(t.root_fd.get(), "/tmp/evil/secret", O_RDONLY, kInRoot);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().sys_errno, ENOENT);
  r = open_at(t.root_fd.get(), "sub/up/secret", O_RDONLY, kInRoot);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().sys_errno, ENOENT);
  r = open_at(t.root_fd.get(), "/../../../outside/secret", O_RDONLY, kInRoot);
  ASSERT_FALSE(r);
  // Made inside, the same path reaches the copy inside.
  ASSERT_TRUE(make_dirs(t.root + t.outside));
  ASSERT_TRUE(write_new_file(t.root + t.outside + "/secret", "inside"));
  r = open_at(t.root_fd.get(), "/tmp/evil/secret", O_RDONLY, kInRoot);
  ASSERT_TRUE(r) << r.error().message;
  struct stat st {};
  ASSERT_EQ(::stat((t.root + t.outside + "/secret").c_str(), &st), 0);
  EXPECT_EQ(inode_of(r->get()), st.st_ino);
  // A symlink that stays inside is followed.
  EXPECT_TRUE(open_at(t.root_fd.get(), "in", O_PATH | O_DIRECTORY, kInRoot));
}

TEST(Resolve, NoLinksRefusesEverySymlinkAndEveryWayOut) {
  Trees t;
  auto r = open_at(t.root_fd.get(), "tmp/evil/secret", O_RDONLY, kNoLinks);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().sys_errno, ELOOP);
  EXPECT_NE(r.error().message.find("symlink"), std::string::npos) << r.error().message;
  r = open_at(t.root_fd.get(), "in", O_PATH, kNoLinks);  // even one that stays inside
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().sys_errno, ELOOP);
  r = open_at(t.root_fd.get(), "../outside/secret", O_RDONLY, kNoLinks);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().sys_errno, EXDEV);
  r = open_at(t.root_fd.get(), t.outside + "/secret", O_RDONLY, kNoLinks);  // absolute
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().sys_errno, EXDEV);
  // The last component as a link itself, with O_PATH | O_NOFOLLOW.
  r = open_at(t.root_fd.get(), "tmp/evil", O_PATH | O_NOFOLLOW, kNoLinks);
  ASSERT_TRUE(r) << r.error().message;
  struct stat st {};
  ASSERT_EQ(::fstatat(r->get(), "", &st, AT_EMPTY_PATH), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST(Resolve, ExactRefusesASymlinkAnywhereOnTheWay) {
  Trees t;
  EXPECT_TRUE(open_at(AT_FDCWD, t.root + "/sub", O_PATH | O_DIRECTORY, kExact));
  auto r = open_at(AT_FDCWD, t.root + "/in", O_PATH | O_DIRECTORY, kExact);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().sys_errno, ELOOP);
  ASSERT_EQ(::symlink(t.root.c_str(), (t.dir + "/root-link").c_str()), 0);
  r = open_at(AT_FDCWD, t.dir + "/root-link/sub", O_PATH | O_DIRECTORY, kExact);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().sys_errno, ELOOP);
}

TEST(Resolve, TaskPathRefusesMagicLinksOnly) {
  Trees t;
  UniqueFd out(::open(t.outside.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(out);
  // /proc/self/fd/N of a directory opened elsewhere would lead anywhere from it.
  auto r = open_at(AT_FDCWD, fmt::format("/proc/self/fd/{}/secret", out.get()), O_RDONLY, kTaskPath);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().sys_errno, ELOOP);
  EXPECT_NE(r.error().message.find("magic"), std::string::npos) << r.error().message;
  r = open_at(AT_FDCWD, "/proc/self/cwd", O_PATH, kTaskPath);
  ASSERT_FALSE(r);
  // Plain symlinks and /proc files that are not magic links are fine.
  EXPECT_TRUE(open_at(AT_FDCWD, t.root + "/tmp/evil/secret", O_RDONLY, kTaskPath));
  EXPECT_TRUE(open_at(AT_FDCWD, "/proc/self/status", O_RDONLY, kTaskPath));
}

TEST(Resolve, ParentSplitsOffANameAndRefusesDotsAndEmpty) {
  Trees t;
  auto e = open_parent(t.root_fd.get(), "sub/new", kNoLinks);
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->name, "new");
  ASSERT_EQ(::mkdirat(e->dir.get(), e->name.c_str(), 0700), 0);
  struct stat st {};
  EXPECT_EQ(::stat((t.root + "/sub/new").c_str(), &st), 0);
  e = open_parent(t.root_fd.get(), "top", kNoLinks);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->name, "top");
  for (const char* bad : {"", ".", "..", "sub/..", "sub/.", "sub/"}) {
    auto r = open_parent(t.root_fd.get(), bad, kNoLinks);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().exit, Exit::BadInput) << bad;
  }
  // The image: "tmp/evil -> OUTSIDE", then "tmp/evil/x".
  auto r = open_parent(t.root_fd.get(), "tmp/evil/x", kNoLinks);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().sys_errno, ELOOP);
  // The last component is never followed.
  e = open_parent(t.root_fd.get(), "tmp/evil", kNoLinks);
  ASSERT_TRUE(e);
  auto link = open_entry(*e);
  ASSERT_TRUE(link);
  ASSERT_EQ(::fstatat(link->get(), "", &st, AT_EMPTY_PATH), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST(Resolve, OwnerModeAndTimesOnPathFds) {
  Trees t;
  ASSERT_EQ(::mkfifo((t.root + "/fifo").c_str(), 0600), 0);
  UniqueFd fifo(::open((t.root + "/fifo").c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  ASSERT_TRUE(fifo);
  ASSERT_TRUE(chmod_fd(fifo.get(), 0640));
  timespec times[2] = {{1000, 1}, {2000, 2}};
  ASSERT_TRUE(set_times_fd(fifo.get(), times));
  struct stat st {};
  ASSERT_EQ(::stat((t.root + "/fifo").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_mtim.tv_sec, 2000);
  // A symlink's own times, its target's untouched.
  struct stat before {};
  ASSERT_EQ(::stat(t.outside.c_str(), &before), 0);
  UniqueFd link(::open((t.root + "/tmp/evil").c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  ASSERT_TRUE(set_times_fd(link.get(), times));
  if (::geteuid() == 0) ASSERT_TRUE(chown_fd(link.get(), 1234, 1235));
  ASSERT_EQ(::lstat((t.root + "/tmp/evil").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 2000);
  if (::geteuid() == 0) EXPECT_EQ(st.st_uid, 1234u);
  ASSERT_EQ(::stat(t.outside.c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, before.st_mtim.tv_sec);
  EXPECT_EQ(st.st_uid, before.st_uid);
}
