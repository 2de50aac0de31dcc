// Pty pairs (kinds/files/tty.cpp): dump through our own copies, the queues
// put back, and the pair made again with the same index and state. Runs in
// a child of its own session (no controlling terminal, fds of its own).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "base/files.h"
#include "kinds/files/fd_kinds.h"

namespace amber::kinds {
namespace {

#define CHECK_OR(cond, code)                                  \
  do {                                                         \
    if (!(cond)) {                                             \
      std::fprintf(stderr, "check failed: %s\n", #cond);       \
      return code;                                             \
    }                                                          \
  } while (0)

std::string read_now(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 2000) != 1) return "<nothing>";
  char buf[256];
  ssize_t n = ::read(fd, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "<read failed>";
}

FdProbe probe(int fd) {
  FdProbe p;
  p.fd = fd;
  p.link = read_link(fmt::format("/proc/self/fd/{}", fd)).value();
  ::stat(fmt::format("/proc/self/fd/{}", fd).c_str(), &p.st);
  p.info = sys::read_fdinfo(::getpid(), fd).value();
  return p;
}

int round_trip() {
  CHECK_OR(::setsid() > 0, 10);
  int m = ::posix_openpt(O_RDWR | O_NOCTTY);
  CHECK_OR(m >= 0, 11);
  unsigned index = 0;
  CHECK_OR(::ioctl(m, TIOCGPTN, &index) == 0, 12);
  CHECK_OR(::unlockpt(m) == 0, 13);
  int s = ::open(::ptsname(m), O_RDWR | O_NOCTTY);
  CHECK_OR(s >= 0, 14);
  termios t{};
  CHECK_OR(::tcgetattr(s, &t) == 0, 15);
  ::cfmakeraw(&t);
  t.c_cc[VMIN] = 3;
  CHECK_OR(::tcsetattr(s, TCSANOW, &t) == 0, 16);
  winsize ws{24, 132, 0, 0};
  CHECK_OR(::ioctl(m, TIOCSWINSZ, &ws) == 0, 17);
  CHECK_OR(::write(m, "in!", 3) == 3 && ::write(s, "out", 3) == 3, 18);
  ::usleep(50000);

  std::vector<TaskFds> tasks(1);
  tasks[0].ctx.pid = ::getpid();
  tasks[0].ctx.vpid = 1;
  uint64_t ofd = 1;
  for (int fd : {m, s}) {
    FdProbe p = probe(fd);
    CHECK_OR(files::is_pty(p), 20);
    img::Fd* f = tasks[0].files.add_fds();
    f->set_fd(fd);
    f->set_flags(files::description_flags(p));
    f->set_ofd_id(ofd++);
    CHECK_OR(files::dump_pty(p, tasks[0].ctx, *f).has_value(), 21);
    tasks[0].probes.push_back(std::move(p));
  }
  auto linked = files::link_ptys(tasks);
  if (!linked) std::fprintf(stderr, "%s\n", linked.error().message.c_str());
  CHECK_OR(linked.has_value(), 22);
  const img::Fd master = tasks[0].files.fds(0), slave = tasks[0].files.fds(1);
  CHECK_OR(master.tty().master() && !slave.tty().master(), 23);
  CHECK_OR(master.tty().index() == index && slave.tty().index() == index, 24);
  CHECK_OR(master.tty().to_slave() == "in!" && master.tty().to_master() == "out", 25);
  CHECK_OR(master.tty().rows() == 24 && master.tty().cols() == 132, 26);
  // Put back: the live pair still has both queues.
  CHECK_OR(read_now(s) == "in!" && read_now(m) == "out", 27);
  CHECK_OR(::write(m, "in!", 3) == 3 && ::write(s, "out", 3) == 3, 28);
  ::close(m);
  ::close(s);

  auto made = files::create_pty({master, slave}, 1, 100);
  if (!made) std::fprintf(stderr, "%s\n", made.error().message.c_str());
  CHECK_OR(made.has_value() && made->size() == 2, 30);
  int nm = -1, ns = -1;
  for (auto& [id, fd] : *made) (id == master.ofd_id() ? nm : ns) = fd.get();
  unsigned now = 0;
  CHECK_OR(::ioctl(nm, TIOCGPTN, &now) == 0 && now == index, 31);
  termios t2{};
  CHECK_OR(::tcgetattr(ns, &t2) == 0 && t2.c_cc[VMIN] == 3 && t2.c_lflag == t.c_lflag, 32);
  winsize ws2{};
  CHECK_OR(::ioctl(ns, TIOCGWINSZ, &ws2) == 0 && ws2.ws_row == 24 && ws2.ws_col == 132, 33);
  CHECK_OR(read_now(ns) == "in!" && read_now(nm) == "out", 34);
  return 0;
}

TEST(Tty, PairDumpedPutBackAndMadeAgain) {
  if (::access("/dev/ptmx", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/ptmx";
  pid_t c = ::fork();
  ASSERT_GE(c, 0);
  if (c == 0) ::_exit(round_trip());
  int st = 0;
  ASSERT_EQ(::waitpid(c, &st, 0), c);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0) << "failed check (code) in the child";
}

// The console of a --tty container: this process plays the shim (holds the
// master) and the container (holds the slave): find_console finds the
// master, the slave fd is marked console, its pair state is read through
// the master and put back, and make_console makes a new pair (another
// index) with that state.
int console_round_trip() {
  CHECK_OR(::setsid() > 0, 10);
  int m = ::posix_openpt(O_RDWR | O_NOCTTY);
  CHECK_OR(m >= 0 && ::unlockpt(m) == 0, 11);
  int s = ::open(::ptsname(m), O_RDWR | O_NOCTTY);
  CHECK_OR(s >= 0, 12);
  termios t{};
  CHECK_OR(::tcgetattr(s, &t) == 0, 13);
  t.c_cc[VERASE] = 0x08;
  t.c_lflag &= ~static_cast<tcflag_t>(ECHO);  // the typed input stays out of the output
  CHECK_OR(::tcsetattr(s, TCSANOW, &t) == 0, 14);
  winsize ws{33, 77, 0, 0};
  CHECK_OR(::ioctl(m, TIOCSWINSZ, &ws) == 0, 15);
  CHECK_OR(::write(m, "typed", 5) == 5 && ::write(s, "shown", 5) == 5, 16);
  ::usleep(50000);

  auto found = find_console(::getpid());
  CHECK_OR(found.has_value() && found->has_value(), 20);
  const ConsoleRef console = **found;
  CHECK_OR(console.master_fd == m, 21);
  std::vector<TaskFds> tasks(1);
  tasks[0].ctx.pid = ::getpid();
  tasks[0].ctx.vpid = 1;
  tasks[0].ctx.console = &console;
  FdProbe p = probe(s);
  img::Fd* f = tasks[0].files.add_fds();
  f->set_fd(s);
  f->set_flags(files::description_flags(p));
  f->set_ofd_id(7);
  CHECK_OR(files::dump_pty(p, tasks[0].ctx, *f).has_value(), 22);
  CHECK_OR(f->console(), 23);
  tasks[0].probes.push_back(std::move(p));
  auto linked = files::link_ptys(tasks);
  if (!linked) std::fprintf(stderr, "%s\n", linked.error().message.c_str());
  CHECK_OR(linked.has_value(), 24);
  const img::Fd slave = tasks[0].files.fds(0);
  CHECK_OR(slave.tty().to_slave() == "typed" && slave.tty().to_master() == "shown", 25);
  CHECK_OR(slave.tty().rows() == 33 && slave.tty().cols() == 77, 26);
  // Put back: the live console still has both queues (a canonical line:
  // readable once ended).
  CHECK_OR(read_now(m) == "shown", 27);
  CHECK_OR(::write(m, "\n", 1) == 1 && read_now(s) == "typed\n", 28);

  auto made = make_console(slave);
  if (!made) std::fprintf(stderr, "%s\n", made.error().message.c_str());
  CHECK_OR(made.has_value(), 30);
  termios t2{};
  CHECK_OR(::tcgetattr(made->slave.get(), &t2) == 0 && t2.c_cc[VERASE] == 0x08 && t2.c_lflag == t.c_lflag, 31);
  winsize ws2{};
  CHECK_OR(::ioctl(made->slave.get(), TIOCGWINSZ, &ws2) == 0 && ws2.ws_row == 33 && ws2.ws_col == 77, 32);
  CHECK_OR(read_now(made->master.get()) == "shown", 33);
  // Canonical mode: the partial line is there once the line is ended.
  CHECK_OR(::write(made->master.get(), "\n", 1) == 1 && read_now(made->slave.get()) == "typed\n", 34);
  return 0;
}

TEST(Tty, ConsoleDumpedPutBackAndMadeAgain) {
  if (::access("/dev/ptmx", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/ptmx";
  pid_t c = ::fork();
  ASSERT_GE(c, 0);
  if (c == 0) ::_exit(console_round_trip());
  int st = 0;
  ASSERT_EQ(::waitpid(c, &st, 0), c);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0) << "failed check (code) in the child";
}

TEST(Tty, ProcStatHasTheForegroundGroup) {
  auto st = sys::parse_stat(
      "42 (sh) S 1 42 42 34816 57 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 17 0");
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->tty_nr, 34816);
  EXPECT_EQ(st->tpgid, 57);
}

}  // namespace
}  // namespace amber::kinds
