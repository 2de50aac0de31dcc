// `amber run`: start a command as the init of a new container.
#pragma once
#include <string>
#include <vector>

#include "base/log.h"
#include "base/result.h"

namespace amber::container {

struct RunOptions {
  std::string name;      // "" → generated (amber-xxxxxx)
  std::string hostname;  // "" → the name
  std::string rootfs;    // "" → the host's tree
  std::vector<std::string> env;   // K=V, after PATH and HOME
  std::vector<std::string> argv;  // the command
};

// Returns the container's name once its command runs (execve succeeded). On
// failure nothing is left: no process, cgroup, mount or state directory.
// A missing rootfs or command is exit 2, a name in use too.
Result<std::string> run_container(const RunOptions& opts, Log& log);

}  // namespace amber::container
