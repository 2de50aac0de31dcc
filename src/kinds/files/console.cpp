// The container's console: the pty `amber run --tty` gives a container, a
// pair of the host's devpts whose master amber's shim holds (as the log is
// amber's), whose slave is the init's stdio and controlling terminal.
//
// Dump: find_console locates the master among the shim's fds and learns the
// slave's device without opening it (TIOCGPTPEER with O_PATH calls no tty
// open: the pair is left as it was); the container's fds on that device are
// Fd.console, and link_ptys (tty.cpp) reads the pair's state through the
// shim's master. Restore: make_console makes a new pair in amber's process
// (any index: it is not a pty of the container's devpts), puts the state
// back and hands the slave to the tasks (OpenContext.console_fd) and the
// master to the new shim, which serves `amber attach` as after a run.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/files.h"
#include "kinds/files/fd_kinds.h"
#include "sys/pidfd.h"

namespace amber::kinds {

Result<std::optional<ConsoleRef>> find_console(pid_t shim) {
  auto fds = sys::list_fds(shim);
  if (!fds) return std::optional<ConsoleRef>{};  // the shim is gone: no console to find
  for (int fd : *fds) {
    struct stat st {};
    if (::stat(fmt::format("/proc/{}/fd/{}", shim, fd).c_str(), &st) != 0) continue;
    if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(5, 2)) continue;
    UniqueFd pidfd = TRY_CTX(sys::pidfd_open(shim), "the container's console: its shim {}", shim);
    UniqueFd master = TRY_CTX(sys::pidfd_getfd(pidfd.get(), fd), "the container's console: the shim's master");
    int peer = ::ioctl(master.get(), TIOCGPTPEER, O_PATH | O_NOCTTY | O_CLOEXEC);
    if (peer < 0) return sys_fail("the container's console: its slave (TIOCGPTPEER)");
    UniqueFd slave(peer);
    struct stat sst {};
    if (::fstat(slave.get(), &sst) != 0) return sys_fail("the container's console: stat its slave");
    return std::optional<ConsoleRef>{ConsoleRef{shim, fd, sst.st_dev, sst.st_rdev}};
  }
  return std::optional<ConsoleRef>{};
}

Result<NewConsole> make_console(const img::Fd& original) {
  const img::Tty& state = original.tty();
  NewConsole c;
  c.master = TRY_CTX(open_fd("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC), "the container's console");
  int unlock = 0;
  if (::ioctl(c.master.get(), TIOCSPTLCK, &unlock) != 0) return sys_fail("the container's console: unlock");
  // TIOCGPTPEER keeps every flag it is given in f_flags (O_CLOEXEC too,
  // which fdinfo would then show on every fd of the description): the
  // description's own flags, close-on-exec set apart.
  const int flags = (static_cast<int>(original.flags()) & ~O_CLOEXEC) | O_NOCTTY;
  int s = ::ioctl(c.master.get(), TIOCGPTPEER, flags);
  if (s < 0) return sys_fail("the container's console: open its slave");
  c.slave = UniqueFd(s);
  if (::fcntl(s, F_SETFD, FD_CLOEXEC) != 0) return sys_fail("the container's console: close-on-exec");
  TRY_CTX(files::put_pair_state(c.master.get(), c.slave.get(), state), "the container's console");
  if (state.exclusive() && ::ioctl(c.slave.get(), TIOCEXCL) != 0)
    return sys_fail("the container's console: TIOCEXCL");
  return c;
}

}  // namespace amber::kinds
