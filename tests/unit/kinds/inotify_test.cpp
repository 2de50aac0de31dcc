// inotify kind: the fdinfo line parser, and a round trip in this process —
// an instance with watches (wds not starting at 1) dumped from outside,
// made again by the restore's open (same wds, masks, inodes, flags) —
// plus the refusals: unread events, a watch on a deleted file.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "base/files.h"
#include "kinds/files/fd_kinds.h"
#include "kinds/task_misc.h"

using namespace amber;
using namespace amber::kinds::files;

namespace {

constexpr std::string_view kLine =
    "wd:186a3 ino:6286d sdev:fe00000 mask:84000002 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 "
    "f_handle:6d28060000000000";

TEST(InotifyKind, ParsesAnFdinfoWatch) {
  auto w = parse_inotify_watch(kLine);
  ASSERT_TRUE(w) << w.error().message;
  EXPECT_EQ(w->wd(), 0x186a3);
  EXPECT_EQ(w->ino(), 0x6286du);
  EXPECT_EQ(w->sdev(), 0xfe00000u);
  EXPECT_EQ(w->mask(), uint32_t{IN_ONESHOT | IN_EXCL_UNLINK | IN_MODIFY});
  EXPECT_EQ(w->handle_type(), 1);
  EXPECT_EQ(w->handle(), std::string("\x6d\x28\x06\x00\x00\x00\x00\x00", 8));
}

TEST(InotifyKind, RejectsBadWatchLines) {
  for (std::string_view bad : {
           "wd:1 ino:2 sdev:3 mask:zz ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:00",
           "ino:2 sdev:3 mask:2 ignored_mask:0 fhandle-bytes:1 fhandle-type:1 f_handle:00",
           "wd:0 ino:2 sdev:3 mask:2 ignored_mask:0 fhandle-bytes:1 fhandle-type:1 f_handle:00",
           "wd:1 ino:2 sdev:3 mask:2 ignored_mask:4 fhandle-bytes:1 fhandle-type:1 f_handle:00",
           "wd:1 ino:2 sdev:3 mask:2 ignored_mask:0 fhandle-bytes:1 fhandle-type:1 f_handle:0",
           "wd:1 ino:2 sdev:3 mask:2 color:7 f_handle:00",
       }) {
    auto w = parse_inotify_watch(bad);
    ASSERT_FALSE(w) << bad;
    EXPECT_EQ(w.error().exit, Exit::BadInput) << bad;
  }
  auto none = parse_inotify_watch("wd:1 ino:2 sdev:3 mask:2 ignored_mask:0");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().exit, Exit::Unsupported);
}

struct TempDir {
  std::string path;
  TempDir() {
    char t[] = "/var/tmp/amber-inotify-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TempDir() { std::system(("rm -rf " + path).c_str()); }
};

kinds::FdProbe probe(int fd) {
  kinds::FdProbe p;
  p.fd = fd;
  const std::string link = fmt::format("/proc/self/fd/{}", fd);
  p.link = *read_link(link);
  ::stat(link.c_str(), &p.st);
  p.info = *sys::read_fdinfo(::getpid(), fd);
  return p;
}

kinds::FdDumpContext self_ctx() {
  kinds::FdDumpContext c;
  c.pid = ::getpid();
  c.vpid = 1;
  c.root = *kinds::read_root_link(::getpid());
  return c;
}

TEST(InotifyKind, RoundTripKeepsWdsMasksAndInodes) {
  TempDir d;
  const std::string file = d.path + "/f";
  UniqueFd(::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
  UniqueFd in(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  ASSERT_GE(in.get(), 0);
  // wds 1, 2 used and removed: the real ones are 3 and 5.
  for (int i = 0; i < 2; ++i) ASSERT_EQ(::inotify_rm_watch(in.get(), ::inotify_add_watch(in.get(), "/", IN_ATTRIB)), 0);
  const int wf = ::inotify_add_watch(in.get(), file.c_str(), IN_MODIFY | IN_CLOSE_WRITE);
  ASSERT_EQ(::inotify_rm_watch(in.get(), ::inotify_add_watch(in.get(), "/", IN_ATTRIB)), 0);
  const int wdir = ::inotify_add_watch(in.get(), d.path.c_str(), IN_CREATE | IN_EXCL_UNLINK);
  ASSERT_EQ(wf, 3);
  ASSERT_EQ(wdir, 5);
  char drain[4096];
  while (::read(in.get(), drain, sizeof drain) > 0) {
  }

  img::Fd out;
  ASSERT_TRUE(dump_inotify(probe(in.get()), self_ctx(), out));
  ASSERT_EQ(out.inotify().watches_size(), 2);
  EXPECT_EQ(out.inotify().watches(0).path(), file);
  EXPECT_FALSE(out.inotify().watches(0).dir());
  EXPECT_EQ(out.inotify().watches(1).path(), d.path);
  EXPECT_TRUE(out.inotify().watches(1).dir());
  out.set_flags(O_RDONLY);  // blocking after the restore

  auto again = open_inotify(out, OpenContext{});
  ASSERT_TRUE(again) << again.error().message;
  kinds::FdProbe now = probe(again->get());
  auto v = verify_inotify(now, out);
  EXPECT_TRUE(v) << v.error().message;
  EXPECT_EQ(::fcntl(again->get(), F_GETFL) & O_NONBLOCK, 0);
  // Only real events are there: a write to the file, reported with wd 3.
  UniqueFd w(::open(file.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  ASSERT_EQ(::write(w.get(), "x", 1), 1);
  alignas(inotify_event) char buf[4096];
  ASSERT_GT(::read(again->get(), buf, sizeof buf), 0);
  EXPECT_EQ(reinterpret_cast<inotify_event*>(buf)->wd, 3);
  EXPECT_TRUE(reinterpret_cast<inotify_event*>(buf)->mask & IN_MODIFY);

  // The verification sees a watch that differs.
  img::Fd other = out;
  other.mutable_inotify()->mutable_watches(1)->set_mask(IN_DELETE);
  EXPECT_FALSE(verify_inotify(now, other));
}

TEST(InotifyKind, UnreadEventsAreRefusedAndKept) {
  TempDir d;
  const std::string file = d.path + "/f";
  UniqueFd f(::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
  UniqueFd in(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  ASSERT_GE(::inotify_add_watch(in.get(), file.c_str(), IN_MODIFY), 1);
  ASSERT_EQ(::write(f.get(), "x", 1), 1);
  img::Fd out;
  auto st = dump_inotify(probe(in.get()), self_ctx(), out);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().exit, Exit::Unsupported);
  EXPECT_NE(st.error().message.find("inotify fd with 16 bytes of unread events"), std::string::npos)
      << st.error().message;
  char buf[4096];
  EXPECT_EQ(::read(in.get(), buf, sizeof buf), 16);  // still queued
}

TEST(InotifyKind, WatchOutsideTheRootIsRefused) {
  TempDir d, root;
  const std::string file = d.path + "/f";
  UniqueFd(::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
  UniqueFd in(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  ASSERT_GE(::inotify_add_watch(in.get(), file.c_str(), IN_MODIFY), 1);
  kinds::FdDumpContext ctx = self_ctx();
  ctx.root = root.path;  // a task chroot'ed there cannot reach d
  img::Fd out;
  auto st = dump_inotify(probe(in.get()), ctx, out);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().exit, Exit::Unsupported);
  EXPECT_NE(st.error().message.find("outside the container's root"), std::string::npos) << st.error().message;
}

TEST(InotifyKind, WatchOnADeletedFileIsRefused) {
  TempDir d;
  const std::string file = d.path + "/gone";
  UniqueFd keep(::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
  UniqueFd in(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  ASSERT_GE(::inotify_add_watch(in.get(), file.c_str(), IN_MODIFY), 1);
  ASSERT_EQ(::unlink(file.c_str()), 0);
  img::Fd out;
  auto st = dump_inotify(probe(in.get()), self_ctx(), out);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().exit, Exit::Unsupported);
  EXPECT_NE(st.error().message.find("deleted"), std::string::npos) << st.error().message;
}

}  // namespace
