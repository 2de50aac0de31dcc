// Fd table kind: a child's fds (files, shared descriptions, devices, a pipe
// with unread data, the container's log) dumped from outside, re-created
// inside another child, compared through fdinfo, kcmp and the pipe's data.
#include "kinds/files/fdtable.h"
#include "kinds/files/shared.h"
#include "kinds/files/fd_kinds.h"
#include "kinds/files/unix_socket.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include <cstring>
#include <map>
#include <set>

#include "kinds_test_util.h"
#include "sys/pidfd.h"
#include "sys/procfs.h"

using namespace amber;
using amber::kinds_test::Forked;

namespace {

constexpr int kReadyFd = 100;
constexpr int kPipeSize = 128 * 1024;
constexpr std::string_view kPipeData = "hello pipe";

struct TempTree {
  std::string root;
  TempTree() {
    char tmpl[] = "/tmp/amber-fds-XXXXXX";
    root = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempTree() {
    if (!root.empty()) (void)remove_tree(root);
  }
  std::string path(const char* name) const { return root + "/" + name; }
};

// In the child: the ready fd at kReadyFd and nothing else open (a test
// runner's stdio may be anything: a tty, pipes to ctest).
int only_ready_fd(int& ready) {
  if (ready != kReadyFd) {
    if (::dup3(ready, kReadyFd, O_CLOEXEC) < 0) return 10;
    ready = kReadyFd;
  }
  if (::syscall(SYS_close_range, 0, kReadyFd - 1, 0) != 0) return 11;
  if (::syscall(SYS_close_range, kReadyFd + 1, ~0u, 0) != 0) return 12;
  return 0;
}

// open() at a fixed number.
bool open_at(int want, const std::string& path, int flags, mode_t mode = 0644) {
  int fd = ::open(path.c_str(), flags, mode);
  if (fd < 0) return false;
  if (fd == want) return true;
  bool ok = ::dup3(fd, want, flags & O_CLOEXEC) == want;
  ::close(fd);
  return ok;
}

bool dup_at(int from, int want, bool cloexec = false) {
  if (from == want) return ::fcntl(want, F_SETFD, cloexec ? FD_CLOEXEC : 0) == 0;
  return ::dup3(from, want, cloexec ? O_CLOEXEC : 0) == want;
}

// dup_at, then the original number closed.
bool move_to(int from, int want) {
  if (from < 0 || !dup_at(from, want)) return false;
  return from == want || ::close(from) == 0;
}

// The child closes its ready fd right after reporting: a dump must not race
// with that (a real dump holds the task still).
bool ready_fd_closed(pid_t pid) {
  return kinds_test::wait_until([&] { return !path_exists(fmt::format("/proc/{}/fd/{}", pid, kReadyFd)); });
}

// Child A's table. 11 is left free on purpose.
int build_table(const TempTree& t, int& ready) {
  if (int rc = only_ready_fd(ready)) return rc;
  if (!open_at(0, "/dev/null", O_RDONLY)) return 20;
  if (!open_at(1, t.path("old.log"), O_WRONLY | O_APPEND | O_CREAT, 0640) || !dup_at(1, 2)) return 21;
  if (!open_at(3, t.path("data"), O_RDWR) || ::lseek(3, 5, SEEK_SET) != 5 || !dup_at(3, 4)) return 22;
  if (!open_at(5, t.path("data"), O_RDONLY) || ::lseek(5, 2, SEEK_SET) != 2) return 23;
  if (!open_at(6, "/dev/urandom", O_RDONLY | O_CLOEXEC)) return 24;
  if (!open_at(7, t.path("dir"), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) return 25;
  int p[2];
  if (::pipe(p) != 0 || !dup_at(p[0], 8) || !dup_at(p[1], 9)) return 26;
  if (p[0] != 8 && p[0] != 9) ::close(p[0]);
  if (p[1] != 8 && p[1] != 9) ::close(p[1]);
  if (::fcntl(9, F_SETPIPE_SZ, kPipeSize) != kPipeSize) return 27;
  if (::fcntl(9, F_SETFL, O_NONBLOCK) != 0) return 28;
  if (::write(9, kPipeData.data(), kPipeData.size()) != static_cast<ssize_t>(kPipeData.size())) return 29;
  if (!open_at(10, "/dev/zero", O_RDWR)) return 30;
  if (!dup_at(8, 12)) return 31;
  return 0;
}

const img::Fd* find_fd(const img::Files& files, int n) {
  for (const auto& f : files.fds())
    if (f.fd() == n) return &f;
  return nullptr;
}

bool same_description(pid_t pid, int a, int b) {
  auto r = sys::kcmp(pid, pid, sys::KcmpType::File, static_cast<unsigned long>(a), static_cast<unsigned long>(b));
  return r && *r == 0;
}

struct stat stat_fd(pid_t pid, int fd) {
  struct stat st {};
  ::stat(fmt::format("/proc/{}/fd/{}", pid, fd).c_str(), &st);
  return st;
}

kinds::FdDumpContext dump_ctx(pid_t pid, const std::string& log_path = "") {
  kinds::FdDumpContext ctx;
  ctx.pid = pid;
  ctx.vpid = 1;
  ctx.root = read_link(fmt::format("/proc/{}/root", pid)).value_or("/");
  ctx.log_path = log_path;
  return ctx;
}

// Dumps a child whose setup adds one odd fd at 5 and expects a refusal.
void expect_refused(const std::function<bool()>& make_fd5, const std::vector<std::string>& words) {
  Forked a([&](int& ready) {
    if (int rc = only_ready_fd(ready)) return rc;
    return make_fd5() ? 0 : 40;
  });
  ASSERT_TRUE(a.ok()) << "setup exit status " << a.wait();
  ASSERT_TRUE(ready_fd_closed(a.pid()));
  auto files = kinds::dump_fds(dump_ctx(a.pid()));
  ASSERT_FALSE(files) << "dumped an fd that is not supported";
  EXPECT_EQ(files.error().exit, Exit::Unsupported);
  EXPECT_EQ(files.error().exit_code(), 4);
  for (const auto& w : words) EXPECT_NE(files.error().message.find(w), std::string::npos) << files.error().message;
}

}  // namespace

TEST(FilesKind, TableRestoredInAnotherChild) {
  TempTree t;
  ASSERT_FALSE(t.root.empty());
  ASSERT_TRUE(write_new_file(t.path("data"), "0123456789"));
  ASSERT_EQ(::mkdir(t.path("dir").c_str(), 0755), 0);

  Forked a([&](int& ready) { return build_table(t, ready); });
  ASSERT_TRUE(a.ok()) << "setup exit status " << a.wait();
  ASSERT_TRUE(ready_fd_closed(a.pid()));
  auto dumped = kinds::dump_fds(dump_ctx(a.pid(), t.path("old.log")));
  ASSERT_TRUE(dumped) << dumped.error().message;
  const img::Files& image = *dumped;

  // The image as expected.
  std::vector<int> numbers;
  for (const auto& f : image.fds()) numbers.push_back(f.fd());
  EXPECT_EQ(numbers, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12}));
  const img::Fd* fd1 = find_fd(image, 1);
  ASSERT_TRUE(fd1);
  EXPECT_TRUE(fd1->container_log());
  EXPECT_EQ(find_fd(image, 3)->kind(), img::FD_REGULAR);
  EXPECT_EQ(find_fd(image, 3)->path(), t.path("data"));
  EXPECT_EQ(find_fd(image, 3)->pos(), 5);
  EXPECT_EQ(find_fd(image, 3)->flags() & O_ACCMODE, static_cast<uint32_t>(O_RDWR));
  EXPECT_EQ(find_fd(image, 5)->pos(), 2);
  EXPECT_EQ(find_fd(image, 3)->ofd_id(), find_fd(image, 4)->ofd_id());
  EXPECT_NE(find_fd(image, 3)->ofd_id(), find_fd(image, 5)->ofd_id()) << "same file and inode, other description";
  EXPECT_EQ(find_fd(image, 1)->ofd_id(), find_fd(image, 2)->ofd_id());
  EXPECT_EQ(find_fd(image, 8)->ofd_id(), find_fd(image, 12)->ofd_id());
  EXPECT_NE(find_fd(image, 8)->ofd_id(), find_fd(image, 9)->ofd_id());
  EXPECT_TRUE(find_fd(image, 6)->cloexec());
  EXPECT_FALSE(find_fd(image, 6)->flags() & O_CLOEXEC) << "close-on-exec is per fd, not in the flags";
  EXPECT_FALSE(find_fd(image, 3)->cloexec());
  EXPECT_EQ(find_fd(image, 0)->kind(), img::FD_CHARDEV);
  EXPECT_EQ(find_fd(image, 0)->rdev(), makedev(1, 3));
  EXPECT_EQ(find_fd(image, 7)->kind(), img::FD_DIRECTORY);
  EXPECT_EQ(find_fd(image, 8)->kind(), img::FD_PIPE);
  EXPECT_FALSE(find_fd(image, 8)->pipe().write_end());
  EXPECT_TRUE(find_fd(image, 9)->pipe().write_end());
  EXPECT_TRUE(find_fd(image, 9)->flags() & O_NONBLOCK);
  ASSERT_EQ(image.pipes_size(), 1);
  EXPECT_EQ(image.pipes(0).id(), find_fd(image, 8)->pipe().pipe_id());
  EXPECT_EQ(image.pipes(0).size(), static_cast<uint32_t>(kPipeSize));
  EXPECT_EQ(image.pipes(0).data(), kPipeData);

  // The dump peeked the pipe: A's data is still there.
  auto pidfd_a = sys::pidfd_open(a.pid());
  ASSERT_TRUE(pidfd_a);
  auto a_read = sys::pidfd_getfd(pidfd_a->get(), 8);
  ASSERT_TRUE(a_read);
  int queued = 0;
  ASSERT_EQ(::ioctl(a_read->get(), FIONREAD, &queued), 0);
  EXPECT_EQ(queued, static_cast<int>(kPipeData.size()));

  // B: stray fds (some at the image's numbers), its ready fd at 5 and the new
  // log at 8, both in the image's way.
  const std::string err_file = t.path("restore.err");
  Forked b([&](int& ready) {
    if (ready != 5) {
      if (!dup_at(ready, 5, true)) return 50;
      ::close(ready);
      ready = 5;
    }
    if (!open_at(11, "/dev/null", O_RDONLY) || !open_at(20, "/dev/null", O_RDONLY)) return 51;
    if (!open_at(8, t.path("new.log"), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) return 52;
    kinds::FdRestoreContext ctx;
    ctx.vpid = 1;
    ctx.log_fd = 8;
    return kinds_test::restore_fds_keeping(image, ctx, ready, err_file);
  });
  ASSERT_TRUE(b.ok()) << read_file(err_file).value_or("");
  const pid_t pb = b.pid();
  ASSERT_TRUE(kinds_test::wait_until([&] {
    auto fds = sys::list_fds(pb);
    return fds && fds->size() == numbers.size();
  })) << "B closes its (moved) ready fd after reporting";

  auto listed = sys::list_fds(pb);
  ASSERT_TRUE(listed);
  EXPECT_EQ(*listed, numbers) << "strays and the log's old number closed, ready fd closed after use";
  for (const auto& f : image.fds()) {
    auto info = sys::read_fdinfo(pb, f.fd());
    ASSERT_TRUE(info) << f.fd();
    EXPECT_EQ(info->flags, f.flags() | (f.cloexec() ? O_CLOEXEC : 0)) << "fd " << f.fd();
    if (f.kind() == img::FD_REGULAR && !f.container_log()) {
      EXPECT_EQ(info->pos, static_cast<uint64_t>(f.pos())) << "fd " << f.fd();
    }
  }
  EXPECT_TRUE(same_description(pb, 3, 4));
  EXPECT_FALSE(same_description(pb, 3, 5));
  EXPECT_TRUE(same_description(pb, 1, 2));
  EXPECT_TRUE(same_description(pb, 8, 12));
  EXPECT_FALSE(same_description(pb, 8, 9));

  struct stat new_log {};
  ASSERT_EQ(::stat(t.path("new.log").c_str(), &new_log), 0);
  EXPECT_EQ(stat_fd(pb, 1).st_ino, new_log.st_ino) << "stdout is the new container's log";
  EXPECT_EQ(stat_fd(pb, 0).st_rdev, makedev(1, 3));
  EXPECT_EQ(stat_fd(pb, 6).st_rdev, makedev(1, 9));
  EXPECT_EQ(stat_fd(pb, 10).st_rdev, makedev(1, 5));
  EXPECT_EQ(read_link(fmt::format("/proc/{}/fd/7", pb)).value_or(""), t.path("dir"));
  EXPECT_EQ(read_link(fmt::format("/proc/{}/fd/3", pb)).value_or(""), t.path("data"));

  auto pidfd_b = sys::pidfd_open(pb);
  ASSERT_TRUE(pidfd_b);
  auto b_read = sys::pidfd_getfd(pidfd_b->get(), 8);
  ASSERT_TRUE(b_read);
  EXPECT_EQ(::fcntl(b_read->get(), F_GETPIPE_SZ), kPipeSize);
  ASSERT_EQ(::ioctl(b_read->get(), FIONREAD, &queued), 0);
  ASSERT_EQ(queued, static_cast<int>(kPipeData.size()));
  std::string got(kPipeData.size(), '\0');
  ASSERT_EQ(::read(b_read->get(), got.data(), got.size()), static_cast<ssize_t>(got.size()));
  EXPECT_EQ(got, kPipeData);
  // Its own write end (B's fd 9) reaches the same pipe.
  auto b_write = sys::pidfd_getfd(pidfd_b->get(), 9);
  ASSERT_TRUE(b_write);
  ASSERT_EQ(::write(b_write->get(), "x", 1), 1);
  char c = 0;
  ASSERT_EQ(::read(b_read->get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
}

TEST(FilesKind, SeparateDescriptionsOfTheLogAndOfAPipeEndStaySeparate) {
  TempTree t;
  ASSERT_FALSE(t.root.empty());
  // stdout and stderr opened apart (two descriptions of the log); a pipe's
  // read end re-opened through /proc (two descriptions of one end).
  Forked a([&](int& ready) {
    if (int rc = only_ready_fd(ready)) return rc;
    if (!open_at(1, t.path("old.log"), O_WRONLY | O_APPEND | O_CREAT, 0640)) return 20;
    if (!open_at(2, t.path("old.log"), O_WRONLY | O_APPEND)) return 21;
    int p[2];
    if (::pipe(p) != 0) return 22;
    // Out of the way first: pipe() may have returned 0 and 3.
    const int r = ::fcntl(p[0], F_DUPFD, 60), w = ::fcntl(p[1], F_DUPFD, 60);
    ::close(p[0]);
    ::close(p[1]);
    if (!move_to(r, 3) || !move_to(w, 4)) return 22;
    if (!open_at(5, "/proc/self/fd/3", O_RDONLY | O_NONBLOCK)) return 23;
    return ::write(4, "ab", 2) == 2 ? 0 : 24;
  });
  ASSERT_TRUE(a.ok()) << "setup exit status " << a.wait();
  ASSERT_TRUE(ready_fd_closed(a.pid()));
  auto dumped = kinds::dump_fds(dump_ctx(a.pid(), t.path("old.log")));
  ASSERT_TRUE(dumped) << dumped.error().message;
  const img::Files image = *dumped;
  EXPECT_NE(find_fd(image, 1)->ofd_id(), find_fd(image, 2)->ofd_id());
  EXPECT_TRUE(find_fd(image, 2)->container_log());
  EXPECT_NE(find_fd(image, 3)->ofd_id(), find_fd(image, 5)->ofd_id());
  EXPECT_EQ(find_fd(image, 5)->pipe().pipe_id(), find_fd(image, 3)->pipe().pipe_id());
  ASSERT_EQ(image.pipes_size(), 1);
  EXPECT_EQ(image.pipes(0).data(), "ab");

  const std::string err_file = t.path("restore.err");
  Forked b([&](int& ready) {
    if (!open_at(50, t.path("new.log"), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) return 50;
    kinds::FdRestoreContext ctx;
    ctx.vpid = 1;
    ctx.log_fd = 50;
    return kinds_test::restore_fds_keeping(image, ctx, ready, err_file);
  });
  ASSERT_TRUE(b.ok()) << read_file(err_file).value_or("");
  const pid_t pb = b.pid();
  EXPECT_FALSE(same_description(pb, 1, 2));
  EXPECT_FALSE(same_description(pb, 3, 5));
  struct stat new_log {};
  ASSERT_EQ(::stat(t.path("new.log").c_str(), &new_log), 0);
  EXPECT_EQ(stat_fd(pb, 1).st_ino, new_log.st_ino);
  EXPECT_EQ(stat_fd(pb, 2).st_ino, new_log.st_ino);
  EXPECT_EQ(stat_fd(pb, 5).st_ino, stat_fd(pb, 3).st_ino) << "one pipe";
  for (int fd : {1, 2, 3, 5}) {
    auto info = sys::read_fdinfo(pb, fd);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->flags, find_fd(image, fd)->flags()) << "fd " << fd;
  }
  // Data written back once, readable through either description.
  auto pidfd_b = sys::pidfd_open(pb);
  ASSERT_TRUE(pidfd_b);
  auto via5 = sys::pidfd_getfd(pidfd_b->get(), 5);
  ASSERT_TRUE(via5);
  char buf[8] = {};
  EXPECT_EQ(::read(via5->get(), buf, sizeof buf), 2);
  EXPECT_STREQ(buf, "ab");
}

// Files in flight (SCM_RIGHTS) in a unix socket's queue: described, or
// refused by name, never dropped.
bool send_fd(int sock, int fd) {
  char byte = 'x';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  return ::sendmsg(sock, &m, 0) == 1;
}

TEST(FilesKind, UnixSocketWithUnsupportedFdInFlightIsRefusedByName) {
  expect_refused(
      [] {
        int sv[2];
        const int uffd = static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC));
        return ::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 && uffd >= 0 && send_fd(sv[1], uffd) &&
               ::close(uffd) == 0 && move_to(sv[0], 5) && move_to(sv[1], 6);
      },
      {"task 1: fd 5: socket:[", "unix stream socket", "anon_inode:[userfaultfd]",
       "in flight (SCM_RIGHTS): not supported yet"});
}

// A file the task holds too is that description (its holder named); a pipe
// no task holds an end of comes with its data; the queue is left as it was.
TEST(FilesKind, UnixSocketFilesInFlightDescribed) {
  TempTree t;
  ASSERT_FALSE(t.root.empty());
  const std::string path = t.path("held");
  Forked a([&](int& ready) {
    if (int rc = only_ready_fd(ready)) return rc;
    int sv[2], p[2];
    if (::socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) || ::pipe(p) || ::write(p[1], "pipe", 4) != 4) return 41;
    const int f = ::open(path.c_str(), O_RDWR | O_CREAT, 0600);
    if (f < 0 || !send_fd(sv[1], f) || !send_fd(sv[1], p[0])) return 42;
    ::close(p[0]);
    ::close(p[1]);
    return move_to(sv[0], 5) && move_to(sv[1], 6) && move_to(f, 7) ? 0 : 43;
  });
  ASSERT_TRUE(a.ok()) << "setup exit status " << a.wait();
  ASSERT_TRUE(ready_fd_closed(a.pid()));
  auto files = kinds::dump_fds(dump_ctx(a.pid()));
  ASSERT_TRUE(files) << files.error().message;
  const img::UnixSocket& s5 = find_fd(*files, 5)->unix_socket();
  ASSERT_EQ(s5.queue_size(), 2);
  ASSERT_EQ(s5.queue(0).fds_size(), 1);
  const img::InFlightFd& file = s5.queue(0).fds(0);
  EXPECT_EQ(file.file().kind(), img::FD_REGULAR);
  EXPECT_EQ(file.holder_vpid(), 1);
  EXPECT_EQ(file.holder_fd(), 7);
  EXPECT_EQ(file.file().ofd_id(), find_fd(*files, 7)->ofd_id());
  ASSERT_EQ(s5.queue(1).fds_size(), 1);
  const img::InFlightFd& pipe = s5.queue(1).fds(0);
  EXPECT_EQ(pipe.file().kind(), img::FD_PIPE);
  EXPECT_EQ(pipe.holder_vpid(), 0);
  EXPECT_EQ(pipe.pipe().data(), "pipe");
  EXPECT_NE(pipe.file().ofd_id() >> 63, 0u) << "an id of its own";
  auto info = sys::read_fdinfo(a.pid(), 5);
  ASSERT_TRUE(info);
  bool two = false;
  for (const auto& [k, v] : info->fields) two |= k == "scm_fds" && v == "2";
  EXPECT_TRUE(two) << "both still in flight";
}

// A stream and a datagram socketpair with data queued: dumped with their
// queues (boundaries kept), and nothing consumed.
TEST(FilesKind, UnixSocketQueuesPeekedNotConsumed) {
  Forked a([&](int& ready) {
    if (int rc = only_ready_fd(ready)) return rc;
    int st[2], dg[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, st) || ::socketpair(AF_UNIX, SOCK_DGRAM, 0, dg)) return 41;
    if (::write(st[0], "abc", 3) != 3 || ::write(st[0], "de", 2) != 2 || ::write(dg[0], "one", 3) != 3 ||
        ::write(dg[0], "four", 4) != 4)
      return 42;
    return move_to(st[0], 5) && move_to(st[1], 6) && move_to(dg[0], 7) && move_to(dg[1], 8) ? 0 : 43;
  });
  ASSERT_TRUE(a.ok()) << "setup exit status " << a.wait();
  ASSERT_TRUE(ready_fd_closed(a.pid()));
  auto files = kinds::dump_fds(dump_ctx(a.pid()));
  ASSERT_TRUE(files) << files.error().message;
  std::map<int, const img::Fd*> by_fd;
  for (const img::Fd& f : files->fds()) by_fd[f.fd()] = &f;
  ASSERT_EQ(by_fd.at(6)->kind(), img::FD_UNIX_SOCKET);
  const img::UnixSocket& s6 = by_fd.at(6)->unix_socket();
  ASSERT_EQ(s6.queue_size(), 1);
  EXPECT_EQ(s6.queue(0).data(), "abcde");
  EXPECT_EQ(s6.peer(), by_fd.at(5)->unix_socket().inode());
  EXPECT_EQ(s6.unit(), by_fd.at(5)->unix_socket().unit());
  EXPECT_EQ(s6.peek_off(), -1);
  const img::UnixSocket& d8 = by_fd.at(8)->unix_socket();
  ASSERT_EQ(d8.queue_size(), 2);
  EXPECT_EQ(d8.queue(0).data(), "one");
  EXPECT_EQ(d8.queue(1).data(), "four");
  EXPECT_EQ(d8.type(), static_cast<uint32_t>(SOCK_DGRAM));
  // Still there: read through copies of the task's fds.
  auto pidfd = sys::pidfd_open(a.pid());
  ASSERT_TRUE(pidfd);
  auto c6 = sys::pidfd_getfd(pidfd->get(), 6);
  auto c8 = sys::pidfd_getfd(pidfd->get(), 8);
  ASSERT_TRUE(c6 && c8);
  char buf[16] = {};
  EXPECT_EQ(::recv(c6->get(), buf, sizeof buf, MSG_DONTWAIT), 5);
  EXPECT_EQ(::recv(c8->get(), buf, sizeof buf, MSG_DONTWAIT), 3);
  EXPECT_EQ(::recv(c8->get(), buf, sizeof buf, MSG_DONTWAIT), 4);
}

TEST(FilesKind, AnonInodeIsRefusedByName) {
  expect_refused([] { return move_to(static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC)), 5); },
                 {"task 1: fd 5: anon_inode:[userfaultfd] (userfaultfd)"});
}

// fanotify is not supported (issue 13): refused by name, never dumped.
TEST(FilesKind, FanotifyIsRefusedByName) {
  expect_refused([] { return move_to(static_cast<int>(::syscall(SYS_fanotify_init, 0, O_RDONLY)), 5); },
                 {"task 1: fd 5: anon_inode:[fanotify] (fanotify): not supported yet"});
}

// An unlinked file (no name left) is dumped with its content (unlinked.cpp);
// a deleted name of a file still linked elsewhere is not, yet.
TEST(FilesKind, DeletedNameOfALinkedFileIsRefused) {
  TempTree t;
  ASSERT_FALSE(t.root.empty());
  const std::string path = t.path("gone"), other = t.path("other");
  expect_refused(
      [&] {
        return open_at(5, path, O_RDWR | O_CREAT) && ::link(path.c_str(), other.c_str()) == 0 &&
               ::unlink(path.c_str()) == 0;
      },
      {"task 1: fd 5", "deleted file"});
}

// A pipe end closed by every task (the seal check rules out an outside
// holder): the pipe is dumped with its data, marked with its closed end.
TEST(FilesKind, PipesWithAnEndClosedEverywhereAreDumpedWithTheirData) {
  Forked a([&](int& ready) {
    if (int rc = only_ready_fd(ready)) return rc;
    int p[2], q[2];
    if (::pipe(p) != 0 || ::write(p[1], "left", 4) != 4 || !move_to(p[0], 5) || ::close(p[1]) != 0) return 40;
    if (::pipe(q) != 0 || ::write(q[1], "unread", 6) != 6 || !move_to(q[1], 6) || ::close(q[0]) != 0) return 41;
    return 0;
  });
  ASSERT_TRUE(a.ok()) << "setup exit status " << a.wait();
  ASSERT_TRUE(ready_fd_closed(a.pid()));
  auto files = kinds::dump_fds(dump_ctx(a.pid()));
  ASSERT_TRUE(files) << files.error().message;
  ASSERT_EQ(files->pipes_size(), 2);
  std::map<uint64_t, const img::Pipe*> by_id;
  for (const auto& p : files->pipes()) by_id[p.id()] = &p;
  const img::Fd* r = find_fd(*files, 5);
  const img::Fd* w = find_fd(*files, 6);
  ASSERT_TRUE(r && w);
  const img::Pipe& no_writer = *by_id.at(r->pipe().pipe_id());
  const img::Pipe& no_reader = *by_id.at(w->pipe().pipe_id());
  EXPECT_TRUE(no_writer.no_writer());
  EXPECT_FALSE(no_writer.no_reader());
  EXPECT_EQ(no_writer.data(), "left");
  EXPECT_TRUE(no_reader.no_reader());
  EXPECT_FALSE(no_reader.no_writer());
  EXPECT_EQ(no_reader.data(), "unread");
  // Nothing consumed: the task still has its data.
  auto pidfd = sys::pidfd_open(a.pid());
  ASSERT_TRUE(pidfd);
  for (int fd : {5, 6}) {
    auto copy = sys::pidfd_getfd(pidfd->get(), fd);
    ASSERT_TRUE(copy);
    int queued = -1;
    ASSERT_EQ(::ioctl(copy->get(), FIONREAD, &queued), 0);
    EXPECT_EQ(queued, fd == 5 ? 4 : 6) << "fd " << fd;
  }
}

TEST(FilesKind, RestoreRefusesAnUnknownKindBeforeClosingAnything) {
  img::Files files;
  auto* f = files.add_fds();
  f->set_fd(3);
  f->set_kind(img::FD_FANOTIFY);
  const int keep_me = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(keep_me, 0);
  kinds::FdRestoreContext ctx;
  auto st = kinds::open_fds_in_child(files, ctx);  // in this process: must fail before touching anything
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().exit, Exit::Unsupported);
  EXPECT_NE(st.error().message.find("fd 3"), std::string::npos) << st.error().message;
  EXPECT_EQ(::fcntl(keep_me, F_GETFD), FD_CLOEXEC);
  ::close(keep_me);
}

// O_PATH fds of a symbolic link (O_NOFOLLOW) and of a FIFO, and an fd of the
// task's own net namespace: recorded as what they are (not a FIFO end, not
// a path to follow), reopened in another child and verified there.
TEST(FilesKind, OpathAndOwnNamespaceFdsRoundTrip) {
  TempTree t;
  ASSERT_FALSE(t.root.empty());
  const std::string link = t.path("link"), fifo = t.path("fifo");
  ASSERT_EQ(::symlink("/nonexistent-target", link.c_str()), 0);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto make = [&](int& ready) {
    if (int rc = only_ready_fd(ready)) return rc;
    if (!open_at(5, link, O_PATH | O_NOFOLLOW)) return 40;
    if (!open_at(6, fifo, O_PATH)) return 41;
    if (!open_at(7, "/proc/self/ns/net", O_RDONLY)) return 42;
    return 0;
  };
  Forked a(make);
  ASSERT_TRUE(a.ok()) << "setup exit status " << a.wait();
  ASSERT_TRUE(ready_fd_closed(a.pid()));
  auto files = kinds::dump_fds(dump_ctx(a.pid()));
  ASSERT_TRUE(files) << files.error().message;
  const img::Fd* l = find_fd(*files, 5);
  const img::Fd* f = find_fd(*files, 6);
  const img::Fd* n = find_fd(*files, 7);
  ASSERT_TRUE(l && f && n);
  EXPECT_EQ(l->kind(), img::FD_OPATH);
  EXPECT_EQ(l->file_type(), static_cast<uint32_t>(S_IFLNK));
  EXPECT_EQ(f->kind(), img::FD_OPATH);
  EXPECT_EQ(f->file_type(), static_cast<uint32_t>(S_IFIFO));
  EXPECT_EQ(n->kind(), img::FD_NSFS);
  EXPECT_EQ(n->path(), "/proc/self/ns/net");
  EXPECT_EQ(files->pipes_size(), 0);

  // Restored in another child (same namespaces), then verified from outside.
  const img::Files image = *files;
  Forked b([&](int& ready) {
    if (int rc = only_ready_fd(ready)) return rc;
    return kinds_test::restore_fds_keeping(image, {}, ready);
  });
  ASSERT_TRUE(b.ok()) << "restore exit status " << b.wait();
  ASSERT_TRUE(ready_fd_closed(b.pid()));
  auto v = kinds::verify_fds(b.pid(), 1, image);
  EXPECT_TRUE(v) << v.error().message;
  EXPECT_EQ(read_link(fmt::format("/proc/{}/fd/5", b.pid())).value_or(""), link);
  EXPECT_EQ(read_link(fmt::format("/proc/{}/fd/7", b.pid())).value_or("a"),
            read_link(fmt::format("/proc/{}/ns/net", b.pid())).value_or("b"));
}

// A restore checks each pipe's ends against its entry before anything is
// made: a pipe marked without a writer must have no write end in the image,
// and a pipe missing an end must say so.
// The console (Fd.console) is one description like any other, shared by
// fork: no pty pair to make; the first description gets the new console's
// slave itself. A /dev/tty description shared by two tasks is made once its
// creator has its controlling terminal.
TEST(FilesKind, ConsoleIsADescriptionNotAPair) {
  img::Files init, child;
  auto add = [](img::Files& f, int fd, uint64_t ofd, bool console, bool dev_tty) {
    img::Fd* x = f.add_fds();
    x->set_fd(fd);
    x->set_kind(img::FD_TTY);
    x->set_ofd_id(ofd);
    x->set_console(console);
    x->mutable_tty()->set_index(3);
    x->mutable_tty()->set_dev_tty(dev_tty);
  };
  add(init, 0, (1ull << 32) | 1, true, false);
  add(init, 1, (1ull << 32) | 1, true, false);
  add(init, 10, (1ull << 32) | 11, false, true);
  add(child, 0, (1ull << 32) | 1, true, false);
  add(child, 5, (2ull << 32) | 6, true, false);  // a second open of the console
  add(child, 10, (1ull << 32) | 11, false, true);
  auto plan = kinds::plan_shared_fds({{1, {&init, "/"}}, {2, {&child, "/"}}},
                                     [](const std::vector<pid_t>&) { return 1; });
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->console_original, (1ull << 32) | 1);
  ASSERT_EQ(plan->by_creator.at(1).size(), 2u);
  for (const auto& u : plan->by_creator.at(1)) {
    EXPECT_FALSE(u.pty);
    ASSERT_EQ(u.fds.size(), 1u);
    EXPECT_EQ(u.after_ctty, u.fds.front().tty().dev_tty());
  }
}

// A unix unit made by task 1 (the socket's holder) whose queue has in
// flight a pipe end task 2 holds the other end of, and a file task 3 holds:
// the pipe and the file are made with the unit, by the common creator of
// every holder, not on their own.
TEST(FilesKind, PlanMakesFilesInFlightWithTheirUnit) {
  img::Files t1, t2, t3;
  img::Fd* sock = t1.add_fds();
  sock->set_fd(3);
  sock->set_kind(img::FD_UNIX_SOCKET);
  sock->set_ofd_id((1ull << 32) | 4);
  sock->mutable_unix_socket()->set_inode(500);
  sock->mutable_unix_socket()->set_unit(500);
  img::UnixMessage* m = sock->mutable_unix_socket()->add_queue();
  img::InFlightFd* read_end = m->add_fds();
  read_end->mutable_file()->set_kind(img::FD_PIPE);
  read_end->mutable_file()->set_ofd_id((1ull << 63) | 1);
  read_end->mutable_file()->mutable_pipe()->set_pipe_id(77);
  img::InFlightFd* file = m->add_fds();
  file->mutable_file()->set_kind(img::FD_REGULAR);
  file->mutable_file()->set_ofd_id((3ull << 32) | 6);
  file->set_holder_vpid(3);
  file->set_holder_fd(5);
  img::Fd* w = t2.add_fds();
  w->set_fd(4);
  w->set_kind(img::FD_PIPE);
  w->set_ofd_id((2ull << 32) | 5);
  w->mutable_pipe()->set_pipe_id(77);
  w->mutable_pipe()->set_write_end(true);
  img::Pipe* p = t2.add_pipes();
  p->set_id(77);
  p->set_no_reader(true);
  img::Fd* f = t3.add_fds();
  f->set_fd(5);
  f->set_kind(img::FD_REGULAR);
  f->set_path("/tmp/x");
  f->set_ofd_id((3ull << 32) | 6);
  std::vector<pid_t> asked;
  auto plan = kinds::plan_shared_fds({{1, {&t1, "/"}}, {2, {&t2, "/"}}, {3, {&t3, "/"}}},
                                     [&](const std::vector<pid_t>& v) {
                                       asked = v;
                                       return 9;
                                     });
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(asked, (std::vector<pid_t>{1, 2, 3})) << "the unit's creator is that of every holder";
  ASSERT_EQ(plan->by_creator.size(), 1u);
  const auto& units = plan->by_creator.at(9);
  ASSERT_EQ(units.size(), 1u) << "no unit of its own for the pipe or the file";
  EXPECT_TRUE(units[0].unix_sockets);
  EXPECT_EQ(units[0].in_flight_pipes, (std::vector<uint64_t>{77}));
  std::set<img::FdKind> kinds_made;
  for (const img::Fd& fd : units[0].fds) kinds_made.insert(fd.kind());
  EXPECT_EQ(kinds_made, (std::set<img::FdKind>{img::FD_UNIX_SOCKET, img::FD_PIPE, img::FD_REGULAR}));
}

TEST(FilesKind, PipeEndsMustMatchTheirEntry) {
  auto plan_of = [](bool no_writer, bool with_write_end) {
    img::Files files;
    img::Fd* r = files.add_fds();
    r->set_fd(3);
    r->set_kind(img::FD_PIPE);
    r->set_ofd_id(4);
    r->mutable_pipe()->set_pipe_id(77);
    if (with_write_end) {
      img::Fd* w = files.add_fds();
      w->set_fd(4);
      w->set_kind(img::FD_PIPE);
      w->set_ofd_id(5);
      w->mutable_pipe()->set_pipe_id(77);
      w->mutable_pipe()->set_write_end(true);
    }
    img::Pipe* p = files.add_pipes();
    p->set_id(77);
    p->set_no_writer(no_writer);
    auto plan = kinds::plan_shared_fds({{1, {&files, "/"}}}, [](const std::vector<pid_t>& v) { return v.front(); });
    return plan ? Status{} : Status(std::unexpected(plan.error()));
  };
  EXPECT_TRUE(plan_of(false, true));
  EXPECT_TRUE(plan_of(true, false));
  auto lying = plan_of(true, true);
  ASSERT_FALSE(lying);
  EXPECT_EQ(lying.error().exit, Exit::BadInput);
  EXPECT_NE(lying.error().message.find("pipe:[77]"), std::string::npos) << lying.error().message;
  auto unmarked = plan_of(false, false);
  ASSERT_FALSE(unmarked);
  EXPECT_EQ(unmarked.error().exit, Exit::BadInput);
}

// A socketpair whose one end is O_NONBLOCK (nginx's channel between master
// and worker): each description is made again with its own status flags.
TEST(FilesKind, UnixSocketpairKeepsEachEndsStatusFlags) {
  Forked a([&](int& ready) {
    if (int rc = only_ready_fd(ready)) return rc;
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || ::fcntl(sv[0], F_SETFL, O_NONBLOCK) != 0) return 41;
    return move_to(sv[0], 5) && move_to(sv[1], 6) ? 0 : 43;
  });
  ASSERT_TRUE(a.ok()) << "setup exit status " << a.wait();
  ASSERT_TRUE(ready_fd_closed(a.pid()));
  auto files = kinds::dump_fds(dump_ctx(a.pid()));
  ASSERT_TRUE(files) << files.error().message;
  std::vector<img::Fd> unit(files->fds().begin(), files->fds().end());
  ASSERT_EQ(unit.size(), 2u);
  auto made = kinds::files::create_unix_unit(unit, {}, kinds::files::OpenContext{}, 1, 100);
  ASSERT_TRUE(made) << made.error().message;
  std::map<uint64_t, int> fd_of;
  for (const auto& [ofd, fd] : *made) fd_of[ofd] = fd.get();
  for (const img::Fd& f : unit) {
    const int fl = ::fcntl(fd_of.at(f.ofd_id()), F_GETFL);
    EXPECT_EQ(fl & O_NONBLOCK, f.fd() == 5 ? O_NONBLOCK : 0) << "fd " << f.fd();
    EXPECT_EQ(static_cast<uint32_t>(fl) & ~static_cast<uint32_t>(O_LARGEFILE), f.flags() & ~static_cast<uint32_t>(O_LARGEFILE))
        << "fd " << f.fd();
  }
}
