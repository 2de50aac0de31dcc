// `amber exec`: run a command inside a running container.
#pragma once
#include <string>
#include <vector>

#include "base/log.h"
#include "base/result.h"

namespace amber::container {

struct ExecOptions {
  std::string name;
  std::vector<std::string> argv;
  std::vector<std::string> env;  // K=V, after PATH, HOME and the container's own --env
};

// Joins all the container's namespaces and its cgroup, runs argv there with
// the caller's stdio and cwd "/", and waits. Returns the status to exit with:
// the command's exit code, 128+N if signal N killed it, 127 if it was not
// found (126 if it could not be executed), with a message in the log.
// Unknown, stopped or frozen container: exit 2.
Result<int> exec_in_container(const ExecOptions& opts, Log& log);

}  // namespace amber::container
