// `amber exec`: run a command inside a running container.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "base/log.h"
#include "base/result.h"

namespace amber::container {

struct ExecOptions {
  std::string name;
  std::vector<std::string> argv;
  std::vector<std::string> env;  // K=V, after PATH, HOME and the container's own --env
  // Detached: stdin /dev/null, stdout and stderr the container's log, a child
  // of the container's init; amber exec returns once it runs.
  bool detach = false;
  // The caller's fds 3 .. 3+preserve_fds-1 are passed on; every other fd but
  // 0-2 is closed (as runc's --preserve-fds).
  int preserve_fds = 0;
};

// Joins all the container's namespaces and its cgroup and runs argv there,
// cwd "/", in a session of its own (so that its session and process group
// are inside the container and a dump can recreate them).
// Attached: with the caller's stdio; forwards the signals amber exec gets
// (a ^C at the terminal) and waits. Returns the status to exit with: the
// command's exit code, 128+N if signal N killed it, 127 if it was not found
// (126 if it could not be executed), with a message in the log.
// Detached: prints the command's pid inside the container and returns 0
// once it runs (127/126 as above if its exec failed).
// Unknown, stopped or frozen container, a --preserve-fds fd that is not
// open: exit 2.
struct ExecOutcome {
  int status = 0;             // what amber exec exits with
  pid_t detached_pid = 0;     // detached and started: its pid in the container
};
Result<ExecOutcome> exec_in_container(const ExecOptions& opts, Log& log);

}  // namespace amber::container
