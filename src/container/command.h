// The command a container runs (its init, or one started by `amber exec`):
// the environment rules and the execve that ends amber's code in the child.
#pragma once
#include <string>
#include <vector>

#include "base/result.h"

namespace amber::container {

inline constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// PATH and HOME=/root, then each K=V of `extra` in order (a later K replaces
// an earlier one, so --env PATH=... works). Nothing of amber's environment.
std::vector<std::string> command_env(const std::vector<std::string>& extra);
// "K=V" with a non-empty K without '=': exit 2 otherwise.
Status check_env_entry(const std::string& kv);

// execvp with exactly `env` (PATH from `env` is used for the search). Returns
// only on failure: a missing command is exit 2 with "command not found"
// (sys_errno ENOENT), anything else exit 1.
Error exec_command(const std::vector<std::string>& argv, const std::vector<std::string>& env);

// Every signal back to its default disposition, an empty signal mask: what
// amber ignored or blocked must not leak into the container's processes.
void reset_signals();

// "sh -c 'exit 7'" style, for messages and `amber ps`.
std::string join_command(const std::vector<std::string>& argv);

}  // namespace amber::container
