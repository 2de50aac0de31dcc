#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/files.h"
#include "image/format.h"
#include "image/pages.h"
#include "kinds/ns/fs_tree.h"
#include "test_key.h"

using namespace amber;

namespace {

std::string make_tmp() {
  char t[] = "/tmp/amber-fstree-XXXXXX";
  EXPECT_NE(mkdtemp(t), nullptr);
  return t;
}

// The authenticator of an image's tmpfs data file fs/0.bin.
image::ChunkAuth fs_auth(std::string_view relpath = "fs/0.bin", std::byte salt_byte = std::byte{7}) {
  std::array<std::byte, image::kSaltSize> salt;
  salt.fill(salt_byte);
  auto keys = image::ImageKeys::derive(image::test_key(), salt);
  EXPECT_TRUE(keys);
  auto a = keys->chunks(relpath);
  EXPECT_TRUE(a);
  return *a;
}

struct Tree {
  std::string src = make_tmp(), dst = make_tmp(), data = src + ".data";
  ~Tree() {
    (void)remove_tree(src);
    (void)remove_tree(dst);
    ::unlink(data.c_str());
  }
};

}  // namespace

TEST(FsTree, RoundTripKeepsContentTypesModesOwnersTimesLinks) {
  Tree t;
  ASSERT_TRUE(make_dirs(t.src + "/sub/deeper"));
  std::string big(3 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>(i / 4096);
  ASSERT_TRUE(write_new_file(t.src + "/sub/big", big, 0640));
  ASSERT_TRUE(write_new_file(t.src + "/empty", "", 0600));
  ASSERT_TRUE(write_new_file(t.src + "/sub/deeper/f", "hello", 0755));
  ASSERT_EQ(::chown((t.src + "/sub/deeper/f").c_str(), 1000, 1001), 0);
  ASSERT_EQ(::symlink("/etc/passwd", (t.src + "/abs-link").c_str()), 0);  // must not be followed
  ASSERT_EQ(::symlink("sub/big", (t.src + "/rel-link").c_str()), 0);
  ASSERT_EQ(::link((t.src + "/sub/deeper/f").c_str(), (t.src + "/hard").c_str()), 0);
  ASSERT_EQ(::mkfifo((t.src + "/fifo").c_str(), 0600), 0);
  ASSERT_EQ(::chmod((t.src + "/fifo").c_str(), 0620), 0);
  ASSERT_EQ(::chmod((t.src + "/sub").c_str(), 01777), 0);
  timespec times[2] = {{1000000, 5}, {2000000, 7}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (t.src + "/sub").c_str(), times, 0), 0);

  UniqueFd data(::open(t.data.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  uint64_t off = 0;
  const image::ChunkAuth auth = fs_auth();
  image::ChunkStream tags(auth, image::kChunkSize);
  auto tree = kinds::dump_fs_tree(t.src, data.get(), &off, &tags);
  ASSERT_TRUE(tree) << tree.error().message;
  EXPECT_EQ(off, big.size() + 5);  // the hard link's data is stored once
  tree->set_chunk_tags(*tags.finish());
  EXPECT_EQ(tree->chunk_tags().size(), 4 * image::kTagSize);  // 3 MiB + 5 bytes
  ASSERT_TRUE(kinds::restore_fs_tree(*tree, data.get(), &auth, t.dst));

  EXPECT_EQ(*read_file(t.dst + "/sub/big"), big);
  EXPECT_EQ(*read_file(t.dst + "/sub/deeper/f"), "hello");
  EXPECT_EQ(*read_file(t.dst + "/empty"), "");
  EXPECT_EQ(*read_link(t.dst + "/abs-link"), "/etc/passwd");
  EXPECT_EQ(*read_link(t.dst + "/rel-link"), "sub/big");
  struct stat a {}, b {};
  ASSERT_EQ(::stat((t.dst + "/hard").c_str(), &a), 0);
  ASSERT_EQ(::stat((t.dst + "/sub/deeper/f").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(b.st_uid, 1000u);
  EXPECT_EQ(b.st_gid, 1001u);
  EXPECT_EQ(b.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat((t.dst + "/fifo").c_str(), &a), 0);
  EXPECT_TRUE(S_ISFIFO(a.st_mode));
  EXPECT_EQ(a.st_mode & 07777, 0620u);
  ASSERT_EQ(::stat((t.dst + "/sub").c_str(), &a), 0);
  EXPECT_EQ(a.st_mode & 07777, 01777u);
  EXPECT_EQ(a.st_mtim.tv_sec, 2000000);
  EXPECT_EQ(a.st_mtim.tv_nsec, 7);
}

TEST(FsTree, CorruptDataIsRefused) {
  Tree t;
  ASSERT_TRUE(write_new_file(t.src + "/f", "some content"));
  UniqueFd data(::open(t.data.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  uint64_t off = 0;
  auto tree = kinds::dump_fs_tree(t.src, data.get(), &off, nullptr);
  ASSERT_TRUE(tree);
  ASSERT_EQ(::pwrite(data.get(), "X", 1, 2), 1);
  auto r = kinds::restore_fs_tree(*tree, data.get(), nullptr, t.dst);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::BadInput);
  EXPECT_NE(r.error().message.find("checksum"), std::string::npos) << r.error().message;
}

// Data changed with its per-file xxh3 recomputed (anyone can): the chunk tag
// refuses it before a byte is written, and so does a tag of another file's
// key or another image's salt.
TEST(FsTree, TaggedDataChangedOrMovedIsRefused) {
  Tree t;
  ASSERT_TRUE(write_new_file(t.src + "/f", "some content"));
  UniqueFd data(::open(t.data.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  uint64_t off = 0;
  const image::ChunkAuth auth = fs_auth();
  image::ChunkStream tags(auth, image::kChunkSize);
  auto tree = kinds::dump_fs_tree(t.src, data.get(), &off, &tags);
  ASSERT_TRUE(tree);
  tree->set_chunk_tags(*tags.finish());
  const image::ChunkAuth other_file = fs_auth("fs/1.bin"), other_image = fs_auth("fs/0.bin", std::byte{8});
  for (const image::ChunkAuth* a : {&other_file, &other_image}) {
    (void)remove_tree(t.dst);
    ASSERT_TRUE(make_dirs(t.dst));
    auto r = kinds::restore_fs_tree(*tree, data.get(), a, t.dst);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().exit, Exit::BadInput);
    EXPECT_NE(r.error().message.find("not authenticated with this key"), std::string::npos) << r.error().message;
  }
  ASSERT_EQ(::pwrite(data.get(), "X", 1, 2), 1);
  tree->mutable_entries(1)->set_xxh3(image::xxh3("soXe content"));
  ASSERT_EQ(tree->entries(1).path(), "f");
  (void)remove_tree(t.dst);
  ASSERT_TRUE(make_dirs(t.dst));
  auto r = kinds::restore_fs_tree(*tree, data.get(), &auth, t.dst);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::BadInput);
  EXPECT_NE(r.error().message.find("not authenticated with this key"), std::string::npos) << r.error().message;
  struct stat st {};
  // The file was created (empty) before its data was refused: the restore
  // removes the whole container; nothing of the data was written.
  if (::stat((t.dst + "/f").c_str(), &st) == 0) {
    EXPECT_EQ(st.st_size, 0);
  }
}

TEST(FsTree, PathsEscapingTheRootAreRefused) {
  Tree t;
  amber::img::FsTree tree;
  auto* e = tree.add_entries();
  e->set_path("../escape");
  e->set_mode(S_IFDIR | 0755);
  auto r = kinds::restore_fs_tree(tree, -1, nullptr, t.dst);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::BadInput);
}

TEST(FsTree, TmpfsMountData) {
  EXPECT_EQ(kinds::tmpfs_mount_data("rw,seclabel,size=1024k,nr_inodes=10,mode=1777,uid=0,gid=0,inode64"),
            "size=1024k,nr_inodes=10,mode=1777,uid=0,gid=0");
}

TEST(FsTree, ValidateAcceptsADumpedTree) {
  Tree t;
  ASSERT_TRUE(make_dirs(t.src + "/sub"));
  ASSERT_TRUE(write_new_file(t.src + "/sub/f", "hello", 0644));
  ASSERT_EQ(::link((t.src + "/sub/f").c_str(), (t.src + "/hard").c_str()), 0);
  ASSERT_EQ(::symlink("sub", (t.src + "/link").c_str()), 0);
  UniqueFd data(::open(t.data.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  uint64_t off = 0;
  auto tree = kinds::dump_fs_tree(t.src, data.get(), &off, nullptr);
  ASSERT_TRUE(tree) << tree.error().message;
  EXPECT_TRUE(kinds::validate_fs_tree(*tree, off));
  // One byte less of data file: the file's data would be cut.
  auto st = kinds::validate_fs_tree(*tree, off - 1);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().exit, Exit::BadInput);
  EXPECT_NE(st.error().message.find("beyond the data file"), std::string::npos) << st.error().message;
}

// Each of these would fail only while the init recreates the tree (exit 1,
// after the container's cgroup and namespaces exist); validate refuses them
// up front as bad input.
TEST(FsTree, ValidateRefusesWhatRestoreWouldTripOver) {
  auto entry = [](img::FsTree& t, const std::string& path, mode_t mode) -> img::FsEntry& {
    img::FsEntry& e = *t.add_entries();
    e.set_path(path);
    e.set_mode(mode | 0644);
    return e;
  };
  auto refused = [](const img::FsTree& t, const std::string& why) {
    auto st = kinds::validate_fs_tree(t, 100);
    ASSERT_FALSE(st) << why;
    EXPECT_EQ(st.error().exit, Exit::BadInput) << why;
  };
  {
    img::FsTree t;
    entry(t, "", S_IFDIR);
    entry(t, "a/b", S_IFREG);
    refused(t, "a file whose directory is not in the tree");
  }
  {
    img::FsTree t;
    entry(t, "", S_IFDIR);
    entry(t, "f", S_IFREG);
    entry(t, "f/g", S_IFREG);
    refused(t, "a file under a regular file");
  }
  {
    img::FsTree t;
    entry(t, "", S_IFDIR);
    entry(t, "h", S_IFREG).set_hardlink_to("later");
    refused(t, "a hard link to no earlier entry");
  }
  {
    img::FsTree t;
    entry(t, "", S_IFDIR);
    entry(t, std::string("a\0b", 3), S_IFREG);
    refused(t, "a NUL byte in a path");
  }
  {
    img::FsTree t;
    entry(t, "", S_IFDIR);
    entry(t, "s", S_IFSOCK);
    refused(t, "a socket");
  }
  {
    img::FsTree t;
    entry(t, "", S_IFDIR);
    entry(t, "f", S_IFREG).set_data_offset(UINT64_MAX);
    refused(t, "data offset beyond the data file");
  }
  {
    img::FsTree t;
    entry(t, "x", S_IFDIR);
    refused(t, "no root entry first");
  }
  {
    img::FsTree t;
    entry(t, "", S_IFDIR);
    entry(t, "disk", S_IFBLK).set_rdev(makedev(8, 0));
    refused(t, "a block device (the host's disk)");
  }
  {
    img::FsTree t;
    entry(t, "", S_IFDIR);
    entry(t, "mem", S_IFCHR).set_rdev(makedev(1, 1));
    refused(t, "/dev/mem");
  }
  {
    img::FsTree t;
    entry(t, "", S_IFDIR);
    entry(t, "null", S_IFCHR).set_rdev(makedev(1, 3));
    EXPECT_TRUE(kinds::validate_fs_tree(t, 100));
  }
}

// The image: "evil -> OUTSIDE", then "evil/x". Refused (the check
// runs in restore_fs_tree too), and nothing is made outside.
TEST(FsTree, RestoreFollowsNoSymlinkOutOfTheTree) {
  Tree t;
  std::string outside = make_tmp();
  img::FsTree tree;
  auto add = [&](const std::string& path, mode_t mode) -> img::FsEntry& {
    img::FsEntry& e = *tree.add_entries();
    e.set_path(path);
    e.set_mode(mode);
    return e;
  };
  add("", S_IFDIR | 0755);
  add("evil", S_IFLNK | 0777).set_link(outside);
  add("evil/x", S_IFDIR | 0755);
  auto r = kinds::restore_fs_tree(tree, -1, nullptr, t.dst);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::BadInput);
  struct stat st {};
  EXPECT_NE(::stat((outside + "/x").c_str(), &st), 0);
  // The mount point itself reached through a symlink: refused too.
  std::string link = t.dst + ".link";
  ASSERT_EQ(::symlink(t.dst.c_str(), link.c_str()), 0);
  img::FsTree plain;
  plain.add_entries()->set_mode(S_IFDIR | 0755);
  r = kinds::restore_fs_tree(plain, -1, nullptr, link);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().sys_errno, ELOOP);
  ::unlink(link.c_str());
  (void)remove_tree(outside);
}

TEST(FsTree, DumpRefusesDeviceNodesButTheHarmlessOnes) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (mknod)";
  Tree t;
  ASSERT_EQ(::mknod((t.src + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  UniqueFd data(::open(t.data.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  uint64_t off = 0;
  auto tree = kinds::dump_fs_tree(t.src, data.get(), &off, nullptr);
  ASSERT_TRUE(tree) << tree.error().message;
  ASSERT_TRUE(kinds::restore_fs_tree(*tree, data.get(), nullptr, t.dst));
  struct stat st {};
  ASSERT_EQ(::stat((t.dst + "/null").c_str(), &st), 0);
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  ASSERT_EQ(::mknod((t.src + "/disk").c_str(), S_IFBLK | 0600, makedev(8, 0)), 0);
  tree = kinds::dump_fs_tree(t.src, data.get(), &off, nullptr);
  ASSERT_FALSE(tree);
  EXPECT_EQ(tree.error().exit, Exit::Unsupported);
  EXPECT_NE(tree.error().message.find("block device 8:0"), std::string::npos) << tree.error().message;
}
