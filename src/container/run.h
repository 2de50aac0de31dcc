// `amber run`: start a command as the init of a new container.
#pragma once
#include <string>
#include <vector>

#include "base/log.h"
#include "base/result.h"
#include "base/unique_fd.h"

namespace amber::container {

struct RunOptions {
  std::string name;      // "" → generated (amber-xxxxxx)
  std::string hostname;  // "" → the name
  std::string rootfs;    // "" → the host's tree
  std::vector<std::string> env;   // K=V, after PATH and HOME
  std::vector<std::string> argv;  // the command
  // A terminal: the init's stdio and controlling terminal is the slave of a
  // pty whose master the shim keeps (`amber attach`); no log then.
  bool tty = false;
  // "none" (lo only), "veth" or "veth=ADDR/PREFIX": a veth pair to the host
  // (kinds/ns/net_host.h); "host": no net namespace of its own (a leak the
  // seal check reports: `amber dump --external net`).
  std::string net = "none";
  // "private" (default) or "host": the uts / ipc namespace is amber's own
  // (the host's), a leak like --net host.
  std::string uts = "private";
  std::string ipc = "private";
  std::vector<std::string> publish;  // "HOSTPORT:CTRPORT", with --net veth
};

// Returns the container's name once its command runs (execve succeeded). On
// failure nothing is left: no process, cgroup, mount or state directory.
// A missing rootfs or command is exit 2, a name in use too.
Result<std::string> run_container(const RunOptions& opts, Log& log);

// Pieces `amber restore` shares with `amber run`:
// <cgroup root>/NAME, made (an empty leftover of a crash is reused).
Result<std::string> make_container_cgroup(const std::string& root, const std::string& name);
// <state dir>/log, O_WRONLY | O_APPEND: the init's stdout and stderr.
Result<UniqueFd> open_container_log(const std::string& state_dir);
std::string now_rfc3339();

}  // namespace amber::container
