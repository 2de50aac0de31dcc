#include "container/shim.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>

#include "base/files.h"
#include "base/unique_fd.h"
#include "container/report.h"
#include "sys/clone.h"
#include "sys/fd_pass.h"

namespace amber::container {

namespace {

// stdin, stdout and stderr on /dev/null: the shim outlives the terminal and
// the pipes of whoever ran `amber run` (a `$(amber run ...)` must not hang).
void stdio_to_dev_null() {
  int fd = ::open("/dev/null", O_RDWR);
  if (fd < 0) return;
  for (int i = 0; i < 3; i++) ::dup2(fd, i);
  if (fd > 2) ::close(fd);
}

// Closes every fd above 2 that is not in `keep`.
void close_other_fds(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned from = 3;
  for (int k : keep) {
    if (k < static_cast<int>(from)) continue;
    if (static_cast<unsigned>(k) > from) ::close_range(from, static_cast<unsigned>(k) - 1, 0);
    from = static_cast<unsigned>(k) + 1;
  }
  ::close_range(from, ~0U, 0);
}

// Hands `fd` to the peer of `sock` (SCM_RIGHTS, one byte of data).
void send_fd(int sock, int fd) {
  char byte = 't';
  (void)sys::send_with_fd(sock, &byte, 1, fd);
}

// `amber run --tty`: until the init ends, every client of the attach socket
// gets the terminal's master (`amber attach` does the relaying itself; the
// shim stays a process that only waits). Root-only socket (0600).
void serve_console(int console, const std::string& path, pid_t init) {
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, init, 0)));
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (!pidfd || !listener || path.size() >= sizeof addr.sun_path) return;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ::unlink(path.c_str());
  const mode_t old = ::umask(0177);
  const bool bound = ::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::umask(old);
  if (!bound || ::listen(listener.get(), 4) != 0) return;
  for (;;) {
    pollfd p[2] = {{pidfd.get(), POLLIN, 0}, {listener.get(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[0].revents) return;  // the init has ended
    if (p[1].revents & POLLIN) {
      UniqueFd client(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (client) send_fd(client.get(), console);
    }
  }
}

ExitStatus decode(int wstatus) {
  if (WIFSIGNALED(wstatus)) return {true, WTERMSIG(wstatus)};
  return {false, WEXITSTATUS(wstatus)};
}

}  // namespace

[[noreturn]] void shim_main(const SpawnSpec& spec, const InitFn& fn, int report_fd) {
  // Become the shim.
  ::setsid();
  ::prctl(PR_SET_NAME, "amber-shim", 0, 0, 0);
  // A subreaper: descendants orphaned outside the container's pid namespace
  // come back to the shim rather than to the host's init.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  if (::chdir("/") != 0) { /* keeps the old cwd; harmless */ }
  stdio_to_dev_null();
  std::vector<int> keep = spec.init_fds;
  keep.push_back(report_fd);
  if (spec.cgroup_fd >= 0) keep.push_back(spec.cgroup_fd);
  if (spec.console_fd >= 0) keep.push_back(spec.console_fd);
  close_other_fds(keep);

  // Create the init.
  sys::CloneSpec cs;
  cs.flags = spec.clone_flags;
  cs.cgroup_fd = spec.cgroup_fd;
  cs.set_tid = spec.set_tid;
  auto cloned = sys::clone3(cs);
  if (!cloned) {
    report_error(report_fd, std::move(cloned.error()).wrap("shim: start init"));
    ::_exit(1);
  }
  if (cloned->in_child()) {
    Status st = fn(report_fd);
    if (!st) {
      report_error(report_fd, st.error());
      ::_exit(1);
    }
    ::_exit(0);
  }

  // Hold no container fd: from here on the shim only waits.
  for (int fd : spec.init_fds) ::close(fd);
  if (spec.cgroup_fd >= 0) ::close(spec.cgroup_fd);
  // The reader may be gone already (amber run killed): EPIPE, not death.
  ::signal(SIGPIPE, SIG_IGN);
  report_pid(report_fd, cloned->pid);
  ::close(report_fd);
  if (spec.console_fd >= 0) {
    serve_console(spec.console_fd, spec.attach_path, cloned->pid);
    ::unlink(spec.attach_path.c_str());
  }

  // Wait for the init. When a pid namespace's init exits the kernel kills
  // the rest of the namespace and reports the init only after all are gone.
  int wstatus = 0;
  for (;;) {
    pid_t p = ::waitpid(-1, &wstatus, __WALL);
    if (p == cloned->pid) break;
    if (p < 0 && errno == ECHILD) ::_exit(1);  // cannot happen: the init is our child
  }
  // The state dir is gone if `amber kill` or a failed run already cleaned up.
  (void)write_file_atomic(spec.exit_status_path, format_exit_status(decode(wstatus)) + "\n");
  ::_exit(0);
}

}  // namespace amber::container
