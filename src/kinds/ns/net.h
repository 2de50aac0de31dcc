// Net namespace of the container. amber restores a fresh net namespace with
// lo in its saved state (up or down, MTU); everything else a fresh namespace
// does not have — links but lo, addresses, routes, rules, neighbours, net
// sysctls whose value differs, nftables tables, legacy iptables tables — is
// refused by name (not supported yet), never dropped.
#pragma once
#include <sys/types.h>

#include "base/result.h"
#include "ns.pb.h"

namespace amber::kinds {

// Reads `pid`'s net namespace from a thread that joins it and compares it
// with a fresh net namespace (unshared by another thread, lo brought into
// the same state the restore will give it). Unsupported (exit 4) for the
// first difference.
Result<img::NetNs> dump_net(pid_t pid);

// Brings the calling thread's (the restored init's) lo into the saved state
// and checks it.
Status restore_net(const img::NetNs& net);

}  // namespace amber::kinds
