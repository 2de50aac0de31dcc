#include <gtest/gtest.h>

#include <linux/mount.h>

#include <algorithm>

#include "kinds/ns/mounts.h"
#include "sys/mount.h"

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
  m.mount_options = "rw,relatime";
  m.super_options = "rw";
  return m;
}

sys::MountInfo with(sys::MountInfo m, std::string source, std::string super, std::string opts = "rw,relatime") {
  m.source = std::move(source);
  m.super_options = std::move(super);
  m.mount_options = std::move(opts);
  return m;
}

// The host: / on a disk (8:1), a data disk at /srv, cgroup v1 cpu.
std::vector<sys::MountInfo> host_mounts() {
  std::vector<sys::MountInfo> h = {mi(1, 0, 1, "/", "/", "ext4"), mi(2, 1, 2, "/", "/proc", "proc"),
                                   mi(3, 1, 3, "/", "/srv", "ext4"), mi(4, 1, 4, "/", "/sys/fs/cgroup/cpu", "cgroup")};
  for (auto& m : h) m.dev_major = 8;
  return h;
}

// What runc builds (measured here): the rootfs bind, its mounts, masked and
// read-only paths, listed in the order the kernel shows them.
std::vector<sys::MountInfo> runc_mounts() {
  auto root = mi(68, 46, 1, "/bundle/rootfs", "/", "ext4");
  root.dev_major = 8;
  return {root,
          mi(69, 68, 41, "/", "/proc", "proc"),
          with(mi(70, 68, 42, "/", "/dev", "tmpfs"), "tmpfs", "rw,size=65536k,mode=755", "rw,nosuid"),
          with(mi(71, 70, 43, "/", "/dev/pts", "devpts"), "devpts", "rw,gid=5,mode=620,ptmxmode=666",
               "rw,nosuid,noexec,relatime"),
          with(mi(72, 70, 44, "/", "/dev/shm", "tmpfs"), "shm", "rw,size=65536k", "rw,nosuid,nodev,noexec,relatime"),
          mi(73, 70, 40, "/", "/dev/mqueue", "mqueue"),
          with(mi(74, 68, 45, "/", "/sys", "sysfs"), "sysfs", "ro", "ro,nosuid,nodev,noexec,relatime"),
          with(mi(47, 69, 41, "/bus", "/proc/bus", "proc"), "proc", "rw", "ro,relatime"),
          with(mi(51, 69, 47, "/", "/proc/acpi", "tmpfs"), "tmpfs", "ro", "ro,relatime"),
          with(mi(52, 69, 42, "/null", "/proc/keys", "tmpfs"), "tmpfs", "rw,size=65536k,mode=755", "rw,nosuid")};
}

const img::Mount& at(const std::vector<img::Mount>& v, std::string_view mp) {
  for (const auto& m : v)
    if (m.mountpoint() == mp) return m;
  static img::Mount none;
  ADD_FAILURE() << "no mount at " << mp;
  return none;
}

std::string params(const img::Mount& m) {
  std::string out;
  for (const auto& p : m.params()) out += p.key() + (p.value().empty() ? "" : "=" + p.value()) + ";";
  return out;
}
}  // namespace


TEST(Mounts, HostTreeMountsAreInheritedAmbersAreNew) {
  std::vector<sys::MountInfo> host = {mi(1, 0, 1, "/", "/", "ext4"), mi(2, 1, 2, "/", "/proc", "proc"),
                                      mi(3, 1, 3, "/", "/dev", "devtmpfs"), mi(4, 3, 4, "/", "/dev/shm", "tmpfs")};
  // The container's copy of the host's tree, then amber's mounts on top.
  std::vector<sys::MountInfo> ct = {mi(10, 9, 1, "/", "/", "ext4"),       mi(11, 10, 2, "/", "/proc", "proc"),
                                    mi(12, 10, 3, "/", "/dev", "devtmpfs"), mi(18, 12, 4, "/", "/dev/shm", "tmpfs"),
                                    mi(13, 11, 20, "/", "/proc", "proc"),
                                    mi(14, 12, 21, "/", "/dev", "tmpfs"),   mi(15, 14, 22, "/", "/dev/shm", "tmpfs"),
                                    mi(16, 14, 23, "/", "/dev/pts", "devpts"), mi(17, 10, 24, "/", "/tmp", "tmpfs")};
  MountScope scope;
  scope.host_tree = true;
  auto r = plan_mounts(ct, host, scope);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 9u);
  EXPECT_EQ((*r)[0].how(), img::MOUNT_INHERITED);
  EXPECT_TRUE((*r)[0].external_bind());
  EXPECT_EQ((*r)[1].how(), img::MOUNT_INHERITED);
  EXPECT_EQ((*r)[3].how(), img::MOUNT_INHERITED);  // the host's /dev/shm, hidden under the container's /dev
  EXPECT_EQ((*r)[4].how(), img::MOUNT_NEW);
  EXPECT_EQ((*r)[6].how(), img::MOUNT_NEW);
  EXPECT_EQ((*r)[8].how(), img::MOUNT_NEW);
}

// `amber run --net host`: a new sysfs in the host's net namespace is the
// host's sysfs superblock, mounted over the inherited /sys. It is the
// container's (made again as a bind), not a second inherited one.
TEST(Mounts, ACopyStackedOnAnInheritedMountIsTheContainers) {
  std::vector<sys::MountInfo> host = {mi(1, 0, 1, "/", "/", "ext4"), mi(2, 1, 5, "/", "/sys", "sysfs")};
  std::vector<sys::MountInfo> ct = {mi(10, 9, 1, "/", "/", "ext4"), mi(11, 10, 5, "/", "/sys", "sysfs"),
                                    with(mi(12, 11, 5, "/", "/sys", "sysfs"), "sysfs", "ro", "ro,relatime")};
  MountScope scope;
  scope.host_tree = true;
  auto r = plan_mounts(ct, host, scope);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[1].how(), img::MOUNT_INHERITED);
  EXPECT_EQ((*r)[2].how(), img::MOUNT_BIND);
  EXPECT_EQ((*r)[2].bind_of(), 11u);
}

TEST(Mounts, RuncLayoutGetsRecipesInBuildOrder) {
  auto ct = runc_mounts();
  // Listed before the /dev it binds from: placed after it.
  std::rotate(ct.begin() + 2, ct.end() - 1, ct.end());
  MountScope scope;
  scope.rootfs = "/bundle/rootfs";
  auto r = plan_mounts(ct, host_mounts(), scope);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), ct.size());
  EXPECT_EQ((*r)[0].how(), img::MOUNT_ROOT);
  EXPECT_EQ((*r)[0].host_path(), "/bundle/rootfs");
  EXPECT_EQ(at(*r, "/proc").how(), img::MOUNT_NEW);
  EXPECT_EQ(params(at(*r, "/dev")), "size=65536k;mode=755;");
  EXPECT_EQ(params(at(*r, "/dev/pts")), "gid=5;mode=620;ptmxmode=666;");
  EXPECT_EQ(params(at(*r, "/sys")), "ro;");
  EXPECT_EQ(at(*r, "/dev/mqueue").how(), img::MOUNT_NEW);
  EXPECT_EQ(at(*r, "/proc/acpi").how(), img::MOUNT_NEW);  // a masked directory: an empty tmpfs
  const img::Mount& keys = at(*r, "/proc/keys");            // a masked file: /dev/null bound over it
  EXPECT_EQ(keys.how(), img::MOUNT_BIND);
  EXPECT_EQ(keys.bind_of(), 70u);
  EXPECT_EQ(keys.bind_path(), "null");
  EXPECT_EQ(at(*r, "/proc/bus").how(), img::MOUNT_BIND);  // a read-only path
  EXPECT_EQ(at(*r, "/proc/bus").bind_path(), "bus");
  std::vector<uint32_t> order;
  for (const auto& m : *r) order.push_back(m.mount_id());
  auto pos = [&](uint32_t id) { return std::find(order.begin(), order.end(), id) - order.begin(); };
  EXPECT_LT(pos(70), pos(52)) << "the bind source first";
  EXPECT_LT(pos(69), pos(52)) << "the parent first";
  img::Namespaces ns;
  for (const auto& m : *r) *ns.add_mounts() = m;
  EXPECT_TRUE(validate_mounts(ns));

  // The root is found from the host's mount of its filesystem; another
  // rootfs given is refused.
  scope.rootfs = "";
  ASSERT_TRUE(plan_mounts(ct, host_mounts(), scope));
  scope.rootfs = "/elsewhere";
  auto bad = plan_mounts(ct, host_mounts(), scope);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("not its rootfs /elsewhere"), std::string::npos) << bad.error().message;
}

TEST(Mounts, HostBindsMustBeDeclaredExternal) {
  auto ct = runc_mounts();
  auto data = mi(90, 68, 3, "/projects/a", "/data", "ext4");
  data.dev_major = 8;
  ct.push_back(data);
  auto cg = mi(91, 74, 4, "/t1", "/sys/fs/cgroup/cpu", "cgroup");
  cg.dev_major = 8;
  ct.push_back(cg);
  MountScope scope;
  auto r = plan_mounts(ct, host_mounts(), scope);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::Unsupported);
  EXPECT_NE(r.error().message.find("mount /data (ext4 from src, root /projects/a): a bind of the host's "
                                   "/srv/projects/a: declare it with --external mount:/data"),
            std::string::npos)
      << r.error().message;
  scope.externals = {"/data", "/sys/fs/cgroup/cpu"};
  r = plan_mounts(ct, host_mounts(), scope);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(at(*r, "/data").how(), img::MOUNT_HOST);
  EXPECT_EQ(at(*r, "/data").host_path(), "/srv/projects/a");
  EXPECT_EQ(at(*r, "/data").external(), "mount:/data");
  EXPECT_EQ(at(*r, "/sys/fs/cgroup/cpu").host_path(), "/sys/fs/cgroup/cpu/t1");
}

TEST(Mounts, RefusesWhatItCannotMakeByName) {
  MountScope scope;
  auto with_extra = [](sys::MountInfo m) {
    auto ct = runc_mounts();
    ct.push_back(std::move(m));
    return ct;
  };
  auto fuse = mi(90, 68, 60, "/", "/mnt", "fuse.sshfs");
  auto r = plan_mounts(with_extra(fuse), host_mounts(), scope);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::Unsupported);
  EXPECT_NE(r.error().message.find("mount /mnt (fuse.sshfs"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("cannot make a new fuse.sshfs mount"), std::string::npos) << r.error().message;

  auto odd = with(mi(90, 68, 61, "/", "/mnt", "tmpfs"), "tmpfs", "rw,quota");
  r = plan_mounts(with_extra(odd), host_mounts(), scope);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("tmpfs option 'quota'"), std::string::npos) << r.error().message;

  auto console = with(mi(90, 70, 43, "/0", "/dev/console", "devpts"), "devpts", "rw,gid=5,mode=620,ptmxmode=666");
  r = plan_mounts(with_extra(console), host_mounts(), scope);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("mount /dev/console (devpts from devpts, root /0): a bind of pty 0 of /dev/pts"),
            std::string::npos)
      << r.error().message;

  // Shared with the host's peer group 5; a slave of a group outside.
  auto ct = runc_mounts();
  ct[1].shared = 5;
  auto host = host_mounts();
  host[1].shared = 5;
  r = plan_mounts(ct, host, scope);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("shared propagation with the host"), std::string::npos) << r.error().message;
  ct = runc_mounts();
  ct[2].master = 9;
  r = plan_mounts(ct, host_mounts(), scope);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("slave of peer group 9, outside the container"), std::string::npos);
  // Propagation inside the container is kept.
  ct = runc_mounts();
  ct[2].shared = 7;
  ct[3].master = 7;
  r = plan_mounts(ct, host_mounts(), scope);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(at(*r, "/dev").shared_group(), 7u);
  EXPECT_EQ(at(*r, "/dev/pts").master_group(), 7u);
}

TEST(Mounts, ValidateRefusesBadRecipes) {
  auto r = plan_mounts(runc_mounts(), host_mounts(), MountScope{});
  ASSERT_TRUE(r) << r.error().message;
  img::Namespaces good;
  for (const auto& m : *r) *good.add_mounts() = m;
  ASSERT_TRUE(validate_mounts(good));
  auto broken = [&](auto change) {
    img::Namespaces ns = good;
    change(ns);
    return validate_mounts(ns);
  };
  auto legacy = broken([](img::Namespaces& ns) { ns.mutable_mounts(3)->set_how(img::MOUNT_HOW_UNSET); });
  ASSERT_FALSE(legacy);
  EXPECT_EQ(legacy.error().exit, Exit::Unsupported);
  EXPECT_NE(legacy.error().message.find("older amber"), std::string::npos);
  auto order = broken([](img::Namespaces& ns) {
    int dev = 0, pts = 0;
    for (int i = 0; i < ns.mounts_size(); ++i) {
      if (ns.mounts(i).mountpoint() == "/dev") dev = i;
      if (ns.mounts(i).mountpoint() == "/dev/pts") pts = i;
    }
    ns.mutable_mounts()->SwapElements(dev, pts);
  });
  EXPECT_FALSE(order);
  auto param = broken([](img::Namespaces& ns) {
    auto* p = ns.mutable_mounts(1)->add_params();
    p->set_key("source");
    p->set_value("/etc");
  });
  ASSERT_FALSE(param);
  EXPECT_EQ(param.error().exit, Exit::Unsupported);
  auto escape = broken([](img::Namespaces& ns) {
    for (auto& m : *ns.mutable_mounts())
      if (m.how() == img::MOUNT_BIND) m.set_bind_path("../../etc");
  });
  ASSERT_FALSE(escape);
  EXPECT_EQ(escape.error().exit, Exit::BadInput);
  auto content = broken([](img::Namespaces& ns) { ns.mutable_mounts(1)->set_content("fs/0.img"); });
  EXPECT_FALSE(content) << "content only for a tmpfs";
}

TEST(Mounts, InheritedMountMissingOnThisHostIsRefused) {
  img::Namespaces ns;
  auto* m = ns.add_mounts();
  m->set_mountpoint("/data");
  m->set_fstype("ext4");
  m->set_how(img::MOUNT_INHERITED);
  std::vector<sys::MountInfo> host = {mi(1, 0, 1, "/", "/", "ext4")};
  auto r = check_inherited_mounts(ns, host);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::BadInput);
  host.push_back(mi(2, 1, 5, "/", "/data", "ext4"));
  EXPECT_TRUE(check_inherited_mounts(ns, host));
}

TEST(Mounts, VerifyComparesEachMountAndItsPropagation) {
  auto ct = runc_mounts();
  ct[2].shared = 7;
  ct[3].master = 7;
  auto r = plan_mounts(ct, host_mounts(), MountScope{});
  ASSERT_TRUE(r) << r.error().message;
  img::Namespaces ns;
  for (const auto& m : *r) *ns.add_mounts() = m;
  // Restored: other ids and devices, other group numbers, another order.
  auto restored = ct;
  std::reverse(restored.begin() + 1, restored.end());
  for (auto& m : restored) {
    m.mnt_id += 100, m.dev_minor += 100;
    if (m.shared) m.shared = 12;
    if (m.master) m.master = 12;
  }
  EXPECT_TRUE(verify_mounts(restored, ns));
  auto ro = restored;
  for (auto& m : ro)
    if (m.mount_point == "/dev/shm") m.mount_options = "ro,nosuid,nodev,noexec,relatime";
  auto e = verify_mounts(ro, ns);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("/dev/shm"), std::string::npos) << e.error().message;
  auto size = restored;
  for (auto& m : size)
    if (m.mount_point == "/dev") m.super_options = "rw,size=1024k,mode=755";
  EXPECT_FALSE(verify_mounts(size, ns)) << "another tmpfs size";
  auto lone = restored;
  for (auto& m : lone) m.master = 0;
  EXPECT_FALSE(verify_mounts(lone, ns)) << "a slave no more";
  auto missing = restored;
  missing.pop_back();
  EXPECT_FALSE(verify_mounts(missing, ns));
  auto extra = restored;
  extra.push_back(mi(300, 168, 99, "/", "/mnt", "tmpfs"));
  EXPECT_FALSE(verify_mounts(extra, ns));
}

TEST(Mounts, ParsesPerMountOptions) {
  auto a = sys::parse_mount_attrs("ro,nosuid,nodev,noexec,relatime");
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, uint64_t{MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
                         MOUNT_ATTR_RELATIME});
  EXPECT_EQ(*sys::parse_mount_attrs("rw,nosuid"), uint64_t{MOUNT_ATTR_NOSUID | MOUNT_ATTR_STRICTATIME});
  EXPECT_EQ(*sys::parse_mount_attrs("rw,noatime"), uint64_t{MOUNT_ATTR_NOATIME});
  auto idmapped = sys::parse_mount_attrs("rw,idmapped");
  ASSERT_FALSE(idmapped);
  EXPECT_EQ(idmapped.error().exit, Exit::Unsupported);
}
