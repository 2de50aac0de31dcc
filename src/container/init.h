// The init of a container started by `amber run`: runs as the InitFn of
// spawn_init, inside the new namespaces, and ends by exec'ing the command.
#pragma once
#include <string>
#include <vector>

#include "base/result.h"

namespace amber::container {

struct InitConfig {
  std::string hostname;
  std::string rootfs;  // absolute; "" = keep the host's tree (with own /proc, /dev, /tmp)
  int log_fd = -1;     // O_APPEND description of <state dir>/log: becomes stdout and stderr
  // Read end of `amber run`'s go pipe: one byte once the state is recorded
  // (the init must not exit before amber run has read its namespaces);
  // end-of-file means amber run gave up.
  int go_fd = -1;
  // `amber run --tty`: the terminal's slave, the init's stdio and
  // controlling terminal instead of /dev/null and the log. -1: none.
  int tty_fd = -1;
  std::vector<std::string> argv;
  std::vector<std::string> env;  // complete environment (see command_env)
  // false: the namespace is the host's (amber run --uts host, --net host):
  // no hostname is set, lo is left as it is.
  bool own_uts = true;
  bool own_net = true;
};

// Returns only on failure, with the step that failed in the message.
Status run_init(const InitConfig& c);

// The file system every amber container gets, in a fresh mount namespace:
// mounts made private first, own /proc, minimal /dev (+ /dev/pts, /dev/shm),
// tmpfs /tmp; with a rootfs, the same inside it, then pivot_root into it.
// Shared by `amber run` and `amber restore`.
Status setup_container_fs(const std::string& rootfs);
// The directories setup_container_fs mounts on (proc, dev, tmp) must exist in
// the rootfs as real directories: amber never creates anything in a user's
// tree (a rootfs that is a link to /etc got /etc/proc, /etc/dev, /etc/tmp),
// and a symlink there would be followed into the host's tree. Exit 2 naming
// the missing one. `rootfs` is resolved; `shown` is how the user named it.
Status check_mount_points(const std::string& rootfs, const std::string& shown);
// Brings "lo" up (a new net namespace has it down).
Status loopback_up();

}  // namespace amber::container
