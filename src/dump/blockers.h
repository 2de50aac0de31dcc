// One report of everything that blocks a dump: every object of a held
// container amber cannot dump yet — fds, mappings, ipc
// objects, tasks it cannot recreate — named all at once (task by its pid
// inside the container), not the first one met. `amber check` prints it
// (exit 4 for a sealed container that holds any); `amber dump` runs it
// before it reads anything, so a user learns everything in one try.
//
// It reads /proc and fdinfo only (no remote calls, no data). The dump's own
// refusals stay where they are: a refusal this scan does not know of still
// stops the dump, by name, when it is met.
#pragma once
#include <string>
#include <vector>

#include "base/result.h"
#include "dump/externals.h"
#include "kinds/blockers.h"
#include "kinds/files/fdtable.h"
#include "kinds/ns/mounts.h"
#include "seal/leak.h"
#include "kinds/tree.h"
#include "ns.pb.h"

namespace amber::dump {

// What the scan knows besides the tree (BlockerScan::externals and the
// rest: none by default).
struct BlockerScan {
  // The declared externals (dump/externals.h): their fds and namespaces
  // are not dumped, and what the dump refuses about them is named.
  const Declared* externals = nullptr;
  bool tcp_established = false;  // --tcp-established
  // A runtime's container (amber swrk, CRIU's protocol): its connected TCP
  // sockets are dumped only if the runtime asks (tcp_established), wherever
  // they are, as CRIU does; else each is refused by name.
  bool runtime = false;
  // The net namespace as the dump reads it (kinds::dump_net, a trial
  // restore included), unless external: `amber check`; the dump reads it
  // for real later and names its refusal then. `host`: its host link.
  bool net = false;
  const img::HostLink* host = nullptr;
};

// `log_path`: the container's log as amber reaches it ("" for a process
// tree amber did not start): fds on it are the container's own stdio.
// `console`: the container's console (--tty), nullptr: none. `mounts`: the
// scope to check its mount table in (mount_scope), nullptr: not a container
// of amber's (mounts not scanned).
// Failed (not Unsupported) only if /proc could not be read.
Result<kinds::Blockers> find_blockers(const std::vector<kinds::TreeTask>& tree, const std::string& log_path,
                                      const kinds::ConsoleRef* console = nullptr,
                                      const kinds::MountScope* mounts = nullptr, const BlockerScan& scan = {});

// The mount scope of an amber container: its recorded rootfs ("" for the
// host's tree) and the mount points declared `--external mount:PATH`.
kinds::MountScope mount_scope(const std::string& rootfs, const std::vector<seal::External>& externals);

// The process tree of a held container (kinds::collect_tree) and the
// checks on it a dump makes first; their refusal is kept as one blocker
// (nothing more can be scanned without the tree): then the tree is empty.
Result<std::vector<kinds::TreeTask>> tree_or_blocker(const std::map<pid_t, std::vector<pid_t>>& held, pid_t init,
                                                      kinds::Blockers& out);

}  // namespace amber::dump
