// `amber dump`: checkpoint a running amber container into an image directory.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/faults.h"
#include "base/log.h"
#include "base/result.h"
#include "seal/leak.h"

namespace amber::dump {

// The steps of a dump a runtime waits for (amber swrk: CRIU's notify
// scripts "network-lock", "network-unlock", "post-dump"); an error from it
// fails the dump.
using DumpNotify = std::function<Status(const char* script)>;

struct DumpOptions {
  std::string name;            // the container (pid mode: only names it in messages)
  std::string dir;             // the image directory to create (must not exist)
  bool leave_running = false;  // release the container instead of killing it
  std::vector<seal::External> externals;  // --external: leaks the seal check accepts
  // --tcp-established: keep the established TCP connections of an external
  // net namespace (dump/externals.h); else they are refused by name. In pid
  // mode (a runtime's container: CRIU's tcp_established) every established
  // connection needs it.
  bool tcp_established = false;
  std::string key_file;        // --key: authenticate with this key, not the host's (image/auth.h)
  // A container amber did not start (amber swrk: a runtime's), by the host
  // pid of its init (the init of a pid namespace) instead of name's state:
  // no shim, no state directory; held by freeze_cgroup if given (v1 freezer
  // or v2), else as `amber check --pid` holds it.
  pid_t pid = 0;
  std::string root;           // pid mode: its root directory on the host ("" : the host's tree)
  std::string freeze_cgroup;  // pid mode
  DumpNotify notify;          // empty: nobody to tell
};

// Every step of the driver, in order (`amber dump --list-fault-points`).
// (std::to_array: the count follows the list.)
inline constexpr auto kFaultPoints = std::to_array<const char*>({
    "dump.create-image", "dump.hold",     "dump.seal-check", "dump.tree",        "dump.nested-ns", "dump.net-lock", "dump.tcp-repair", "dump.container", "dump.log",
    "dump.ipc",          "dump.sem-undo", "dump.net",      "dump.task",       "dump.threads",     "dump.sched",     "dump.pending",
    "dump.creds",        "dump.seccomp",  "dump.task-attrs", "dump.itimers",     "dump.posix-timers",     "dump.proc-fields", "dump.fds",
    "dump.mm",           "dump.fs-content", "dump.tree-plan", "dump.link-fds",   "dump.shmem",     "dump.write",
    "dump.commit",       "dump.finish",
});

// What `amber dump` prints when it is done.
struct DumpSummary {
  std::string name, dir;
  uint32_t processes = 0, threads = 0;
  uint64_t image_bytes = 0;  // every file of the image
  double total_ms = 0;       // the whole dump, cleanup included
  double frozen_ms = 0;      // from the freeze to the end of the kill or release
  double hold_ms = 0;        // holding the tree still (freeze, seize, thaw into ptrace stops)
  double memory_ms = 0;      // reading the tasks' memory into the image
  uint64_t pages_written = 0;  // pages of memory in the image
  uint64_t pages_shared = 0;   // pages recorded as the parent's (copy-on-write since a fork), not stored twice
};
// "dumped s1 to /tmp/i1: 7 processes (7 threads), 0.4 MiB in 41.2 ms, frozen 30.3 ms"
std::string format_summary(const DumpSummary& s);

// On success the image is complete and the container is gone (killed while
// still held) or, with leave_running, running on. On failure the container
// runs on exactly as before and no image directory exists.
Result<DumpSummary> dump_container(const DumpOptions& opts, Log& log, Faults& faults);

}  // namespace amber::dump
