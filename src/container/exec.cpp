#include "container/exec.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <ctime>

#include "base/files.h"
#include "container/command.h"
#include "container/paths.h"
#include "container/proc_ref.h"
#include "container/report.h"
#include "container/spawn.h"
#include "container/state.h"
#include "sys/cgroup.h"
#include "sys/clone.h"

namespace amber::container {

namespace {

// What the command's own process needs to set itself up before its execve.
struct CommandSpec {
  const std::vector<std::string>& argv;
  const std::vector<std::string>& env;
  int report_fd;
  int preserve_fds;
  int log_fd;  // detached: the container's log, for stdout and stderr; -1 attached
};

// Puts `from` at fd `to`, open across the execve (dup2 onto itself would
// leave its close-on-exec flag set).
bool place_fd(int from, int to) {
  if (from == to) return ::fcntl(to, F_SETFD, 0) == 0;
  return ::dup2(from, to) == to;
}

// Detached stdio as the init's: stdin a fresh open of the container's
// /dev/null, stdout and stderr one O_APPEND description of the log.
Status detached_stdio(int log_fd) {
  UniqueFd null = TRY(open_fd("/dev/null", O_RDONLY));
  // Above 0-2 first: either could be the very fd that is replaced.
  int log = ::fcntl(log_fd, F_DUPFD_CLOEXEC, 3);
  if (log < 0) return sys_fail("dup the container's log");
  UniqueFd log_copy(log);
  if (!place_fd(null.get(), 0)) return sys_fail("stdin /dev/null");
  if (!place_fd(log, 1) || !place_fd(log, 2)) return sys_fail("stdout and stderr on the container's log");
  return {};
}

// What amber exec exits with when the command could not be exec'd.
int exec_failure_status(const Error& e) { return e.sys_errno == ENOENT || e.sys_errno == ENOTDIR ? 127 : 126; }

// The command's process, in the container's namespaces and cgroup.
[[noreturn]] void command_main(const CommandSpec& c) {
  reset_signals();
  // A session (and group) of its own: the caller's are outside the
  // container's pid namespace (0 there), and a process the command leaves
  // behind would keep them, which no restore can recreate.
  if (::setsid() < 0) {
    report_error(c.report_fd, sys_fail("setsid").error());
    ::_exit(126);
  }
  if (c.log_fd >= 0) {
    if (auto s = detached_stdio(c.log_fd); !s) {
      report_error(c.report_fd, s.error());
      ::_exit(126);
    }
  }
  if (::chdir("/") != 0) {
    report_error(c.report_fd, sys_fail("chdir /").error());
    ::_exit(126);
  }
  // Nothing of the caller's but 0-2 and the fds it asked to pass: a shell's
  // fd 10 or a pipe end would be shared with the outside (a seal-check leak).
  // CLOEXEC, not closed now: the report pipe must stay open until the exec.
  const unsigned first = static_cast<unsigned>(3L + c.preserve_fds);
  if (::syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    report_error(c.report_fd, sys_fail("close_range {}..", first).error());
    ::_exit(126);
  }
  Error e = exec_command(c.argv, c.env);
  report_error(c.report_fd, e);
  ::_exit(exec_failure_status(e));
}

int wait_status(pid_t pid) {
  int ws = 0;
  while (::waitpid(pid, &ws, 0) < 0)
    if (errno != EINTR) return 1;
  if (WIFSIGNALED(ws)) return 128 + WTERMSIG(ws);
  return WEXITSTATUS(ws);
}

// Detached: a stub in the container forks the command and exits, so the
// command is orphaned inside the container's pid namespace and the kernel
// makes it a child of the container's init (an orphan goes to the reaper of
// its dead parent's pid namespace; amber exec's would be a host process).
// The stub waits until the command has exec'd, over a report pipe of its
// own: a command whose exec failed is reaped here, not left as a zombie to
// an init that may never reap it.
[[noreturn]] void stub_main(const CommandSpec& c) {
  auto own = make_report_pipe();
  if (!own) {
    report_error(c.report_fd, own.error());
    ::_exit(1);
  }
  CommandSpec cmd = c;
  cmd.report_fd = own->write.get();
  auto child = sys::clone3(sys::CloneSpec{});
  if (!child) {
    report_error(c.report_fd, std::move(child.error()).wrap("start the command in the container"));
    ::_exit(1);
  }
  if (child->in_child()) command_main(cmd);
  own->write.reset();
  for (;;) {
    auto r = read_report(own->read.get());
    if (!r || r->kind == Report::Kind::Error) {
      Error e = r ? std::move(r->error) : std::move(r.error());
      report_error(c.report_fd, e);
      wait_status(child->pid);
      ::_exit(exec_failure_status(e));
    }
    if (r->kind == Report::Kind::End) break;
  }
  report_pid(c.report_fd, child->pid);  // its pid in the container: the stub is in its pid namespace
  ::_exit(0);
}

// The joiner: a fork of amber exec that enters the container's namespaces
// and clones into the container's pid namespace and cgroup. Attached, the
// command itself, with CLONE_PARENT: it is amber exec's own child, so the
// joiner (a task in the container's namespaces but outside its cgroup)
// exits at once. Detached, the stub, which the joiner waits for.
[[noreturn]] void joiner_main(int init_pidfd, int cgroup_fd, bool detach, const CommandSpec& c) {
  // One setns with a pidfd enters all of them atomically; the pid namespace
  // applies to children only, hence the clone below.
  if (::setns(init_pidfd, kContainerNsFlags) != 0) {
    report_error(c.report_fd, sys_fail("join the namespaces of the init").error());
    ::_exit(1);
  }
  sys::CloneSpec cs;
  cs.cgroup_fd = cgroup_fd;
  if (!detach) {
    cs.flags = CLONE_PARENT;
    cs.exit_signal = 0;  // clone3 wants 0 with CLONE_PARENT: the child gets SIGCHLD like its new parent's children
  }
  auto child = sys::clone3(cs);
  if (!child) {
    report_error(c.report_fd, std::move(child.error()).wrap("start the command in the container"));
    ::_exit(1);
  }
  if (child->in_child()) {
    if (detach) stub_main(c);
    command_main(c);
  }
  if (!detach) {
    report_pid(c.report_fd, child->pid);  // its host pid, for amber exec to wait on
    ::_exit(0);
  }
  ::_exit(wait_status(child->pid));
}

// Attached, amber exec stands for the command, which is in a session of its
// own: a ^C at the terminal, a SIGTERM or a hangup reaches amber exec's
// group only, so amber exec passes it on (as runc's signal proxy does).
// Blocked from before the fork, so none is lost before the command exists.
class SignalForwarder {
 public:
  SignalForwarder() {
    sigemptyset(&set_);
    for (int sig : {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD}) sigaddset(&set_, sig);
    ::sigprocmask(SIG_BLOCK, &set_, &old_);
  }
  ~SignalForwarder() {
    // What came after the command ended was for it: dropped, not acted on.
    timespec zero{};
    while (::sigtimedwait(&set_, nullptr, &zero) > 0) {
    }
    ::sigprocmask(SIG_SETMASK, &old_, nullptr);
  }
  SignalForwarder(const SignalForwarder&) = delete;
  SignalForwarder& operator=(const SignalForwarder&) = delete;

  // Forwards every signal but SIGCHLD to `cmd` (amber exec's unreaped child,
  // so its pid cannot be reused meanwhile) until it ends; its exit status.
  int wait(pid_t cmd) {
    for (;;) {
      int ws = 0;
      pid_t r = ::waitpid(cmd, &ws, WNOHANG);
      if (r == cmd) return WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : WEXITSTATUS(ws);
      if (r < 0 && errno != EINTR) return 1;
      siginfo_t si{};
      int sig = ::sigwaitinfo(&set_, &si);
      if (sig > 0 && sig != SIGCHLD) ::kill(cmd, sig);
    }
  }

 private:
  sigset_t set_{}, old_{};
};

// Before amber opens anything: fds 3..3+n-1 must be the caller's. amber's
// own fds (--log-file) are close-on-exec; one the caller passed is not (it
// came through the caller's execve).
Status check_preserved_fds(int n) {
  if (n < 0) return bad_input("--preserve-fds {}: not a number of fds", n);
  for (long fd = 3; fd < 3L + n; ++fd) {
    int flags = ::fcntl(static_cast<int>(fd), F_GETFD);
    if (flags < 0) return bad_input("--preserve-fds {}: fd {} is not open", n, fd);
    if (flags & FD_CLOEXEC) return bad_input("--preserve-fds {}: fd {} is amber's own, not one passed to it", n, fd);
  }
  return {};
}

}  // namespace

Result<ExecOutcome> exec_in_container(const ExecOptions& o, Log& log) {
  TRY(check_preserved_fds(o.preserve_fds));
  if (o.argv.empty()) return bad_input("no command given (amber exec NAME -- CMD [ARGS...])");
  for (const auto& kv : o.env) TRY(check_env_entry(kv));
  ContainerState st = TRY(load_state(o.name));
  LiveStatus live = live_status(st);
  if (live.kind == LiveStatus::Kind::Stopped)
    return bad_input("container {} is {}: nothing to exec in (amber kill {} removes it)", o.name, live.text(),
                     o.name);
  if (live.kind == LiveStatus::Kind::Frozen)
    return bad_input("container {} is frozen (amber thaw {} resumes it)", o.name, o.name);

  auto pidfd = open_pidfd(st.init);
  if (!pidfd && pidfd.error().sys_errno == ESRCH) return bad_input("container {} is stopped", o.name);
  if (!pidfd) return std::unexpected(std::move(pidfd.error()).wrap(fmt::format("container {}: init", o.name)));
  UniqueFd cgfd = TRY_CTX(sys::cgroup_open(st.cgroup), "container {}", o.name);
  UniqueFd logfd;
  if (o.detach) logfd = TRY_CTX(open_fd(log_file(state_dir(o.name)), O_WRONLY | O_APPEND), "container {}", o.name);
  ReportPipe pipe = TRY(make_report_pipe());
  std::vector<std::string> extra = st.env;
  extra.insert(extra.end(), o.env.begin(), o.env.end());
  std::vector<std::string> env = command_env(extra);
  const CommandSpec spec{o.argv, env, pipe.write.get(), o.preserve_fds, logfd.get()};

  std::optional<SignalForwarder> forward;
  if (!o.detach) forward.emplace();
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t joiner = ::fork();
  if (joiner < 0) return sys_fail("fork");
  if (joiner == 0) joiner_main(pidfd->get(), cgfd.get(), o.detach, spec);
  pipe.write.reset();

  // Until the end of the pipe: the command's pid (attached: on the host;
  // detached: in the container) or the joiner's error, the command's exec error.
  pid_t cmd = 0;
  std::optional<Error> err;
  for (;;) {
    auto r = read_report(pipe.read.get());
    if (!r) {
      err = std::move(r.error());
      break;
    }
    if (r->kind == Report::Kind::End) break;
    if (r->kind == Report::Kind::Pid) cmd = r->pid;
    if (r->kind == Report::Kind::Error && !err) err = std::move(r->error);
  }
  int joiner_status = wait_status(joiner);
  if (o.detach && err && cmd <= 0 && joiner_status >= 126) {
    // The command's exec failed (the stub reaped it): the status of a
    // command that could not run.
    log.error("container {}: {}", o.name, err->message);
    return ExecOutcome{joiner_status, 0};
  }
  if (cmd <= 0) {
    if (!err) err = Error{Exit::Failed, 0, "the helper joining the container died"};
    return std::unexpected(std::move(*err).wrap(fmt::format("container {}", o.name)));
  }
  if (o.detach) return ExecOutcome{0, cmd};
  int status = forward->wait(cmd);
  if (err) log.error("container {}: {}", o.name, err->message);
  return ExecOutcome{status, 0};
}

}  // namespace amber::container
