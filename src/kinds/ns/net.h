// Net namespace of the container, dumped and restored whole: lo's state,
// links (dummy, veth pairs inside, the host link of `amber run --net
// veth`), addresses, routes, rules, neighbour entries set by hand, the
// sysctls that differ from a fresh namespace's and the nftables ruleset.
// The dump proves the image restores: it restores it into a fresh namespace
// of its own and compares; what does not come back the same (another link
// kind, a nexthop object, a legacy iptables table, a link attribute amber
// does not set) is refused by name (exit 4), never dropped.
#pragma once
#include <sys/types.h>

#include "base/result.h"
#include "ns.pb.h"

namespace amber::kinds {

// Reads `pid`'s net namespace from a thread that joins it. `host`: the
// container's host link (amber run --net veth), nullptr if none.
Result<img::NetNs> dump_net(pid_t pid, const img::HostLink* host);

// Makes the saved namespace in the calling thread's (the restored init's,
// fresh) net namespace and checks it against the image. `host_ns`: an fd of
// the host's net namespace where the host link's peer is made (-1: none).
// `sysctl_dir`: /proc/sys/net of a procfs mounted read-write, opened by the
// calling thread before the container's mount table hid it: a runtime's
// layout (runc's default spec, podman) binds /proc/sys read-only. Each
// lookup under it resolves in the calling thread's net namespace.
Status restore_net(const img::NetNs& net, int host_ns, int sysctl_dir);

}  // namespace amber::kinds
