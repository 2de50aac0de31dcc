// amber attach NAME: connects this terminal to the terminal of a container
// started with `amber run --tty`. The shim hands over the pty master
// (SCM_RIGHTS on <state dir>/attach.sock); this process relays: keys to the
// master (this terminal in raw mode), the master's output to stdout, window
// size changes (SIGWINCH, through a signalfd) to the master. Ctrl-P Ctrl-Q
// detaches, as with docker; the container's terminal closing ends it too.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <optional>

#include "base/files.h"
#include "sys/fd_pass.h"
#include "cli/verbs.h"
#include "container/paths.h"

namespace amber::cli {

namespace {

constexpr char kDetach1 = 0x10, kDetach2 = 0x11;  // Ctrl-P, Ctrl-Q

Result<UniqueFd> receive_master(const std::string& name) {
  if (!container::valid_name(name) || !path_exists(container::state_dir(name)))
    return bad_input("no container named {}", name);
  const std::string path = container::attach_socket(container::state_dir(name));
  if (!path_exists(path)) return bad_input("container {} has no terminal (amber run --tty) or has stopped", name);
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return sys_fail("socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return bad_input("{}: path too long for a unix socket", path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return sys_fail("container {}: connect to its terminal ({})", name, path);
  char byte;
  sys::Received r = TRY_CTX(sys::recv_with_fd(s.get(), &byte, 1), "container {}: receive its terminal", name);
  if (r.bytes != 1 || !r.fd) return failf("container {}: no terminal came from its shim", name);
  return std::move(r.fd);
}

// This terminal in raw mode for as long as it lives.
class RawMode {
 public:
  Status enter(int fd) {
    if (!::isatty(fd)) return {};
    if (::tcgetattr(fd, &saved_) != 0) return sys_fail("tcgetattr");
    termios raw = saved_;
    ::cfmakeraw(&raw);
    if (::tcsetattr(fd, TCSANOW, &raw) != 0) return sys_fail("tcsetattr");
    fd_ = fd;
    return {};
  }
  ~RawMode() {
    if (fd_ >= 0) ::tcsetattr(fd_, TCSANOW, &saved_);
  }

 private:
  int fd_ = -1;
  termios saved_{};
};

void forward_size(int master) {
  winsize ws{};
  if (::ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) (void)::ioctl(master, TIOCSWINSZ, &ws);
}

Status relay(int master) {
  sigset_t winch;
  sigemptyset(&winch);
  sigaddset(&winch, SIGWINCH);
  if (::sigprocmask(SIG_BLOCK, &winch, nullptr) != 0) return sys_fail("block SIGWINCH");
  UniqueFd sfd(::signalfd(-1, &winch, SFD_CLOEXEC));
  if (!sfd) return sys_fail("signalfd");
  RawMode raw;
  TRY(raw.enter(0));
  forward_size(master);
  bool stdin_open = true, saw_ctrl_p = false;
  char buf[4096];
  for (;;) {
    pollfd p[3] = {{master, POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0}, {sfd.get(), POLLIN, 0}};
    if (::poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return sys_fail("poll");
    }
    if (p[2].revents & POLLIN) {
      signalfd_siginfo si;
      (void)!::read(sfd.get(), &si, sizeof si);
      forward_size(master);
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n <= 0) return {};  // EIO: the container's side of the terminal is closed
      TRY_CTX(write_all(1, buf, static_cast<size_t>(n)), "stdout");
    }
    if (p[1].revents & (POLLIN | POLLHUP)) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n <= 0) {
        stdin_open = false;
        continue;
      }
      std::string out;
      for (ssize_t i = 0; i < n; ++i) {
        if (saw_ctrl_p) {
          saw_ctrl_p = false;
          if (buf[i] == kDetach2) return {};
          out.push_back(kDetach1);
        }
        if (buf[i] == kDetach1) {
          saw_ctrl_p = true;
          continue;
        }
        out.push_back(buf[i]);
      }
      if (!out.empty()) TRY_CTX(write_all(master, out.data(), out.size()), "the container's terminal");
    }
  }
}

}  // namespace

Action add_attach(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "attach", "Connect this terminal to the terminal of a container started with --tty (detach: Ctrl-P Ctrl-Q)");
  auto name = std::make_shared<std::string>();
  sub->add_option("name", *name, "Container name")->required();
  return [name](Context& ctx) {
    auto master = receive_master(*name);
    if (!master) return report(ctx, master.error());
    if (auto r = relay(master->get()); !r) return report(ctx, r.error());
    return 0;
  };
}

}  // namespace amber::cli
