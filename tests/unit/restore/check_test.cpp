#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "restore/check.h"

using namespace amber;

TEST(RestoreCheck, ImagePathsAreAbsoluteAndPlain) {
  for (const std::string& p : std::vector<std::string>{"/", "/tmp", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/a b/..c/.d"})
    EXPECT_TRUE(restore::check_image_path(p)) << p;
  for (const std::string& p : std::vector<std::string>{"", "tmp", "/tmp/../etc", "/tmp/./x", "/tmp//x", "/tmp/", "/..", std::string("/a\0b", 4)}) {
    auto st = restore::check_image_path(p);
    ASSERT_FALSE(st) << p;
    EXPECT_EQ(st.error().exit, Exit::BadInput) << p;
  }
}

namespace {

img::Mount* add_mount(restore::Mounts& mounts, uint32_t id, uint32_t parent, const std::string& at) {
  img::Mount* m = mounts.Add();
  m->set_mount_id(id);
  m->set_parent_id(parent);
  m->set_mountpoint(at);
  return m;
}

}  // namespace

// The mount table of a container without a rootfs (seen with PostgreSQL,
// whose /dev/shm/PostgreSQL.* file a task maps): the host's /dev with its
// /dev/shm (twice) inherited, amber's /dev tmpfs on top of it and its own
// /dev/shm on that. A path in /dev/shm is on amber's, not on the host's.
TEST(RestoreCheck, VisibleMountIsTheTopmostOfAStack) {
  restore::Mounts mounts;
  add_mount(mounts, 77, 72, "/");
  add_mount(mounts, 92, 77, "/dev");
  add_mount(mounts, 93, 92, "/dev/shm");
  add_mount(mounts, 94, 93, "/dev/shm");
  add_mount(mounts, 95, 92, "/dev/pts");
  add_mount(mounts, 104, 92, "/dev");
  add_mount(mounts, 105, 104, "/dev/shm");
  add_mount(mounts, 107, 77, "/tmp");
  auto id_at = [&](std::string_view path) {
    const img::Mount* m = restore::visible_mount(mounts, path);
    return m ? m->mount_id() : 0u;
  };
  EXPECT_EQ(id_at("/dev/shm/PostgreSQL.1"), 105u);
  EXPECT_EQ(id_at("/dev/shm"), 105u);
  EXPECT_EQ(id_at("/dev/null"), 104u);
  EXPECT_EQ(id_at("/dev/pts/0"), 104u);  // the host's /dev/pts is under amber's /dev
  EXPECT_EQ(id_at("/tmp/x"), 107u);
  EXPECT_EQ(id_at("/usr/bin/env"), 77u);
  // Stacked at one mount point: the one on top.
  add_mount(mounts, 108, 107, "/tmp");
  EXPECT_EQ(id_at("/tmp/x"), 108u);
  restore::Mounts none;
  EXPECT_EQ(restore::visible_mount(none, "/x"), nullptr);
}
