// `amber kill` and `amber thaw`: acting on a container through its cgroup.
#pragma once
#include <string>

#include "base/log.h"
#include "base/result.h"

namespace amber::container {

// cgroup.kill (after a thaw), waits until no task of the container is left
// and its shim is gone, then removes its cgroup and state directory. A
// stopped container is just cleaned up. Unknown NAME: exit 2.
Status kill_container(const std::string& name, Log& log);

// Writes cgroup.freeze=0 and waits for cgroup.events to say frozen 0 (repairs
// a container a crashed dump left frozen). Returns whether it was frozen.
Result<bool> thaw_container(const std::string& name, Log& log);

}  // namespace amber::container
