// fs context kind: comm, root, cwd, umask dumped from one child (plain and
// chroot'ed), applied inside another, compared through /proc.
#include "kinds/task_misc.h"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "kinds_test_util.h"

using namespace amber;
using amber::kinds_test::Forked;

namespace {

// A scratch directory tree, removed at the end.
struct TempTree {
  std::string root;
  TempTree() {
    char tmpl[] = "/tmp/amber-kinds-XXXXXX";
    root = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempTree() {
    if (!root.empty()) (void)remove_tree(root);
  }
};

std::string link_of(pid_t pid, const char* what) {
  auto l = read_link("/proc/" + std::to_string(pid) + "/" + what);
  return l ? *l : std::string("?");
}

}  // namespace

TEST(PathInRoot, StripsTheRootAndRefusesWhatIsOutside) {
  EXPECT_EQ(kinds::path_in_root("/srv/a b", "/").value(), "/srv/a b");
  EXPECT_EQ(kinds::path_in_root("/r/fs/tmp", "/r/fs").value(), "/tmp");
  EXPECT_EQ(kinds::path_in_root("/r/fs", "/r/fs/").value(), "/");
  auto outside = kinds::path_in_root("/r/fsx/tmp", "/r/fs");
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().exit, Exit::Unsupported);
  EXPECT_NE(outside.error().message.find("outside"), std::string::npos) << outside.error().message;
  auto deleted = kinds::path_in_root("/tmp/gone (deleted)", "/");
  ASSERT_FALSE(deleted);
  EXPECT_EQ(deleted.error().exit, Exit::Unsupported);
  EXPECT_FALSE(kinds::path_in_root("pipe:[123]", "/"));
}

TEST(FsContextKind, CwdUmaskCommRestoredInAnotherChild) {
  TempTree tree;
  ASSERT_FALSE(tree.root.empty());
  const std::string dir = tree.root + "/work dir";
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);

  Forked a([&](int&) {
    if (::chdir(dir.c_str()) != 0) return 20;
    ::umask(027);
    return prctl(PR_SET_NAME, "amber-fsctx") == 0 ? 0 : 21;
  });
  ASSERT_TRUE(a.ok());
  img::Task image;
  image.set_pid(1);
  auto root = kinds::read_root_link(a.pid());
  ASSERT_TRUE(root) << root.error().message;
  auto st = kinds::dump_fs_context(a.pid(), *root, {}, image);
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(image.cwd(), dir);
  EXPECT_EQ(image.root(), "/");
  EXPECT_EQ(image.umask(), 027u);
  EXPECT_EQ(image.comm(), "amber-fsctx");

  Forked b([&](int&) {
    auto r = kinds::apply_fs_context_in_child(image);
    return r ? 0 : 30;
  });
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(link_of(b.pid(), "cwd"), dir);
  EXPECT_EQ(link_of(b.pid(), "root"), "/");
  EXPECT_EQ(kinds_test::status_field(b.pid(), "Umask"), "0027");
  EXPECT_EQ(kinds_test::proc_text(b.pid(), "comm"), "amber-fsctx\n");
}

TEST(FsContextKind, ChrootedTaskStoresPathsAsItSeesThem) {
  TempTree tree;
  ASSERT_FALSE(tree.root.empty());
  ASSERT_EQ(::mkdir((tree.root + "/sub").c_str(), 0755), 0);

  Forked a([&](int&) {
    if (::chroot(tree.root.c_str()) != 0) return 20;
    return ::chdir("/sub") == 0 ? 0 : 21;
  });
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(link_of(a.pid(), "cwd"), tree.root + "/sub");  // amber's view
  img::Task image;
  image.set_pid(1);
  // The container's root is ours ("/"): the task's root is a directory in it.
  auto st = kinds::dump_fs_context(a.pid(), "/", {}, image);
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(image.root(), tree.root);
  EXPECT_EQ(image.cwd(), "/sub");

  Forked b([&](int&) { return kinds::apply_fs_context_in_child(image) ? 0 : 30; });
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(link_of(b.pid(), "root"), tree.root);
  EXPECT_EQ(link_of(b.pid(), "cwd"), tree.root + "/sub");
}

TEST(FsContextKind, DeletedCwdIsRefused) {
  TempTree tree;
  ASSERT_FALSE(tree.root.empty());
  const std::string dir = tree.root + "/doomed";
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  Forked a([&](int&) { return ::chdir(dir.c_str()) == 0 ? 0 : 20; });
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(::rmdir(dir.c_str()), 0);
  img::Task image;
  image.set_pid(4);
  auto st = kinds::dump_fs_context(a.pid(), "/", {}, image);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().exit, Exit::Unsupported);
  EXPECT_NE(st.error().message.find("task 4: cwd"), std::string::npos) << st.error().message;
}
