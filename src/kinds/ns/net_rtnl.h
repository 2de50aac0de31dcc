// Internal to the net namespace kind (net.cpp): a namespace's links,
// addresses, routes, rules and neighbour entries as records of the image
// (read by the calling thread in its namespace), and made again from them.
#pragma once
#include <set>
#include <string>

#include "base/result.h"
#include "ns.pb.h"

namespace amber::kinds::net {

// Fills `out`'s links (every one but lo), addresses, routes (not the
// kernel's own), rules (all) and neighbours (set by hand, proxy entries).
// A link amber cannot make again is unsupported (exit 4), by name;
// `host_link`: the name of the container's end of `amber run --net veth`
// ("" if none), whose peer is on the host.
Status read_records(img::NetNs& out, const std::string& host_link);

// One line per route message as the kernel dumps them (libnl's route
// cache would merge IPv6 routes of one prefix into one multipath route).
Status read_route_lines(std::multiset<std::string>& out);

// The links, down, with their saved ifindex, name, MTU, MAC and queue
// length. `host_ns` >= 0: the host link's peer is made there, named as
// `out.host().host_name()`; -1 (a trial at dump): inside, under a name of
// its own.
Status create_links(const img::NetNs& n, int host_ns);
// Flags (up, promisc...) of the links made by create_links; `trial`: the
// host link's stand-in peer up too.
Status set_link_flags(const img::NetNs& n, bool trial);
// Addresses (replacing the kernel's own on lo and IPv6 link-local ones),
// routes (in as many rounds as gateways need), rules (the fresh
// namespace's defaults replaced by the saved ones), neighbour entries.
// `nodad` (the dump's trial): IPv6 ones without duplicate address
// detection, which would keep them tentative, and their local routes
// missing, for a second or two while the container is held.
Status replay_addresses(const img::NetNs& n, bool nodad);
// An RTM_NEWADDR payload with IFA_F_NODAD set, if IPv6 (unit-tested).
std::string with_nodad(std::string payload);
Status replay_routes(const img::NetNs& n);
Status replay_rules(const img::NetNs& n);
Status replay_neighbours(const img::NetNs& n);

}  // namespace amber::kinds::net
