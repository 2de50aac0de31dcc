#include "container/spawn.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "base/files.h"
#include "container/report.h"
#include "container/shim.h"
#include "sys/clone.h"

namespace amber::container {

namespace {

// SpawnSpec.sibling: the caller clones the init (CLONE_PARENT) and keeps
// its own fds; the init runs `fn` as under a shim.
Result<Spawned> spawn_sibling(const SpawnSpec& spec, const InitFn& fn) {
  ReportPipe pipe = TRY(make_report_pipe());
  std::fflush(stdout);
  std::fflush(stderr);
  sys::CloneSpec cs;
  cs.flags = spec.clone_flags | CLONE_PARENT;
  // clone3 refuses an exit signal with CLONE_PARENT: the child's is the
  // caller's own (SIGCHLD to the runtime that forked amber).
  cs.exit_signal = 0;
  cs.cgroup_fd = spec.cgroup_fd;
  cs.set_tid = spec.set_tid;
  auto cloned = TRY_CTX(sys::clone3(cs), "start init");
  if (cloned.in_child()) {
    pipe.read.reset();
    Status st = fn(pipe.write.get());
    if (!st) {
      report_error(pipe.write.get(), st.error());
      ::_exit(1);
    }
    ::_exit(0);
  }
  pipe.write.reset();
  Spawned s;
  s.init_pid = cloned.pid;
  s.report = std::move(pipe.read);
  return s;
}

}  // namespace

Result<Spawned> spawn_init(const SpawnSpec& spec, InitFn fn) {
  if (spec.sibling) return spawn_sibling(spec, fn);
  ReportPipe pipe = TRY(make_report_pipe());
  // The shim is a fork of amber: unflushed output would be printed twice.
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t shim = ::fork();
  if (shim < 0) return sys_fail("fork shim");
  if (shim == 0) shim_main(spec, fn, pipe.write.get());
  pipe.write.reset();

  Spawned s;
  s.shim_pid = shim;
  s.report = std::move(pipe.read);
  auto r = read_report(s.report.get());
  if (r && r->kind == Report::Kind::Pid) {
    s.init_pid = r->pid;
    return s;
  }
  Error e = !r                                ? std::move(r.error())
            : r->kind == Report::Kind::Error ? std::move(r->error)
                                              : Error{Exit::Failed, 0, "the shim exited before starting the init"};
  abort_spawned(s, spec.cgroup_fd);
  return std::unexpected(std::move(e));
}

Status wait_init_started(Spawned& s) {
  for (;;) {
    Report r = TRY(read_report(s.report.get()));
    if (r.kind == Report::Kind::End) return {};
    if (r.kind == Report::Kind::Error) return std::unexpected(std::move(r.error));
  }
}

void abort_spawned(Spawned& s, int cgroup_fd) {
  bool killed = false;
  if (cgroup_fd >= 0) {
    int fd = ::openat(cgroup_fd, "cgroup.kill", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      killed = ::write(fd, "1", 1) == 1;
      ::close(fd);
    }
  }
  if (!killed && s.init_pid > 0) ::kill(s.init_pid, SIGKILL);
  if (s.shim_pid > 0) {
    // The shim exits right after it has reaped the init.
    while (::waitpid(s.shim_pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    s.shim_pid = 0;
  }
  s.report.reset();
}

std::string format_exit_status(const ExitStatus& s) {
  return fmt::format("{} {}", s.signaled ? "signal" : "exit", s.code);
}

Result<ExitStatus> parse_exit_status(std::string_view text) {
  auto f = split_ws(trim(text));
  std::optional<int64_t> n;
  if (f.size() == 2) n = parse_int(f[1]);
  if (!n || *n < 0 || *n > 255 || (f[0] != "exit" && f[0] != "signal"))
    return bad_input("bad exit status '{}'", trim(text));
  return ExitStatus{f[0] == "signal", static_cast<int>(*n)};
}

}  // namespace amber::container
