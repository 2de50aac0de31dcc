// A process named by pid and start time (/proc/PID/stat field 22): a pid
// alone may have been reused by an unrelated process since it was recorded.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "base/result.h"
#include "base/unique_fd.h"

namespace amber::container {

struct ProcRef {
  pid_t pid = 0;
  uint64_t start_time = 0;  // clock ticks since boot
};

// The process `pid` is now.
Result<ProcRef> proc_ref(pid_t pid);

enum class Liveness { Alive, Zombie, Gone };
// Gone also when the pid now belongs to another process.
Liveness liveness(const ProcRef& p);

// A pidfd of exactly that process: the start time is checked after the pidfd
// is open, so the fd cannot refer to a successor. Gone: error with ESRCH.
Result<UniqueFd> open_pidfd(const ProcRef& p);

// Waits until the process has exited (as a zombie or reaped). Gone at once is fine.
Status wait_exited(const ProcRef& p, std::chrono::milliseconds timeout);

// The namespaces of a container: type -> inode of /proc/PID/ns/TYPE.
inline constexpr const char* kContainerNsTypes[] = {"pid", "uts", "ipc", "net", "mnt", "cgroup"};
Result<std::map<std::string, uint64_t>> container_ns_inodes(pid_t pid);

}  // namespace amber::container
