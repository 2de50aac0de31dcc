// Net namespace of the container. amber restores a fresh net namespace with
// lo in its saved state (up or down, MTU); everything else a fresh namespace
// does not have — links but lo, addresses, routes, rules, neighbours, net
// sysctls whose value differs, nftables tables, legacy iptables tables — is
// refused by name (not supported yet), never dropped.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <memory>

#include "base/result.h"
#include "ns.pb.h"

namespace amber::kinds {

// A fresh net namespace the dump compares the container's with, made and
// read by a thread of its own from the start of the dump, outside the time
// the container is held: it depends on the container only through lo's
// state, guessed as amber run leaves it (up, MTU 65536).
class FreshNetns;
struct FreshNetnsDeleter {
  void operator()(FreshNetns* f) const;
};
using FreshNetnsPtr = std::unique_ptr<FreshNetns, FreshNetnsDeleter>;
inline constexpr uint32_t kNewLoopbackMtu = 65536;  // drivers/net/loopback.c
FreshNetnsPtr start_fresh_netns();

// Reads `pid`'s net namespace from a thread that joins it and compares it
// with a fresh net namespace whose lo is in the state the restore will give
// it: `started` if its guess was right (nullptr: none), else one made then.
// Unsupported (exit 4) for the first difference.
Result<img::NetNs> dump_net(pid_t pid, FreshNetns* started);

// Brings the calling thread's (the restored init's) lo into the saved state
// and checks it.
Status restore_net(const img::NetNs& net);

}  // namespace amber::kinds
