// Declared externals at dump (DESIGN.md "The principle", 3): a leak the
// user accepted with `--external SPEC` is not dumped; the image records
// the external (Container.externals) and `amber restore --external` gives
// it back (src/restore/externals.h). What amber can give back:
//   net, uts, ipc   the namespace: the restored init joins the one named at
//                   restore instead of making its own; nothing of it is dumped
//   pipe:INODE, fifo:PATH, file:PATH
//                   the open file description the container shares with an
//                   outside task: its fds are recorded as FD_EXTERNAL and get
//                   the description handed in at restore (`=fd:N`)
// Anything else a declared external accepts (a pid, mnt, cgroup, user or
// time namespace, a unix socket, a shm segment, a shared mapping, a mount)
// is refused by name: amber could not give it back.
//
// An external net namespace keeps the container's established TCP
// connections only with `--tcp-established` (as CRIU users expect): the
// connections then live in a namespace amber does not own. An external ipc
// namespace is refused while a task uses its objects (SysV shm attached,
// SEM_UNDO adjustments, POSIX message queue fds): their state is the
// namespace's, which the image does not hold.
#pragma once
#include <sys/types.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "container.pb.h"
#include "kinds/blockers.h"
#include "kinds/tree.h"
#include "seal/leak.h"

namespace amber::dump {

struct Declared {
  std::vector<seal::External> image;  // recorded in container.img, in the order first met
  // Container fds on a declared external description: (host pid, fd) -> SPEC.
  std::map<std::pair<pid_t, int>, std::string> fds;
  bool has_ns(std::string_view type) const;
  // The fds of one task (FdDumpContext::externals).
  std::map<int, std::string> fds_of(pid_t pid) const;
};

// The externals the seal check's accepted leaks declare; each one amber
// cannot give back is kept in `out` (Unsupported, named) and left out.
Declared declared_externals(const std::vector<seal::Leak>& leaks, kinds::Blockers& out);

// What the dump refuses about the declared externals' use (each kept in
// `out`): established TCP connections in an external net namespace without
// `tcp_established`; objects of an external ipc namespace in use.
Status find_external_blockers(const std::vector<kinds::TreeTask>& tree, const Declared& d, bool tcp_established,
                              kinds::Blockers& out);

// Every connected TCP socket of the tasks (any state but LISTEN and
// CLOSE), each description once, kept in `out` as "task VPID: fd N: TCP
// LOCAL -> PEER" and `why`.
Status refuse_connected_tcp(const std::vector<kinds::TreeTask>& tree, std::string_view why, kinds::Blockers& out);

// Writes the declared externals into the container's record (and marks
// its namespace references external).
void record_externals(const Declared& d, img::Container& c);

}  // namespace amber::dump
