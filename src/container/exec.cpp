#include "container/exec.h"

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "container/command.h"
#include "container/proc_ref.h"
#include "container/report.h"
#include "container/spawn.h"
#include "container/state.h"
#include "sys/cgroup.h"
#include "sys/clone.h"

namespace amber::container {

namespace {

// The joiner: a fork of amber exec that enters the container's namespaces
// and clones the command into the container's pid namespace and cgroup.
// CLONE_PARENT makes the command amber exec's own child, so the joiner (a
// task in the container's namespaces but outside its cgroup) exits at once.
[[noreturn]] void joiner_main(int init_pidfd, int cgroup_fd, int report_fd, const std::vector<std::string>& argv,
                              const std::vector<std::string>& env) {
  // One setns with a pidfd enters all of them atomically; the pid namespace
  // applies to children only, hence the clone below.
  if (::setns(init_pidfd, kContainerNsFlags) != 0) {
    report_error(report_fd, sys_fail("join the namespaces of the init").error());
    ::_exit(1);
  }
  sys::CloneSpec cs;
  cs.flags = CLONE_PARENT;
  cs.exit_signal = 0;  // clone3 wants 0 with CLONE_PARENT: the child gets SIGCHLD like its new parent's children
  cs.cgroup_fd = cgroup_fd;
  auto c = sys::clone3(cs);
  if (!c) {
    report_error(report_fd, std::move(c.error()).wrap("start the command in the container"));
    ::_exit(1);
  }
  if (c->in_child()) {
    reset_signals();
    if (::chdir("/") != 0) {
      report_error(report_fd, sys_fail("chdir /").error());
      ::_exit(126);
    }
    Error e = exec_command(argv, env);
    report_error(report_fd, e);
    ::_exit(e.sys_errno == ENOENT || e.sys_errno == ENOTDIR ? 127 : 126);
  }
  report_pid(report_fd, c->pid);
  ::_exit(0);
}

int wait_status(pid_t pid) {
  int ws = 0;
  while (::waitpid(pid, &ws, 0) < 0)
    if (errno != EINTR) return 1;
  if (WIFSIGNALED(ws)) return 128 + WTERMSIG(ws);
  return WEXITSTATUS(ws);
}

// Like system(3): while the command runs, a ^C at the terminal is for it,
// not for amber exec (which would lose its exit status).
struct IgnoreInterrupts {
  struct sigaction old_int {}, old_quit {};
  IgnoreInterrupts() {
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGINT, &ign, &old_int);
    ::sigaction(SIGQUIT, &ign, &old_quit);
  }
  ~IgnoreInterrupts() {
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGQUIT, &old_quit, nullptr);
  }
};

}  // namespace

Result<int> exec_in_container(const ExecOptions& o, Log& log) {
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
  ReportPipe pipe = TRY(make_report_pipe());
  std::vector<std::string> extra = st.env;
  extra.insert(extra.end(), o.env.begin(), o.env.end());
  std::vector<std::string> env = command_env(extra);

  std::fflush(stdout);
  std::fflush(stderr);
  pid_t joiner = ::fork();
  if (joiner < 0) return sys_fail("fork");
  if (joiner == 0) joiner_main(pidfd->get(), cgfd.get(), pipe.write.get(), o.argv, env);
  pipe.write.reset();
  IgnoreInterrupts quiet;

  // Until the end of the pipe: the joiner's pid or error, the command's exec error.
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
  wait_status(joiner);
  if (cmd <= 0) {
    if (!err) err = Error{Exit::Failed, 0, "the helper joining the container died"};
    return std::unexpected(std::move(*err).wrap(fmt::format("container {}", o.name)));
  }
  int status = wait_status(cmd);
  if (err) log.error("container {}: {}", o.name, err->message);
  return status;
}

}  // namespace amber::container
