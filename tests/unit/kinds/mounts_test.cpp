#include <gtest/gtest.h>

#include "kinds/ns/mounts.h"

using namespace amber;
using namespace amber::kinds;

namespace {
sys::MountInfo mi(int id, int parent, uint32_t minor, std::string root, std::string mp, std::string fstype,
                  int shared = 0) {
  sys::MountInfo m;
  m.mnt_id = id;
  m.parent_id = parent;
  m.dev_major = 0;
  m.dev_minor = minor;
  m.root = std::move(root);
  m.mount_point = std::move(mp);
  m.fstype = std::move(fstype);
  m.source = "src";
  m.shared = shared;
  return m;
}
}  // namespace

TEST(Mounts, SortsInheritedStandardAndOwnTmpfs) {
  std::vector<sys::MountInfo> host = {mi(1, 0, 1, "/", "/", "ext4"), mi(2, 1, 2, "/", "/proc", "proc"),
                                      mi(3, 1, 3, "/", "/dev", "devtmpfs"), mi(4, 3, 4, "/", "/dev/shm", "tmpfs")};
  // The container's copy of the host's tree, then amber's mounts on top.
  std::vector<sys::MountInfo> ct = {mi(10, 9, 1, "/", "/", "ext4"),       mi(11, 10, 2, "/", "/proc", "proc"),
                                    mi(12, 10, 3, "/", "/dev", "devtmpfs"), mi(18, 12, 4, "/", "/dev/shm", "tmpfs"),
                                    mi(13, 11, 20, "/", "/proc", "proc"),
                                    mi(14, 12, 21, "/", "/dev", "tmpfs"),   mi(15, 14, 22, "/", "/dev/shm", "tmpfs"),
                                    mi(16, 14, 23, "/", "/dev/pts", "devpts"), mi(17, 10, 24, "/", "/tmp", "tmpfs")};
  auto r = classify_mounts(ct, host, "");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 9u);
  EXPECT_EQ((*r)[0].role, MountRole::Inherited);
  EXPECT_TRUE((*r)[0].mount.external_bind());
  EXPECT_EQ((*r)[1].role, MountRole::Inherited);
  EXPECT_EQ((*r)[3].role, MountRole::Inherited);  // the host's /dev/shm, hidden under the container's /dev
  EXPECT_EQ((*r)[4].role, MountRole::Standard);
  EXPECT_EQ((*r)[6].role, MountRole::OwnTmpfs);
  EXPECT_EQ((*r)[8].role, MountRole::OwnTmpfs);
}

TEST(Mounts, RefusesUnknownAndSharedMounts) {
  std::vector<sys::MountInfo> host = {mi(1, 0, 1, "/", "/", "ext4")};
  std::vector<sys::MountInfo> ct = {mi(10, 9, 1, "/", "/", "ext4"), mi(11, 10, 30, "/", "/mnt", "tmpfs")};
  auto r = classify_mounts(ct, host, "");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::Unsupported);
  EXPECT_NE(r.error().message.find("/mnt"), std::string::npos);
  ct = {mi(10, 9, 1, "/", "/", "ext4", 5)};
  r = classify_mounts(ct, host, "");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::Unsupported);
}

TEST(Mounts, RootfsBindIsStandard) {
  std::vector<sys::MountInfo> host = {mi(1, 0, 1, "/", "/", "ext4")};
  std::vector<sys::MountInfo> ct = {mi(10, 9, 1, "/srv/rootfs", "/", "ext4"), mi(11, 10, 20, "/", "/proc", "proc"),
                                    mi(12, 10, 21, "/", "/dev", "tmpfs"),         mi(13, 12, 22, "/", "/dev/shm", "tmpfs"),
                                    mi(14, 12, 23, "/", "/dev/pts", "devpts"),    mi(15, 10, 24, "/", "/tmp", "tmpfs")};
  auto r = classify_mounts(ct, host, "/srv/rootfs");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)[0].role, MountRole::Standard);
  EXPECT_FALSE((*r)[0].mount.external_bind());
  // The container unmounted its /dev/shm: the restore would mount it again.
  ct.erase(ct.begin() + 3);
  r = classify_mounts(ct, host, "/srv/rootfs");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::Unsupported);
  EXPECT_NE(r.error().message.find("mount /dev/shm (tmpfs), made by amber's container set-up, was unmounted"),
            std::string::npos)
      << r.error().message;
}

TEST(Mounts, InheritedMountMissingOnThisHostIsRefused) {
  img::Namespaces ns;
  auto* m = ns.add_mounts();
  m->set_mountpoint("/data");
  m->set_fstype("ext4");
  m->set_external_bind(true);
  std::vector<sys::MountInfo> host = {mi(1, 0, 1, "/", "/", "ext4")};
  auto r = check_inherited_mounts(ns, host);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::BadInput);
  host.push_back(mi(2, 1, 5, "/", "/data", "ext4"));
  EXPECT_TRUE(check_inherited_mounts(ns, host));
}

TEST(Mounts, VerifyComparesMountPointsTypesAndOptionsAsSets) {
  img::Namespaces ns;
  for (auto [mp, fs] : {std::pair{"/", "ext4"}, {"/proc", "proc"}, {"/tmp", "tmpfs"}}) {
    img::Mount* m = ns.add_mounts();
    m->set_mountpoint(mp);
    m->set_fstype(fs);
    m->set_mount_options("rw,nosuid");
  }
  auto with_opts = [](sys::MountInfo m, std::string o) {
    m.mount_options = std::move(o);
    return m;
  };
  std::vector<sys::MountInfo> same = {with_opts(mi(5, 1, 1, "/", "/tmp", "tmpfs"), "rw,nosuid"),
                                      with_opts(mi(1, 0, 1, "/", "/", "ext4"), "rw,nosuid"),
                                      with_opts(mi(2, 1, 2, "/", "/proc", "proc"), "rw,nosuid")};
  EXPECT_TRUE(verify_mounts(same, ns)) << "the order of mounting does not matter";
  auto missing = same;
  missing.pop_back();
  auto r = verify_mounts(missing, ns);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("/proc"), std::string::npos) << r.error().message;
  auto ro = same;
  ro[0].mount_options = "ro,nosuid";
  EXPECT_FALSE(verify_mounts(ro, ns)) << "a read-only /tmp is not the image's";
}
